"""The stack: one GkeTpuCluster per configured cluster, then each enabled scenario on its cluster."""

from collections.abc import Callable
from typing import Any

from gke_tpu_serving.gke_tpu_cluster import GkeTpuCluster

from . import llama, saxml, stable_diffusion
from ._model import Placement, StackConfig

SCENARIOS: dict[str, Callable[[Placement, GkeTpuCluster, StackConfig], dict[str, Any]]] = {
    "stableDiffusion": stable_diffusion.deploy,
    "saxml": saxml.deploy,
    "llama": llama.deploy,
}


def build(config: StackConfig) -> dict[str, Any]:
    """Register every resource of the stack; returns the stack outputs."""
    clusters = {c.name: GkeTpuCluster(c.name, c.args) for c in config.clusters}
    outputs: dict[str, Any] = {
        "clusters": {
            name: {"name": c.cluster_name, "location": c.location, "endpoint": c.endpoint}
            for name, c in clusters.items()
        },
        "kubeconfigs": {name: c.kubeconfig for name, c in clusters.items()},
    }
    for key, placement in config.scenarios.items():
        outputs[key] = SCENARIOS[key](placement, clusters[placement.cluster.name], config)
    return outputs
