"""Ray worker groups and the head, checked: typed args for the head and the TPU, GPU and CPU worker groups, and their
checks against the catalogs and the KubeRay TPU webhook, which resolve every default into a `WorkerGroup` (or `Head`)
that spec.py renders. Pure: imports nothing from Pulumi."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, NotRequired, TypedDict

from gke_tpu_serving.catalog import (
    ClusterMode,
    GpuAcceleratorType,
    TpuGeneration,
    gpu_accelerator,
    gpu_machine,
    tpu_slice_of_args,
)
from gke_tpu_serving.errors import ArgError, PathPart, require_int
from gke_tpu_serving.k8s.accelerator_pods import (
    AUTOPILOT_EPHEMERAL_STORAGE,
    check_capacity,
    gpu_pod_placement,
    tpu_pod_placement,
)
from gke_tpu_serving.k8s.host_fit import HostBudget, check_pod_fits, host_budget
from gke_tpu_serving.names import dns_label_at

TPU_WEBHOOK_REASON = "Number of workers in worker group not equal to specified topology"
"""The KubeRay TPU webhook's (GKE Ray add-on) admission message for a numOfHosts that does not fit the topology."""

GPU_RESOURCE = "nvidia.com/gpu"
TPU_RAY_RESOURCE = "TPU"
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}

_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


class RayHeadArgs(TypedDict):
    """The Ray head pod: GCS, dashboard, Serve controller and (CPU-only) Serve ingress replicas."""

    cpu: NotRequired[str]
    """CPU request, e.g. "2"; Ray advertises it as the head's CPUs. Default: "2"."""
    memory: NotRequired[str]
    """Memory request and limit, e.g. "8Gi". Default: "8Gi"."""


class TpuWorkerGroupArgs(TypedDict):
    """A worker group on TPU slices: each replica is one slice of num_of_hosts pods, one per TPU VM."""

    group_name: str
    """Name of the group (DNS-1123 label)."""
    tpu_generation: TpuGeneration
    """TPU generation of the node pool."""
    tpu_machine_type: str
    """Its machine type, e.g. ct4p-hightpu-4t."""
    tpu_topology: str
    """The slice topology, e.g. 2x2x1."""
    num_of_hosts: NotRequired[int]
    """Pods per slice. Default: what the KubeRay TPU webhook demands, max(chips / chips per VM, 1); any other value
    is refused here rather than by the webhook in the cluster."""
    replicas: NotRequired[int]
    """Slices to start with. Default: 1."""
    min_replicas: NotRequired[int]
    """Fewest slices the autoscaler keeps. Default: replicas."""
    max_replicas: NotRequired[int]
    """Most slices the autoscaler adds. Default: replicas."""
    cpu: NotRequired[str]
    """CPU request of each pod. Default: "8". Refused if more than the TPU host leaves allocatable."""
    memory: NotRequired[str]
    """Memory request and limit of each pod. Default: "32Gi". Refused if more than the TPU host leaves
    allocatable."""
    ephemeral_storage: NotRequired[str]
    """Ephemeral-storage request (and limit) of each pod, for the local compile cache and the GCS FUSE file cache.
    Default: none on Standard (the node's boot disk), "50Gi" on Autopilot (which gives 1 GiB unless asked)."""
    tpu_spot: NotRequired[bool]
    """Autopilot: run on Spot TPU capacity. Standard ignores it (the node pool decides). Default: false."""
    tpu_reservation: NotRequired[str]
    """Autopilot: consume this specific reservation. Standard ignores it (the node pool consumes it). Default:
    none."""
    tpu_compute_class: NotRequired[str]
    """Autopilot: select this ComputeClass, which decides Spot and reservations (refused beside them). Default: none."""
    tpu_zone: NotRequired[str]
    """Autopilot: pin the group's pods to this zone. Standard ignores it (the node pool's zone applies). Default:
    a zone GKE chooses."""


class GpuWorkerGroupArgs(TypedDict):
    """A worker group on a GPU node pool, autoscaled by Ray: from zero workers by default."""

    group_name: str
    """Name of the group (DNS-1123 label)."""
    accelerator_type: GpuAcceleratorType
    """GPU type of the node pool, e.g. nvidia-l4."""
    machine_type: str
    """Machine type of the node pool, e.g. g2-standard-8; it bounds the GPUs one worker can have."""
    gpus: NotRequired[int]
    """nvidia.com/gpu of each worker. Default: every GPU of the machine."""
    replicas: NotRequired[int]
    """Workers to start with. Default: min_replicas."""
    min_replicas: NotRequired[int]
    """Fewest workers the autoscaler keeps. Default: 0 (no GPU is paid for while nothing needs one)."""
    max_replicas: NotRequired[int]
    """Most workers the autoscaler adds. Default: 1."""
    cpu: NotRequired[str]
    """CPU request of each worker. Default: "4". Refused if more than its part of the node (gpus / the machine's
    GPUs) leaves allocatable."""
    memory: NotRequired[str]
    """Memory request and limit of each worker. Default: "16Gi". Refused likewise."""
    ephemeral_storage: NotRequired[str]
    """Ephemeral-storage request (and limit) of each pod, for the local compile cache and the GCS FUSE file cache.
    Default: none on Standard (the node's boot disk), "50Gi" on Autopilot (which gives 1 GiB unless asked)."""
    spot: NotRequired[bool]
    """Autopilot: run on Spot GPU capacity. Standard ignores it (the node pool decides). Default: false."""
    zone: NotRequired[str]
    """Autopilot: pin the group's pods to this zone. Standard ignores it (the node pool's zone applies). Default:
    a zone GKE chooses."""


class CpuWorkerGroupArgs(TypedDict):
    """A worker group without accelerators, autoscaled by Ray."""

    group_name: str
    """Name of the group (DNS-1123 label)."""
    replicas: NotRequired[int]
    """Workers to start with. Default: min_replicas."""
    min_replicas: NotRequired[int]
    """Fewest workers the autoscaler keeps. Default: 0."""
    max_replicas: NotRequired[int]
    """Most workers the autoscaler adds. Default: 1."""
    cpu: NotRequired[str]
    """CPU request of each worker. Default: "2"."""
    memory: NotRequired[str]
    """Memory request and limit of each worker. Default: "8Gi"."""


@dataclass(frozen=True)
class WorkerGroup:
    """A worker group with every default resolved and checked."""

    name: str
    replicas: int
    min_replicas: int
    max_replicas: int
    cpu: str
    memory: str
    num_of_hosts: int = 1
    accelerator_resources: Mapping[str, int] = field(default_factory=dict)
    """Container requests and limits that claim the accelerators of one pod."""
    ray_resources: Mapping[str, int] = field(default_factory=dict)
    """Custom resources the pod advertises to Ray (rayStartParams.resources)."""
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: Sequence[Mapping[str, str]] = ()
    ephemeral_storage: str | None = None
    """Ephemeral-storage request and limit of each pod, where it asks for one."""

    @property
    def autoscaled(self) -> bool:
        return self.min_replicas != self.max_replicas

    @property
    def gpus(self) -> int:
        return self.accelerator_resources.get(GPU_RESOURCE, 0)


@dataclass(frozen=True)
class Head:
    cpu: str
    memory: str


def check_quantity(path: Sequence[PathPart], value: object) -> str:
    """A Kubernetes resource quantity such as "4", "500m" or "16Gi"."""
    if not isinstance(value, str) or not _QUANTITY.match(value):
        raise ArgError(path, f'{value!r} is not allowed; allowed: a Kubernetes quantity such as "4", "500m" or "16Gi"')
    return value


def check_head(args: RayHeadArgs) -> Head:
    return Head(
        cpu=check_quantity(("cpu",), args.get("cpu", "2")),
        memory=check_quantity(("memory",), args.get("memory", "8Gi")),
    )


def _replicas(args: Mapping[str, Any], *, fixed: bool) -> tuple[int, int, int]:
    """(replicas, min_replicas, max_replicas). A fixed group keeps `replicas` (default 1) unless bounds are given; any
    other group autoscales from min_replicas (default 0) to max_replicas (default 1), starting at min_replicas."""
    if fixed:
        replicas = require_int(("replicas",), args.get("replicas", 1), minimum=0)
        minimum = require_int(("min_replicas",), args.get("min_replicas", replicas), minimum=0)
        maximum = require_int(("max_replicas",), args.get("max_replicas", max(replicas, minimum)), minimum=1)
    else:
        minimum = require_int(("min_replicas",), args.get("min_replicas", 0), minimum=0)
        maximum = require_int(("max_replicas",), args.get("max_replicas", max(minimum, 1)), minimum=1)
        replicas = require_int(("replicas",), args.get("replicas", minimum), minimum=0)
    if minimum > maximum:
        key = "min_replicas" if "min_replicas" in args else "replicas"
        raise ArgError((key,), f"{minimum} is more than the maximum replica count, {maximum}; allowed: 0 to {maximum}")
    if not minimum <= replicas <= maximum:
        raise ArgError(
            ("replicas",),
            f"{replicas} is not allowed; allowed: {minimum} to {maximum} (the minimum to the maximum replica count)",
        )
    return replicas, minimum, maximum


def _group(
    args: Mapping[str, Any], *, fixed: bool, cpu: str, memory: str, budget: HostBudget | None = None, **shape: Any
) -> WorkerGroup:
    """The parts every group shares: name, replica bounds, CPU and memory (`cpu`, `memory`: the defaults). With a
    `budget` (the pod's part of its host, where the catalog knows the host's shape) the pod must fit it; serving
    scenarios derive their workers' requests from the same budget (`worker_defaults`)."""
    name = dns_label_at(("group_name",), args.get("group_name"))
    replicas, minimum, maximum = _replicas(args, fixed=fixed)
    group = WorkerGroup(
        name=name,
        replicas=replicas,
        min_replicas=minimum,
        max_replicas=maximum,
        cpu=check_quantity(("cpu",), args.get("cpu", cpu)),
        memory=check_quantity(("memory",), args.get("memory", memory)),
        **shape,
    )
    if budget is not None:
        check_pod_fits(budget, cpu=("cpu", group.cpu), memory=("memory", group.memory))
    return group


def _ephemeral_storage(args: Mapping[str, Any], mode: ClusterMode) -> str | None:
    default = AUTOPILOT_EPHEMERAL_STORAGE if mode is ClusterMode.AUTOPILOT else None
    value = args.get("ephemeral_storage", default)
    return None if value is None else check_quantity(("ephemeral_storage",), value)


def worker_defaults(machine_type: str, share: Fraction = Fraction(1)) -> dict[str, str]:
    """A serving worker's cpu and memory args derived from its host (empty where the catalog lacks the host's shape):
    a quarter of the usable CPU, and, since Ray pods ask for memory as request and limit alike, all usable memory."""
    budget = host_budget(machine_type, share)
    return {} if budget is None else {"cpu": budget.default_cpu(), "memory": budget.default_memory_limit()}


def tpu_worker_group(args: TpuWorkerGroupArgs, mode: ClusterMode = ClusterMode.STANDARD) -> WorkerGroup:
    """Check a TPU group as the KubeRay TPU webhook would; raises ArgError (paths relative to the group). Its pods
    select and claim the slice's hosts as `mode` needs (_accelerator_pods)."""
    shape = tpu_slice_of_args(args)
    expected = shape.kuberay_num_of_hosts
    hosts = require_int(("num_of_hosts",), args.get("num_of_hosts", expected), minimum=1)
    if hosts != expected:
        raise ArgError(
            ("num_of_hosts",),
            f"{hosts} does not fit a {shape.topology} slice of {shape.machine_type} ({shape.chips} chips, "
            f"{shape.chips_per_vm} per host), and the KubeRay TPU webhook would refuse the group: "
            f'"{TPU_WEBHOOK_REASON}"; allowed: {expected} (max(chips / chips per host, 1))',
        )
    capacity = check_capacity(
        args, spot="tpu_spot", reservation="tpu_reservation", zone="tpu_zone", compute_class="tpu_compute_class"
    )
    placement = tpu_pod_placement(shape, mode, **capacity)
    return _group(
        args,
        fixed=True,
        cpu="8",
        memory="32Gi",
        budget=host_budget(shape.machine_type),
        num_of_hosts=hosts,
        accelerator_resources=shape.accelerator_resources,
        ray_resources={TPU_RAY_RESOURCE: shape.chips_per_vm},
        node_selector=placement.node_selector,
        tolerations=placement.tolerations,
        ephemeral_storage=_ephemeral_storage(args, mode),
    )


def gpu_worker_group(args: GpuWorkerGroupArgs, mode: ClusterMode = ClusterMode.STANDARD) -> WorkerGroup:
    """Check a GPU group against the GPU catalog; raises ArgError (paths relative to the group). Its pods select
    and claim the GPUs as `mode` needs (_accelerator_pods)."""
    accelerator = gpu_accelerator(args.get("accelerator_type"))
    machine = gpu_machine(accelerator.accelerator_type, args.get("machine_type"))
    gpus = require_int(("gpus",), args.get("gpus", machine.gpus_per_vm), minimum=1)
    if gpus > machine.gpus_per_vm:
        raise ArgError(
            ("gpus",),
            f"{gpus} is more than the {machine.gpus_per_vm} GPUs of {machine.name}; "
            f"allowed: 1 to {machine.gpus_per_vm}",
        )
    placement = gpu_pod_placement(
        accelerator.accelerator_type, gpus, mode, **check_capacity(args, spot="spot", zone="zone")
    )
    return _group(
        args,
        fixed=False,
        cpu="4",
        memory="16Gi",
        # A worker with some of the machine's GPUs shares the node with others: it gets that part of it.
        budget=host_budget(machine.name, Fraction(gpus, machine.gpus_per_vm)),
        accelerator_resources={GPU_RESOURCE: gpus},
        node_selector=placement.node_selector,
        # GKE taints GPU nodes so that pods without GPUs stay off them. Its admission controller adds this toleration
        # to pods that request nvidia.com/gpu anyway; stating it keeps the worker schedulable in either mode.
        tolerations=(*placement.tolerations, GPU_TOLERATION),
        ephemeral_storage=_ephemeral_storage(args, mode),
    )


def cpu_worker_group(args: CpuWorkerGroupArgs, mode: ClusterMode = ClusterMode.STANDARD) -> WorkerGroup:
    """Check a CPU group; raises ArgError (paths relative to the group). Its pods are the same in either `mode`."""
    return _group(args, fixed=False, cpu="2", memory="8Gi")
