"""What an accelerator pod needs to land on its nodes, in either cluster mode, and what Autopilot refuses in a pod.

Pure (imports nothing from Pulumi) and rendered as Kubernetes JSON, so core pod templates and custom resources
(RayService worker groups, JobSet pods) get the same selectors, tolerations and resources from the catalog.

On Standard the node pool already is the slice (or GPU shape), its Spot VMs and its reservation: pods select the
slice's labels and claim its chips. On Autopilot there is no pool: the same labels and chips make GKE provision
the node, and Spot, a reservation or a zone become node selectors of the pod.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gke_tpu_serving.catalog import ClusterMode, GpuAcceleratorType, TpuSlice, is_zone
from gke_tpu_serving.cluster.compute_class import COMPUTE_CLASS_LABEL
from gke_tpu_serving.cluster.obtainability import SPOT_FROM_RESERVATION
from gke_tpu_serving.cluster.plan import GpuPoolPlan, TpuPoolPlan
from gke_tpu_serving.errors import ArgError, PathPart, require_enum
from gke_tpu_serving.names import check_dns_label

# Autopilot gives a container 1 GiB of ephemeral storage unless it asks for more, and evicts a pod that writes more;
# the compiled programs of a model (and a GCS FUSE file cache on disk) take a few GiB.
AUTOPILOT_EPHEMERAL_STORAGE = "50Gi"
GPU_LABEL = "cloud.google.com/gke-accelerator"
SPOT_LABEL = "cloud.google.com/gke-spot"
RESERVATION_NAME_LABEL = "cloud.google.com/reservation-name"
RESERVATION_AFFINITY_LABEL = "cloud.google.com/reservation-affinity"
ZONE_LABEL = "topology.kubernetes.io/zone"


@dataclass(frozen=True)
class AcceleratorPodPlacement:
    """The pod-level pieces that put a pod on one accelerator node: set `node_selector` and `tolerations` on the
    pod spec, and `resources` in both the requests and the limits of the container that uses the accelerator
    (GKE requires them equal)."""

    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]
    resources: dict[str, str]


def _autopilot_provisioning(
    mode: ClusterMode, spot: bool, reservation: str | None, zone: str | None, compute_class: str | None = None
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The selectors (and the Spot toleration) that tell Autopilot which capacity to provision; none on Standard. A
    ComputeClass, when named, decides Spot, reservation and flex-start itself (in its priority order)."""
    if mode is not ClusterMode.AUTOPILOT:
        return {}, []
    selector: dict[str, str] = {}
    tolerations: list[dict[str, str]] = []
    if compute_class:
        selector[COMPUTE_CLASS_LABEL] = compute_class
    elif spot:
        selector[SPOT_LABEL] = "true"
        # Spot nodes carry this taint; stating the toleration keeps the pod schedulable whoever adds the taint.
        tolerations.append({"key": SPOT_LABEL, "operator": "Equal", "value": "true", "effect": "NoSchedule"})
    if reservation and not compute_class:
        selector[RESERVATION_NAME_LABEL] = reservation
        selector[RESERVATION_AFFINITY_LABEL] = "specific"
    if zone:
        selector[ZONE_LABEL] = zone
    return selector, tolerations


def tpu_pod_placement(
    shape: TpuSlice,
    mode: ClusterMode = ClusterMode.STANDARD,
    *,
    spot: bool = False,
    reservation: str | None = None,
    zone: str | None = None,
    compute_class: str | None = None,
) -> AcceleratorPodPlacement:
    """A pod on one host of `shape`: the slice's accelerator and topology selectors and every chip of the host.
    On Autopilot, `spot`, `reservation` and `zone` (or a `compute_class` instead of the first two) become selectors
    too (on Standard the pool has decided them)."""
    selector, tolerations = _autopilot_provisioning(mode, spot, reservation, zone, compute_class)
    return AcceleratorPodPlacement(
        node_selector={**shape.node_selector, **selector},
        tolerations=tolerations,
        resources={name: str(count) for name, count in shape.accelerator_resources.items()},
    )


def gpu_pod_placement(
    accelerator_type: GpuAcceleratorType,
    gpus: int,
    mode: ClusterMode = ClusterMode.STANDARD,
    *,
    spot: bool = False,
    reservation: str | None = None,
    zone: str | None = None,
) -> AcceleratorPodPlacement:
    """A pod with `gpus` GPUs of `accelerator_type`. GKE adds the GPU taint's toleration to pods that request
    nvidia.com/gpu itself, in both modes."""
    selector, tolerations = _autopilot_provisioning(mode, spot, reservation, zone)
    return AcceleratorPodPlacement(
        node_selector={GPU_LABEL: accelerator_type.value, **selector},
        tolerations=tolerations,
        resources={"nvidia.com/gpu": str(gpus)},
    )


def pool_pod_placement(pool: TpuPoolPlan | GpuPoolPlan, mode: ClusterMode) -> AcceleratorPodPlacement:
    """A pod on one node of a planned pool (on Autopilot: of the capacity the pool entry describes)."""
    if isinstance(pool, TpuPoolPlan):
        return tpu_pod_placement(
            pool.tpu_slice,
            mode,
            spot=pool.spot,
            reservation=pool.reservation,
            zone=pool.requested_zone,
            compute_class=pool.compute_class,
        )
    return gpu_pod_placement(pool.accelerator_type, pool.machine.gpus_per_vm, mode, spot=pool.spot, zone=pool.zone)


def check_cluster_mode(args: Mapping[str, Any], key: str = "cluster_mode") -> ClusterMode:
    """The cluster mode a workload component's args name under `key`: standard unless they say otherwise."""
    return require_enum((key,), args.get(key, ClusterMode.STANDARD), ClusterMode)


def check_capacity(
    args: Mapping[str, Any], *, spot: str, zone: str, reservation: str | None = None, compute_class: str | None = None
) -> dict[str, Any]:
    """The `spot`, `reservation`, `zone` (and `compute_class`) keyword arguments of tpu_pod_placement /
    gpu_pod_placement, read from `args` under the keys given (Autopilot's capacity; Standard ignores them). ArgError
    for a zone that is not one, Spot beside a reservation, or a ComputeClass beside either (the class decides
    those)."""
    zone_name = args.get(zone)
    if zone_name is not None and not is_zone(zone_name):
        raise ArgError((zone,), f"{zone_name!r} is not a GCP zone; allowed: e.g. 'us-central1-b'")
    capacity = {
        "spot": bool(args.get(spot, False)),
        "reservation": args.get(reservation) if reservation else None,
        "zone": zone_name,
    }
    if capacity["spot"] and reservation is not None and capacity["reservation"]:
        raise ArgError(
            (reservation,),
            f"{capacity['reservation']!r}, but {spot} is also true: {SPOT_FROM_RESERVATION}; allowed: one of them",
        )
    if compute_class is not None and args.get(compute_class) is not None:
        check_dns_label(args[compute_class], at=(compute_class,))
        if capacity["spot"] or capacity["reservation"]:
            raise ArgError(
                (compute_class,),
                f"{args[compute_class]!r} beside {spot} or {reservation}; allowed: one of them (the ComputeClass "
                "decides Spot and reservations in its own priority order)",
            )
        capacity["compute_class"] = args[compute_class]
    return capacity


def _containers(pod_spec: Mapping[str, Any]) -> list[tuple[tuple[PathPart, ...], Mapping[str, Any]]]:
    return [
        ((kind, index), container)
        for kind in ("initContainers", "containers")
        for index, container in enumerate(pod_spec.get(kind) or [])
    ]


def check_autopilot_pod(pod_spec: Mapping[str, Any], at: Sequence[PathPart] = ()) -> None:
    """Raise ArgError (located under `at`) if Autopilot would refuse the pod: it admits no privileged container and
    no pod in the node's network, PID or IPC namespace. `pod_spec` is Kubernetes JSON (a pod template's spec)."""
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(field) is True:
            raise ArgError(
                (*at, field),
                f"true, but Autopilot admits no pod in the node's {field.removeprefix('host')} namespace; "
                "allowed: false (on Autopilot a pod reaches others through its own IP or a Service)",
            )
    for path, container in _containers(pod_spec):
        if (container.get("securityContext") or {}).get("privileged") is True:
            raise ArgError(
                (*at, *path, "securityContext", "privileged"),
                "true, but Autopilot admits no privileged container; allowed: false (TPUs and GPUs are claimed as "
                "resources, without privileges)",
            )
