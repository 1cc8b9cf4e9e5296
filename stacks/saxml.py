"""Saxml serving a 175B model on multi-host TPU v5e slices through JobSet.

Stand-in until issue #5 lands the SaxmlJobSet component: today the scenario checks its placement and exports it
(cluster, one node pool per slice, node selector, accelerator resources per host).
"""

from typing import Any

from gke_tpu_serving.gke_tpu_cluster import GkeTpuCluster

from ._model import Placement, config_error
from ._placement import placement_outputs


def check(placement: Placement) -> None:
    """Saxml's model servers run as one JobSet job per multi-host slice."""
    if not placement.tpu_pools or not placement.tpu_pools[0].tpu_slice.multi_host:
        raise config_error(
            ("saxml", "pool"),
            f"{placement.pool!r} is not a multi-host TPU pool; allowed: a tpuPools entry whose topology spans "
            "several hosts (Saxml's model servers run as one JobSet job per multi-host slice)",
        )


def deploy(placement: Placement, cluster: GkeTpuCluster) -> dict[str, Any]:
    """Deploy the scenario onto `cluster`; returns its stack outputs."""
    del cluster  # the SaxmlJobSet of issue #5 takes it (and its Kubernetes provider)
    return placement_outputs(placement)
