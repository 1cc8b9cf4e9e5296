"""The Workload Identity ServiceAccount and the bucket that a scenario's pods use, built the same way for every
scenario that needs them (Saxml's state bucket, vLLM's weights bucket)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from gke_tpu_serving import (
    BucketAccess,
    BucketGrantArgs,
    GcsFuseBucket,
    GkeTpuCluster,
    WorkloadIdentity,
    WorkloadIdentityMode,
)
from gke_tpu_serving._names import check_bucket_name, check_dns_label

from ._model import Placement, config_error


@dataclass(frozen=True)
class StorageSpec:
    """How a scenario's pods reach their bucket."""

    default_namespace: str
    service_account: str
    """The Kubernetes ServiceAccount's name (and, in impersonate mode, the Google service account's id)."""
    mode: WorkloadIdentityMode
    access: BucketAccess
    bucket_role: str
    """What the bucket holds (state, weights): it names the bucket component `<scenario>-<role>` and the default
    bucket `<gcp:project>-<scenario>-<role>`."""


def namespace_of(placement: Placement, spec: StorageSpec) -> str:
    return str(placement.settings.get("namespace", spec.default_namespace))


def bucket_name_of(placement: Placement, project: str, spec: StorageSpec) -> str:
    return str(placement.settings.get("bucket", f"{project}-{placement.key.lower()}-{spec.bucket_role}"))


def check_storage(placement: Placement, project: str, spec: StorageSpec) -> None:
    """Check the scenario's namespace and bucket name at config load, before anything is registered."""
    try:
        check_dns_label(namespace_of(placement, spec))
    except ValueError as error:
        raise config_error((placement.key, "namespace"), str(error)) from None
    try:
        check_bucket_name(bucket_name_of(placement, project, spec))
    except ValueError as error:
        derived = "" if "bucket" in placement.settings else " (the default, derived from gcp:project; set bucket)"
        raise config_error((placement.key, "bucket"), f"{error}{derived}") from None


def deploy_identity(placement: Placement, cluster: GkeTpuCluster, project: str, spec: StorageSpec) -> WorkloadIdentity:
    """The scenario's namespace and its Workload Identity ServiceAccount, on its cluster."""
    return WorkloadIdentity(
        f"{placement.key}-identity",
        {
            "project": project,
            "namespace": namespace_of(placement, spec),
            "create_namespace": True,
            "service_account_name": spec.service_account,
            "mode": spec.mode,
        },
        opts=pulumi.ResourceOptions(provider=cluster.kubernetes_provider),
    )


def deploy_bucket(
    placement: Placement, project: str, spec: StorageSpec, grants: Sequence[BucketGrantArgs]
) -> GcsFuseBucket:
    """The scenario's bucket, in its cluster's region, with bucket-level grants only."""
    return GcsFuseBucket(
        f"{placement.key}-{spec.bucket_role}",
        {
            "project": project,
            "bucket_name": bucket_name_of(placement, project, spec),
            "location": placement.cluster.plan.region,
            "protect": bool(placement.settings.get("protect_bucket", True)),
            "grants": list(grants),
        },
    )


def grant_for(identity: WorkloadIdentity, spec: StorageSpec) -> BucketGrantArgs:
    """The least access the scenario's own ServiceAccount needs on its bucket."""
    return {"name": spec.service_account, "member": identity.member, "access": spec.access}


def storage_outputs(identity: WorkloadIdentity, bucket: GcsFuseBucket) -> dict[str, Any]:
    return {
        "bucket": bucket.url,
        "serviceAccount": pulumi.Output.concat(identity.namespace, "/", identity.service_account_name),
        "iamMember": identity.member,
    }
