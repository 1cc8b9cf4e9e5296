"""The Workload Identity ServiceAccount and the bucket that a scenario's pods use, built the same way for every
scenario that needs them (Saxml's state bucket, vLLM's weights bucket)."""

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from gke_tpu_serving import (
    BucketAccess,
    BucketGrantArgs,
    GcsFuseBucket,
    GkeTpuCluster,
    Tenant,
    WorkloadIdentity,
    WorkloadIdentityMode,
)
from gke_tpu_serving.names import check_bucket_name, check_dns_label

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


# The tenants registered on each cluster, by name (stacks/tenants.py registers them before the scenarios deploy).
_TENANTS: "weakref.WeakKeyDictionary[GkeTpuCluster, dict[str, Tenant]]" = weakref.WeakKeyDictionary()


def register_tenant(cluster: GkeTpuCluster, name: str, tenant: Tenant) -> None:
    """Record a tenant, so that scenarios naming it deploy into its namespace."""
    _TENANTS.setdefault(cluster, {})[name] = tenant


def deploy_identity(placement: Placement, cluster: GkeTpuCluster, project: str, spec: StorageSpec) -> WorkloadIdentity:
    """The scenario's Workload Identity ServiceAccount on its cluster, in a namespace of its own that it creates, or,
    with `tenant`, in the tenant's namespace (checked at load), once the tenant is in place."""
    tenant = None
    if placement.tenant is not None:
        tenant = _TENANTS.get(cluster, {}).get(placement.tenant)
        if tenant is None:
            raise ValueError(f"tenant {placement.tenant!r} of {placement.key} is not registered on its cluster")
    return WorkloadIdentity(
        f"{placement.key}-identity",
        {
            "project": project,
            "namespace": namespace_of(placement, spec),
            "create_namespace": tenant is None,
            "service_account_name": spec.service_account,
            "mode": spec.mode,
        },
        # Everything else of the scenario waits for its identity, so for the tenant's namespace, quota and policies.
        opts=pulumi.ResourceOptions(
            provider=cluster.kubernetes_provider, depends_on=[tenant] if tenant is not None else None
        ),
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


def cache_bucket_name(placement: Placement, project: str) -> str:
    """The scenario's compile-cache bucket: its cache_bucket key, else `<gcp:project>-<scenario>-xla-cache`."""
    return str(placement.settings.get("cache_bucket", f"{project}-{placement.key.lower()}-xla-cache"))


def check_cache_bucket(placement: Placement, project: str) -> None:
    """Check the compile-cache bucket's name at config load."""
    try:
        check_bucket_name(cache_bucket_name(placement, project))
    except ValueError as error:
        raise config_error((placement.key, "cache_bucket"), str(error)) from None


def deploy_cache_bucket(
    placement: Placement, project: str, identity: WorkloadIdentity, spec: StorageSpec
) -> GcsFuseBucket:
    """The scenario's compile-cache bucket, which its own ServiceAccount writes. The cache is regenerable, so the
    bucket is not protected; it is still never force-destroyed."""
    return GcsFuseBucket(
        f"{placement.key}-xla-cache",
        {
            "project": project,
            "bucket_name": cache_bucket_name(placement, project),
            "location": placement.cluster.plan.region,
            "protect": False,
            "grants": [{"name": spec.service_account, "member": identity.member, "access": BucketAccess.WRITE}],
            # Tells reviewers and the policy pack why this bucket alone is not protected.
            "labels": {"gke-tpu-serving-contents": "regenerable-cache"},
        },
    )
