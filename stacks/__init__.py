"""The stack: one GkeTpuCluster per configured cluster, then each enabled scenario on its cluster."""

from collections.abc import Callable
from typing import Any

import pulumi

from gke_tpu_serving import ImageRepository
from gke_tpu_serving.cluster.gke_tpu_cluster import GkeTpuCluster

from . import llama, saxml, stable_diffusion, tenants
from ._model import Placement, StackConfig

SCENARIOS: dict[str, Callable[[Placement, GkeTpuCluster, StackConfig], dict[str, Any]]] = {
    "stableDiffusion": stable_diffusion.deploy,
    "saxml": saxml.deploy,
    "llama": llama.deploy,
}


def build(config: StackConfig) -> dict[str, Any]:
    """Register every resource of the stack; returns the stack outputs."""
    clusters = {c.name: GkeTpuCluster(c.name, c.args) for c in config.clusters}
    # One repository for the workload images; every cluster's nodes pull from it, CI pushes to it.
    images = ImageRepository(
        "images",
        {
            "project": config.gcp_project,
            "location": config.image_registry_location,
            "readers": {
                f"{name}-nodes": pulumi.Output.concat("serviceAccount:", c.node_service_account_email)
                for name, c in clusters.items()
            },
            "writers": {"ci": f"serviceAccount:{config.ci_service_account}"} if config.ci_service_account else {},
        },
    )
    outputs: dict[str, Any] = {
        "clusters": {
            name: {"name": c.cluster_name, "location": c.location, "endpoint": c.endpoint}
            for name, c in clusters.items()
        },
        "kubeconfigs": {name: c.kubeconfig for name, c in clusters.items()},
        "imageRepository": images.url,
    }
    if config.tenancy is not None:
        outputs["tenants"] = tenants.deploy(config.tenancy, clusters, config.secrets)
    for key, placement in config.scenarios.items():
        outputs[key] = SCENARIOS[key](placement, clusters[placement.cluster.name], config)
    return outputs
