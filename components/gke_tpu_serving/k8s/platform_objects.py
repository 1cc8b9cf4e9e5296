"""What exists in a cluster without the plan creating it, and the node labels a GKE node pool carries: the facts the
plan integrity checks (`gke_tpu_serving.k8s.integrity`) count as present. Pure and stdlib-only (plus the catalog).

Keep this list explicit: anything missing here is reported as a dangling reference, which is the point.
"""

from collections.abc import Mapping
from typing import Any, Final

from gke_tpu_serving.catalog.autopilot import AUTOPILOT_TPU_MIN_GKE_VERSION
from gke_tpu_serving.catalog.gpu import GpuAcceleratorType
from gke_tpu_serving.catalog.tpu import TPU_GENERATIONS
from gke_tpu_serving.cluster.compute_class import COMPUTE_CLASS_LABEL
from gke_tpu_serving.k8s.accelerator_pods import (
    GPU_LABEL,
    RESERVATION_AFFINITY_LABEL,
    RESERVATION_NAME_LABEL,
    SPOT_LABEL,
    ZONE_LABEL,
)


class Unknown:
    """The type of `UNKNOWN`: a value the preview cannot know yet (an output of a resource not yet created)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = Unknown()
"""Stands for a value the plan cannot know yet; it matches anything (the check runs again at `pulumi up`)."""

ANY: Final = frozenset({"*"})
"""A node label whose value the plan does not fix (a hostname, an architecture): any selector value matches."""

SYSTEM_NAMESPACES: Final = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
"""Namespaces every cluster has: Kubernetes' four initial namespaces (kubernetes.io/docs/concepts/overview/
working-with-objects/namespaces/, "Initial namespaces", read 2026-12-02)."""

DEFAULT_SERVICE_ACCOUNT: Final = "default"
"""Every namespace gets a ServiceAccount `default` upon creation, and a pod that names none runs as it
(kubernetes.io/docs/concepts/security/service-accounts/, read 2026-12-02)."""

# KubeRay's names and labels, from ray-project/kuberay at feeaf72facab4881ba2b179248bb67315634e229 (v1.7.0's branch,
# read 2026-12-02): ray-operator/controllers/ray/utils/{constant,util}.go, common/{service,pod}.go and
# raycluster_controller.go (reconcileAuthSecret).
KUBERAY_POD_LABELS: Final = {
    "ray.io/is-ray-node": "yes",
    "app.kubernetes.io/name": "kuberay",
    "app.kubernetes.io/created-by": "kuberay-operator",
}
"""Labels KubeRay's labelPod puts on every head and worker pod, besides ray.io/cluster, node-type, group and
identifier (which derive from the cluster's name)."""
KUBERAY_FIXED_LABELS: Final = ("ray.io/node-type", "ray.io/group", "ray.io/cluster")
"""The labels of KubeRay's that a pod template cannot override (labelPod); it keeps the template's other labels."""
KUBERAY_SERVE_LABEL: Final = "ray.io/serve"
"""The RayService controller sets it on pods ("true" where a Serve proxy is healthy): its serve Service selects it."""
KUBERAY_ENABLE_SERVE_SERVICE: Final = "ray.io/enable-serve-service"
"""A RayCluster annotated with it ("true") gets a serve Service too."""
_KUBERAY_NAME_MAX = 50  # utils.CheckName shortens longer names: the Secret's name is then not the cluster's


def kuberay_pod_labels(cluster_name: Any, node_type: str, group: str) -> dict[str, Any]:
    """Labels of a KubeRay pod of cluster `cluster_name` (UNKNOWN for a RayService's cluster, whose name ends in a
    random suffix), node type `head` or `worker`, group `headgroup` or the worker group's name."""
    identifier = UNKNOWN if cluster_name is UNKNOWN else f"{cluster_name}-{node_type}"
    return {
        **KUBERAY_POD_LABELS,
        "ray.io/cluster": cluster_name,
        "ray.io/node-type": node_type,
        "ray.io/group": group,
        "ray.io/identifier": identifier,
    }


def _named(value: Any, default: str) -> Any:
    name = value.get("metadata", {}).get("name") if isinstance(value, Mapping) else None
    return name or default


def kuberay_services(kind: str, name: str, props: Mapping[str, Any]) -> set[Any]:
    """The Services KubeRay creates for a RayService or RayCluster named `name` with these props:
    `<name>-head-svc` (a RayCluster's `headGroupSpec.headService` may rename it), `<name>-serve-svc` (a RayService's
    `spec.serveService` may rename it; a RayCluster has one only when annotated ray.io/enable-serve-service: "true"),
    and `<name>-headless` for a RayCluster with multi-host worker groups."""
    spec = _mapping_at(props, "spec")
    if kind == "RayService":
        return {f"{name}-head-svc", _named(spec.get("serveService"), f"{name}-serve-svc")}
    services = {_named(_mapping_at(spec, "headGroupSpec").get("headService"), f"{name}-head-svc")}
    if _mapping_at(props, "metadata").get("annotations", {}).get(KUBERAY_ENABLE_SERVE_SERVICE) == "true":
        services.add(f"{name}-serve-svc")
    groups = spec.get("workerGroupSpecs")
    groups = groups if isinstance(groups, list) else []
    if any(
        isinstance(g, Mapping) and isinstance(g.get("numOfHosts"), int | float) and g["numOfHosts"] > 1 for g in groups
    ):
        services.add(f"{name}-headless")
    return services


def _mapping_at(value: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    found = value.get(key)
    return found if isinstance(found, Mapping) else {}


def kuberay_token_secret(name: str, spec: Mapping[str, Any]) -> str | None:
    """The Secret KubeRay generates for a RayCluster's token authentication (key auth_token), named after the
    cluster; None without token auth, with a Secret of the user's (`authOptions.secretName`), or for a name KubeRay
    shortens."""
    auth = spec.get("authOptions") if isinstance(spec, Mapping) else None
    if not isinstance(auth, Mapping) or auth.get("mode") != "token" or auth.get("secretName"):
        return None
    return name if len(name) <= _KUBERAY_NAME_MAX and name[:1].isalpha() else None


# Node labels: Kubernetes' kubelet sets kubernetes.io/os, kubernetes.io/arch, kubernetes.io/hostname,
# node.kubernetes.io/instance-type and topology.kubernetes.io/{region,zone} ("Node Labels Populated By The Kubelet",
# kubernetes.io/docs/reference/node/node-labels/, read 2026-12-02); GKE adds cloud.google.com/gke-nodepool (the
# pool's name; the JobSet exclusive-topology key in saxml/jobset_spec.py), the TPU labels from the catalog, the GPU
# label and the Spot label (accelerator_pods.py).
NODE_POOL_LABEL: Final = "cloud.google.com/gke-nodepool"
TPU_ACCELERATOR_LABEL: Final = "cloud.google.com/gke-tpu-accelerator"
TPU_TOPOLOGY_LABEL: Final = "cloud.google.com/gke-tpu-topology"
_ANY_NODE_LABELS: Final = ("kubernetes.io/arch", "kubernetes.io/hostname", "topology.kubernetes.io/region")


def _tpu_labels(machine_type: Any, topology: Any) -> dict[str, frozenset[str]]:
    for spec in TPU_GENERATIONS.values():
        for machine in spec.machine_types:
            if machine.name == machine_type:
                # A single-host pool has no placement policy: its topology is the machine type's.
                shape = topology if isinstance(topology, str) else machine.single_host_topologies[0]
                return {
                    TPU_ACCELERATOR_LABEL: frozenset({spec.accelerator_label}),
                    TPU_TOPOLOGY_LABEL: frozenset({shape}),
                }
    return {}


def node_pool_labels(props: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """The labels every node of a `gcp:container/nodePool:NodePool` with these inputs carries: each key maps to the
    values its nodes may have (`ANY` where the plan does not fix it)."""
    config: Mapping[str, Any] = props["nodeConfig"] if isinstance(props.get("nodeConfig"), Mapping) else {}
    labels: dict[str, frozenset[str]] = dict.fromkeys(_ANY_NODE_LABELS, ANY)
    labels["kubernetes.io/os"] = frozenset({"linux"})
    name, machine_type = props.get("name"), config.get("machineType")
    labels[NODE_POOL_LABEL] = frozenset({name}) if isinstance(name, str) else ANY
    labels["node.kubernetes.io/instance-type"] = frozenset({machine_type}) if isinstance(machine_type, str) else ANY
    zones = props.get("nodeLocations")
    known_zones = isinstance(zones, list) and bool(zones) and all(isinstance(z, str) for z in zones)
    labels[ZONE_LABEL] = frozenset(zones) if known_zones and isinstance(zones, list) else ANY
    placement: Mapping[str, Any] = props["placementPolicy"] if isinstance(props.get("placementPolicy"), Mapping) else {}
    labels |= _tpu_labels(machine_type, placement.get("tpuTopology"))
    gpus = {a.get("type") for a in config.get("guestAccelerators") or [] if isinstance(a, Mapping)}
    if gpus:
        labels[GPU_LABEL] = frozenset(g for g in gpus if isinstance(g, str)) or ANY
    if config.get("spot") is True:
        labels[SPOT_LABEL] = frozenset({"true"})
    for key, value in (config.get("labels") or {}).items():
        labels[str(key)] = frozenset({value}) if isinstance(value, str) else ANY
    return labels


def _autopilot_tpu_values() -> tuple[frozenset[str], frozenset[str]]:
    offered = [TPU_GENERATIONS[g] for g in AUTOPILOT_TPU_MIN_GKE_VERSION]
    accelerators = frozenset(spec.accelerator_label for spec in offered)
    topologies = frozenset(t for spec in offered for machine in spec.machine_types for t in machine.topologies)
    return accelerators, topologies


_AUTOPILOT_TPU_ACCELERATORS, _AUTOPILOT_TPU_TOPOLOGIES = _autopilot_tpu_values()
AUTOPILOT_NODE_SELECTORS: Final[Mapping[str, frozenset[str]]] = {
    TPU_ACCELERATOR_LABEL: _AUTOPILOT_TPU_ACCELERATORS,
    TPU_TOPOLOGY_LABEL: _AUTOPILOT_TPU_TOPOLOGIES,
    GPU_LABEL: frozenset(t.value for t in GpuAcceleratorType),
    SPOT_LABEL: frozenset({"true"}),
    RESERVATION_NAME_LABEL: ANY,
    RESERVATION_AFFINITY_LABEL: frozenset({"specific"}),
    ZONE_LABEL: ANY,
    COMPUTE_CLASS_LABEL: ANY,
    "kubernetes.io/os": frozenset({"linux"}),
    "kubernetes.io/arch": ANY,
}
"""The node selectors Autopilot provisions capacity for, as this project renders them (accelerator_pods.py): the TPU
generations and topologies it offers (catalog/autopilot.py), the catalog's GPUs, Spot, a reservation, a zone and a
custom ComputeClass (cluster/compute_class.py)."""


def pool_matches(selector: Mapping[str, Any], labels: Mapping[str, frozenset[str]]) -> bool:
    """Whether nodes with `labels` (from `node_pool_labels`) satisfy a pod's node `selector`."""
    return all(
        key in labels and (value is UNKNOWN or labels[key] is ANY or value in labels[key])
        for key, value in selector.items()
    )


_SUMMARY_PREFIX = "cloud.google.com/"


def pool_summary(labels: Mapping[str, frozenset[str]]) -> str:
    """The pool's GKE labels a selector would use (its name, accelerator, topology, Spot), for messages."""
    shown = {
        key: ",".join(sorted(values))
        for key, values in labels.items()
        if key.startswith(_SUMMARY_PREFIX) and values is not ANY and key != NODE_POOL_LABEL
    }
    pool = labels.get(NODE_POOL_LABEL, ANY)
    return _show_labels({NODE_POOL_LABEL: ",".join(sorted(pool)), **shown}) if pool is not ANY else _show_labels(shown)


def _show_labels(labels: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(labels.items()))
