"""Llama 3.1 70B on TPU v6e through vLLM, weights from GCS FUSE, an HPA on vLLM metrics.

Stand-in until issue #6 lands the VllmDeploymentWithHpa component: today the scenario checks its placement and
exports it (cluster, node pool, node selector, accelerator resources per host).
"""

from typing import Any

from gke_tpu_serving.gke_tpu_cluster import GkeTpuCluster

from ._model import Placement, config_error
from ._placement import placement_outputs


def check(placement: Placement) -> None:
    """vLLM's tensor parallelism spans the chips of one host, and its weights come through GCS FUSE."""
    cluster = placement.cluster
    if not placement.tpu_pools or placement.tpu_pools[0].tpu_slice.multi_host:
        raise config_error(
            ("llama", "pool"),
            f"{placement.pool!r} is not a single-host TPU pool; allowed: a tpuPools entry with a single-host "
            "topology (vLLM's tensor parallelism spans the chips of one host)",
        )
    if not cluster.plan.gcs_fuse_csi:
        raise config_error(
            ("clusters", cluster.index, "gcs_fuse_csi"),
            f"false, but llama reads its weights through GCS FUSE on cluster {cluster.name!r}; allowed: true",
        )


def deploy(placement: Placement, cluster: GkeTpuCluster) -> dict[str, Any]:
    """Deploy the scenario onto `cluster`; returns its stack outputs."""
    del cluster  # the VllmDeploymentWithHpa of issue #6 takes it (and its Kubernetes provider)
    return placement_outputs(placement)
