"""Saxml serving a 175B model on multi-host TPU v5e slices through JobSet.

Today: the namespace, the `sax-sa` Kubernetes ServiceAccount impersonating a Google service account (the seed's
setup) and the state bucket (gs://BUCKET/sax-root) it writes. The SaxmlJobSet component (issue #5) adds the admin,
model and HTTP servers on the placement this module checks.
"""

from typing import Any

from gke_tpu_serving import BucketAccess, GkeTpuCluster, WorkloadIdentityMode

from ._model import Placement, StackConfig, StorageScenarioConfig, config_error
from ._placement import placement_outputs
from ._storage import StorageSpec, check_storage, deploy_bucket, deploy_identity, grant_for, storage_outputs

STORAGE = StorageSpec(
    default_namespace="saxml",
    service_account="sax-sa",
    mode=WorkloadIdentityMode.IMPERSONATE,
    access=BucketAccess.WRITE,  # the admin server keeps the cell's state there
    bucket_role="state",
)


class Config(StorageScenarioConfig):
    """gke-tpu-serving:saxml: the cluster and multi-host TPU pool, the namespace and the state bucket."""


def check(placement: Placement, project: str, secret_keys: frozenset[str] = frozenset()) -> None:
    """Saxml's model servers run as one JobSet job per multi-host slice."""
    if not placement.tpu_pools or not placement.tpu_pools[0].tpu_slice.multi_host:
        raise config_error(
            ("saxml", "pool"),
            f"{placement.pool!r} is not a multi-host TPU pool; allowed: a tpuPools entry whose topology spans "
            "several hosts (Saxml's model servers run as one JobSet job per multi-host slice)",
        )
    check_storage(placement, project, STORAGE)


def deploy(placement: Placement, cluster: GkeTpuCluster, config: StackConfig) -> dict[str, Any]:
    """Deploy the scenario onto `cluster`; returns its stack outputs."""
    identity = deploy_identity(placement, cluster, config.gcp_project, STORAGE)
    bucket = deploy_bucket(placement, config.gcp_project, STORAGE, [grant_for(identity, STORAGE)])
    return placement_outputs(placement) | storage_outputs(identity, bucket)
