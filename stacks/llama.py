"""Llama 3.1 70B on TPU v6e through vLLM, weights from GCS FUSE, an HPA on vLLM metrics.

Today: the namespace, the `vllm` Kubernetes ServiceAccount with direct Workload Identity Federation (the seed's
setup) and the weights bucket it reads. The VllmDeploymentWithHpa component (issue #6) adds the server on the
placement this module checks, mounting the bucket with GcsFuseBucket.mount().
"""

from typing import Any

from gke_tpu_serving import BucketAccess, GkeTpuCluster, WorkloadIdentityMode

from ._model import Placement, StorageScenarioConfig, config_error
from ._placement import placement_outputs
from ._storage import StorageSpec, check_storage, deploy_storage, storage_outputs

STORAGE = StorageSpec(
    default_namespace="llama",
    service_account="vllm",
    mode=WorkloadIdentityMode.FEDERATED,
    access=BucketAccess.READ,  # serving pods only load weights; the staging job writes them
    bucket_role="weights",
)


class Config(StorageScenarioConfig):
    """gke-tpu-serving:llama: the cluster and single-host TPU pool, the namespace and the weights bucket."""


def check(placement: Placement, project: str) -> None:
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
    check_storage(placement, project, STORAGE)


def deploy(placement: Placement, cluster: GkeTpuCluster, project: str) -> dict[str, Any]:
    """Deploy the scenario onto `cluster`; returns its stack outputs."""
    identity, bucket = deploy_storage(placement, cluster, project, STORAGE)
    return placement_outputs(placement) | storage_outputs(identity, bucket)
