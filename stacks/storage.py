"""The Workload Identity ServiceAccount and the buckets that a scenario instance's pods use, built the same way for
every scenario that needs them (Saxml's state bucket, the weights and compile-cache buckets)."""

from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

import pulumi

from gke_tpu_serving import (
    BucketAccess,
    BucketGrantArgs,
    GcsFuseBucket,
    WeightStagingJob,
    WeightStagingJobArgs,
    WorkloadIdentity,
    WorkloadIdentityArgs,
    WorkloadIdentityMode,
)
from gke_tpu_serving.errors import camel_case
from gke_tpu_serving.names import check_bucket_name, check_dns_label

from .model import DeployContext, Placement, StackInfo, config_error

CACHE_ROLE = "xla-cache"
STAGER_SERVICE_ACCOUNT = "weights-stager"
"""The Kubernetes ServiceAccount of an instance's weight-staging Job: the only one that may write its weights."""


def bucket_name(placement: Placement, stack: StackInfo) -> str:
    """The instance's main bucket (weights or state): its `bucket` key, else derived from the stack and instance."""
    return placement.bucket_name(stack, placement.scenario.storage.bucket_role, "bucket")


def cache_bucket_name(placement: Placement, stack: StackInfo) -> str:
    """The instance's compile-cache bucket: its `cache_bucket` key, else derived from the stack and instance."""
    return placement.bucket_name(stack, CACHE_ROLE, "cache_bucket")


def check_storage(placement: Placement, stack: StackInfo, *, cache: bool = False) -> None:
    """Check the instance's namespace and bucket names at config load, before anything is registered."""
    try:
        check_dns_label(placement.namespace)
    except ValueError as error:
        raise config_error(placement.at("namespace"), str(error)) from None
    checked = [("bucket", bucket_name(placement, stack))]
    if cache:
        checked.append(("cache_bucket", cache_bucket_name(placement, stack)))
    for key, name in checked:
        try:
            check_bucket_name(name)
        except ValueError as error:
            derived = (
                ""
                if key in placement.settings
                else f" (the default, derived from gcp:project and the stack; set {camel_case(key)})"
            )
            raise config_error(placement.at(key), f"{error}{derived}") from None


def deploy_identity(placement: Placement, context: DeployContext) -> WorkloadIdentity:
    """The instance's Workload Identity ServiceAccount on its cluster, in a namespace of its own that it creates, or,
    with `tenant`, in the tenant's namespace (checked at load), once the tenant is in place."""
    spec = placement.scenario.storage
    args: WorkloadIdentityArgs = {
        "project": context.stack.gcp_project,
        "namespace": placement.namespace,
        "create_namespace": context.tenant is None,
        "service_account_name": spec.service_account,
        "mode": spec.mode,
    }
    if spec.mode is WorkloadIdentityMode.IMPERSONATE:
        # Google service account ids are project-wide: one per stack and instance.
        args["google_service_account_id"] = placement.google_service_account_id(context.stack, spec.service_account)
    return WorkloadIdentity(
        f"{placement.resource_prefix}-identity",
        args,
        # Everything else of the instance waits for its identity, so for the tenant's namespace, quota and policies.
        opts=pulumi.ResourceOptions(
            provider=context.cluster.kubernetes_provider,
            depends_on=[context.tenant] if context.tenant is not None else None,
        ),
    )


def deploy_bucket(placement: Placement, stack: StackInfo, grants: Sequence[BucketGrantArgs]) -> GcsFuseBucket:
    """The instance's main bucket, in its cluster's region, with bucket-level grants only."""
    return GcsFuseBucket(
        f"{placement.resource_prefix}-{placement.scenario.storage.bucket_role}",
        {
            "project": stack.gcp_project,
            "bucket_name": bucket_name(placement, stack),
            "location": placement.cluster.plan.region,
            "protect": bool(placement.settings.get("protect_bucket", True)),
            "grants": list(grants),
        },
    )


def grant_for(identity: WorkloadIdentity, placement: Placement) -> BucketGrantArgs:
    """The least access the instance's own ServiceAccount needs on its bucket."""
    spec = placement.scenario.storage
    return {"name": spec.service_account, "member": identity.member, "access": spec.access}


def storage_outputs(identity: WorkloadIdentity, bucket: GcsFuseBucket) -> dict[str, Any]:
    return {
        "bucket": bucket.url,
        "serviceAccount": pulumi.Output.concat(identity.namespace, "/", identity.service_account_name),
        "iamMember": identity.member,
    }


def deploy_cache_bucket(placement: Placement, stack: StackInfo, identity: WorkloadIdentity) -> GcsFuseBucket:
    """The instance's compile-cache bucket, which its own ServiceAccount writes. The cache is regenerable, so the
    bucket is not protected; it is still never force-destroyed."""
    spec = placement.scenario.storage
    return GcsFuseBucket(
        f"{placement.resource_prefix}-{CACHE_ROLE}",
        {
            "project": stack.gcp_project,
            "bucket_name": cache_bucket_name(placement, stack),
            "location": placement.cluster.plan.region,
            "protect": False,
            "grants": [{"name": spec.service_account, "member": identity.member, "access": BucketAccess.WRITE}],
            # Tells reviewers and the policy pack why this bucket alone is not protected.
            "labels": {"gke-tpu-serving-contents": "regenerable-cache"},
        },
    )


def deploy_stager(placement: Placement, context: DeployContext, identity: WorkloadIdentity) -> WorkloadIdentity:
    """The staging Job's own ServiceAccount, beside the instance's (which it waits for: that one creates the
    namespace). Give it `stager_grant` on the weights bucket."""
    return WorkloadIdentity(
        f"{placement.resource_prefix}-stager",
        {
            "project": context.stack.gcp_project,
            "namespace": placement.namespace,
            "service_account_name": STAGER_SERVICE_ACCOUNT,
            "mode": WorkloadIdentityMode.FEDERATED,
        },
        opts=pulumi.ResourceOptions(provider=context.cluster.kubernetes_provider, depends_on=[identity]),
    )


def stager_grant(stager: WorkloadIdentity) -> BucketGrantArgs:
    return {"name": STAGER_SERVICE_ACCOUNT, "member": stager.member, "access": BucketAccess.WRITE}


class WeightsToStage(TypedDict):
    """What a scenario stages into its weights bucket, and from where."""

    image: pulumi.Input[str]
    """An image carrying stage_weights.py (workloads/llama's)."""
    hf_repo: str
    path: str
    """Folder in the bucket, e.g. models/<hf_repo>."""
    revision: NotRequired[str]
    allow_patterns: NotRequired[list[str]]
    hf_token: NotRequired[Any]
    job_name: NotRequired[str]


def deploy_weight_staging(
    placement: Placement,
    context: DeployContext,
    stager: WorkloadIdentity,
    bucket: GcsFuseBucket,
    weights: WeightsToStage,
) -> WeightStagingJob:
    """The Job that copies the weights into the bucket; `pulumi up` waits for it, so servers that depend on it start
    with their weights in place. A rerun copies only what is missing or changed (stage_weights.py)."""
    args: WeightStagingJobArgs = {
        "namespace": placement.namespace,
        "service_account_name": stager.service_account_name,
        "bucket": bucket_name(placement, context.stack),
        **weights,
    }
    return WeightStagingJob(
        f"{placement.resource_prefix}-weights-staging",
        args,
        opts=pulumi.ResourceOptions(provider=context.cluster.kubernetes_provider, depends_on=[stager, bucket]),
    )
