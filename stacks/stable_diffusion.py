"""Stable Diffusion on TPU v4 (or GPUs) through Ray Serve on KubeRay.

Stand-in until issue #4 lands the RayService component: today the scenario checks its placement and exports it
(cluster, node pools, node selector, accelerator resources per host).
"""

from typing import Any

from gke_tpu_serving.gke_tpu_cluster import GkeTpuCluster

from ._model import Placement, ScenarioPlacement, StackConfig, config_error
from ._placement import placement_outputs


class Config(ScenarioPlacement):
    """gke-tpu-serving:stableDiffusion: the cluster (with the Ray add-on) and the TPU or GPU pool."""


def check(placement: Placement, project: str, secret_keys: frozenset[str] = frozenset()) -> None:
    """The RayService needs the cluster's Ray add-on (KubeRay and its TPU webhook)."""
    cluster = placement.cluster
    if not cluster.plan.ray_operator:
        raise config_error(
            ("clusters", cluster.index, "ray_operator"),
            f"false, but stableDiffusion runs a RayService on cluster {cluster.name!r}; allowed: true",
        )


def deploy(placement: Placement, cluster: GkeTpuCluster, config: StackConfig) -> dict[str, Any]:
    """Deploy the scenario onto `cluster`; returns its stack outputs."""
    del cluster, config  # the RayService of issue #4 takes them
    return placement_outputs(placement)
