"""The policy pack (policy/): each rule on a passing and a failing resource with its exact message, every stack of
the project passing every rule, and violations planted through stack config reported by resource name.

Resources run through `policy.adapter`, which builds the `ResourceValidationArgs` the pack's analyzer builds under
the Pulumi CLI (numbers as floats, unknowns as the engine's sentinel, props behind `unknown_checking_proxy`).
"""

import ast
import importlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from helpers import program_with_stacks
from manifest_validation import validate_manifest
from policy_fixtures import (
    BUCKET,
    BUCKET_MEMBER,
    CACHE_BUCKET,
    CLUSTER,
    CRON_JOB,
    DAEMON_SET,
    DEFAULT_COMPUTE_ACCOUNT,
    DELETE,
    DEPLOYMENT,
    DEPLOYMENT_WITH_API_KEY,
    FOLDER_BINDING,
    GATEWAY,
    GOOD_BUCKET,
    GOOD_CLUSTER,
    GOOD_CRON_JOB,
    GOOD_DEPLOYMENT,
    GOOD_JOB,
    GOOD_JOB_SET,
    GOOD_PDB,
    GOOD_RAY_CLUSTER,
    GOOD_RAY_SERVICE,
    GOOD_SERVICE,
    IMAGE,
    INGRESS,
    JOB,
    JOB_SET,
    MULTI_HOST_POOL,
    NODE_ACCOUNT,
    NODE_POOL,
    ORGANIZATION_MEMBER,
    PDB,
    POD,
    PROJECT_BINDING,
    PROJECT_MEMBER,
    PROJECT_POLICY,
    PUBLIC_SERVICE_WITHOUT_AUTH,
    RAY_CLUSTER,
    RAY_SERVICE,
    SERVICE,
    SINGLE_HOST_POOL,
    STATEFUL_SET,
    all_unknown,
    batch_container,
    container,
    edited,
    pod_template,
    preview,
    ray_container,
    recorded,
    workload,
)
from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from gke_tpu_serving.offline import UNKNOWN, PreviewResult, RecordedResource, run_program
from policy.adapter import Violation, stack_validation_args, validation_args, violations
from policy.disruption_rules import DISRUPTION_BUDGETS
from policy.exposure_rules import AUTHENTICATED_EXPOSURE
from policy.integrity_rules import PLAN_INTEGRITY
from policy.rules import ALL_POLICIES, RESOURCE_POLICIES

ROOT = Path(__file__).resolve().parents[1]
POLICY_DIR = ROOT / "policy"
STACKS = sorted(path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in ROOT.glob("Pulumi.*.yaml"))


class Case(NamedTuple):
    policy: str
    id: str
    resource: RecordedResource
    messages: list[str]
    """Exactly what the policy reports for the resource; [] for a passing case."""


def case(policy: str, case_id: str, resource: RecordedResource, *messages: str) -> Any:
    return pytest.param(Case(policy, case_id, resource, list(messages)), id=f"{policy}:{case_id}")


R = recorded
OPT_IN = {"gke-tpu-serving/public-exposure": "true"}
INTERNAL = {"networking.gke.io/load-balancer-type": "Internal"}
DEPLOYMENT_CONTAINER = "spec.template.spec.containers.0"
JOB_SET_POD = "spec.replicatedJobs.0.template.spec.template"
RAY_SPEC = "spec.rayClusterConfig"


def _privileged_daemon_set(annotations: dict[str, str] | None = None) -> dict[str, Any]:
    daemon_set = workload("DaemonSet", pod_template(container(securityContext={"privileged": True})))
    return edited(daemon_set, {"spec.template.metadata.annotations": annotations}) if annotations else daemon_set


def _ingress(**spec: Any) -> dict[str, Any]:
    backend = {"service": {"name": "server", "port": {"number": 8000}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "server"},
        "spec": {"defaultBackend": backend, **spec},
    }


CASES = [
    # gke-workload-identity
    case("gke-workload-identity", "pool set", R(CLUSTER, "serve-cluster", GOOD_CLUSTER)),
    case(
        "gke-workload-identity",
        "autopilot has it always",
        R(CLUSTER, "auto", {"enableAutopilot": True, "releaseChannel": {"channel": "REGULAR"}}),
    ),
    case(
        "gke-workload-identity",
        "no pool",
        R(CLUSTER, "serve-cluster", edited(GOOD_CLUSTER, {"workloadIdentityConfig": DELETE})),
        "Cluster 'serve-cluster' (gcp:container/cluster:Cluster) has no Workload Identity pool; set workloadIdentityConfig.workloadPool to \"PROJECT_ID.svc.id.goog\" so pods authenticate as their Kubernetes ServiceAccount, not as the node.",
    ),
    # gke-metadata-server
    case("gke-metadata-server", "pool", R(NODE_POOL, "serve-v6e", SINGLE_HOST_POOL)),
    case(
        "gke-metadata-server",
        "pool on GCE_METADATA",
        R(
            NODE_POOL,
            "serve-v6e",
            edited(SINGLE_HOST_POOL, {"nodeConfig.workloadMetadataConfig.mode": "GCE_METADATA"}),
        ),
        "NodePool 'serve-v6e' (gcp:container/nodePool:NodePool) does not give its nodes (nodeConfig) the GKE metadata server (workloadMetadataConfig.mode is GCE_METADATA); set nodeConfig.workloadMetadataConfig.mode to GKE_METADATA, or pods can read the node's credentials instead of their Workload Identity.",
    ),
    case(
        "gke-metadata-server",
        "cluster's own nodes",
        R(CLUSTER, "serve-cluster", edited(GOOD_CLUSTER, {"nodeConfig.workloadMetadataConfig": DELETE})),
        "Cluster 'serve-cluster' (gcp:container/cluster:Cluster) does not give its nodes (nodeConfig) the GKE metadata server (workloadMetadataConfig.mode is not set); set nodeConfig.workloadMetadataConfig.mode to GKE_METADATA, or pods can read the node's credentials instead of their Workload Identity.",
    ),
    case(
        "gke-metadata-server",
        "cluster's inline pool",
        R(CLUSTER, "serve-cluster", edited(GOOD_CLUSTER, {"nodePools": [{"name": "cpu", "nodeConfig": {}}]})),
        "Cluster 'serve-cluster' (gcp:container/cluster:Cluster) does not give its nodes (nodePools[0].nodeConfig) the GKE metadata server (workloadMetadataConfig.mode is not set); set nodePools[0].nodeConfig.workloadMetadataConfig.mode to GKE_METADATA, or pods can read the node's credentials instead of their Workload Identity.",
    ),
    # gke-no-default-compute-service-account
    case("gke-no-default-compute-service-account", "dedicated account", R(NODE_POOL, "serve-v6e", SINGLE_HOST_POOL)),
    case(
        "gke-no-default-compute-service-account",
        "account created in the stack (unknown in preview)",
        R(NODE_POOL, "serve-v6e", edited(SINGLE_HOST_POOL, {"nodeConfig.serviceAccount": "[unknown]"})),
    ),
    case(
        "gke-no-default-compute-service-account",
        "compute default account",
        R(NODE_POOL, "serve-v6e", edited(SINGLE_HOST_POOL, {"nodeConfig.serviceAccount": DEFAULT_COMPUTE_ACCOUNT})),
        "NodePool 'serve-v6e' (gcp:container/nodePool:NodePool) runs its nodes (nodeConfig) as the Compute Engine default service account (serviceAccount is '123456789012-compute@developer.gserviceaccount.com'); set nodeConfig.serviceAccount to a dedicated service account with roles/container.defaultNodeServiceAccount (GkeTpuCluster creates one unless nodeServiceAccountEmail names another).",
    ),
    case(
        "gke-no-default-compute-service-account",
        "'default'",
        R(NODE_POOL, "serve-v6e", edited(SINGLE_HOST_POOL, {"nodeConfig.serviceAccount": "default"})),
        "NodePool 'serve-v6e' (gcp:container/nodePool:NodePool) runs its nodes (nodeConfig) as the Compute Engine default service account (serviceAccount is 'default'); set nodeConfig.serviceAccount to a dedicated service account with roles/container.defaultNodeServiceAccount (GkeTpuCluster creates one unless nodeServiceAccountEmail names another).",
    ),
    case(
        "gke-no-default-compute-service-account",
        "cluster's own nodes without an account",
        R(CLUSTER, "serve-cluster", edited(GOOD_CLUSTER, {"nodeConfig.serviceAccount": DELETE})),
        "Cluster 'serve-cluster' (gcp:container/cluster:Cluster) runs its nodes (nodeConfig) as the Compute Engine default service account (serviceAccount is not set); set nodeConfig.serviceAccount to a dedicated service account with roles/container.defaultNodeServiceAccount (GkeTpuCluster creates one unless nodeServiceAccountEmail names another).",
    ),
    case(
        "gke-no-default-compute-service-account",
        "node auto-provisioning without an account",
        R(CLUSTER, "serve-cluster", edited(GOOD_CLUSTER, {"clusterAutoscaling": {"enabled": True}})),
        "Cluster 'serve-cluster' (gcp:container/cluster:Cluster) auto-provisions nodes as the Compute Engine default service account (serviceAccount is not set); set clusterAutoscaling.autoProvisioningDefaults.serviceAccount to a dedicated service account.",
    ),
    # gke-shielded-nodes
    case("gke-shielded-nodes", "cluster", R(CLUSTER, "serve-cluster", GOOD_CLUSTER)),
    case(
        "gke-shielded-nodes",
        "cluster without shielded nodes",
        R(CLUSTER, "serve-cluster", edited(GOOD_CLUSTER, {"enableShieldedNodes": False})),
        "Cluster 'serve-cluster' (gcp:container/cluster:Cluster) does not require shielded nodes; set enableShieldedNodes: true so every node proves its boot integrity before it joins the cluster.",
    ),
    case(
        "gke-shielded-nodes",
        "pool without Secure Boot",
        R(NODE_POOL, "serve-v6e", edited(SINGLE_HOST_POOL, {"nodeConfig.shieldedInstanceConfig": DELETE})),
        "NodePool 'serve-v6e' (gcp:container/nodePool:NodePool) boots its nodes (nodeConfig) without Secure Boot; set nodeConfig.shieldedInstanceConfig.enableSecureBoot: true.",
    ),
    # gke-release-channel
    case("gke-release-channel", "REGULAR", R(CLUSTER, "serve-cluster", GOOD_CLUSTER)),
    case(
        "gke-release-channel",
        "UNSPECIFIED",
        R(CLUSTER, "serve-cluster", edited(GOOD_CLUSTER, {"releaseChannel.channel": "UNSPECIFIED"})),
        "Cluster 'serve-cluster' (gcp:container/cluster:Cluster) is on no release channel (releaseChannel.channel is UNSPECIFIED); set releaseChannel.channel to REGULAR (or RAPID, STABLE, EXTENDED) so GKE keeps the control plane and nodes on supported, patched versions.",
    ),
    case(
        "gke-release-channel",
        "not set",
        R(CLUSTER, "serve-cluster", edited(GOOD_CLUSTER, {"releaseChannel": DELETE})),
        "Cluster 'serve-cluster' (gcp:container/cluster:Cluster) is on no release channel (releaseChannel.channel is not set); set releaseChannel.channel to REGULAR (or RAPID, STABLE, EXTENDED) so GKE keeps the control plane and nodes on supported, patched versions.",
    ),
    # gke-control-plane-access
    case("gke-control-plane-access", "DNS endpoint only", R(CLUSTER, "serve-cluster", GOOD_CLUSTER)),
    case(
        "gke-control-plane-access",
        "authorized networks",
        R(
            CLUSTER,
            "serve-cluster",
            edited(
                GOOD_CLUSTER,
                {
                    "controlPlaneEndpointsConfig.ipEndpointsConfig.enabled": True,
                    "masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "203.0.113.0/24"}]},
                },
            ),
        ),
    ),
    case(
        "gke-control-plane-access",
        "public on purpose",
        R(
            CLUSTER,
            "serve-cluster",
            edited(
                GOOD_CLUSTER,
                {
                    "controlPlaneEndpointsConfig": DELETE,
                    "resourceLabels": {"gke-tpu-serving-public-control-plane": "true"},
                },
            ),
        ),
    ),
    case(
        "gke-control-plane-access",
        "hand-written public cluster",
        R(CLUSTER, "serve-cluster", edited(GOOD_CLUSTER, {"controlPlaneEndpointsConfig": DELETE})),
        "Cluster 'serve-cluster' (gcp:container/cluster:Cluster) opens its control plane's IP endpoint to the internet (no masterAuthorizedNetworksConfig); set controlPlaneEndpointsConfig.ipEndpointsConfig.enabled to false and reach it through the DNS-based endpoint (IAM-authorized), or list only your networks in masterAuthorizedNetworksConfig.cidrBlocks; to open it on purpose, label the cluster gke-tpu-serving-public-control-plane=true (GkeTpuCluster's public_endpoint does).",
    ),
    case(
        "gke-control-plane-access",
        "authorized networks of the whole internet",
        R(
            CLUSTER,
            "serve-cluster",
            edited(
                GOOD_CLUSTER,
                {
                    "controlPlaneEndpointsConfig.ipEndpointsConfig.enabled": True,
                    "masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "0.0.0.0/0"}]},
                },
            ),
        ),
        "Cluster 'serve-cluster' (gcp:container/cluster:Cluster) opens its control plane's IP endpoint to the internet (masterAuthorizedNetworksConfig.cidrBlocks[0].cidrBlock is 0.0.0.0/0); set controlPlaneEndpointsConfig.ipEndpointsConfig.enabled to false and reach it through the DNS-based endpoint (IAM-authorized), or list only your networks in masterAuthorizedNetworksConfig.cidrBlocks; to open it on purpose, label the cluster gke-tpu-serving-public-control-plane=true (GkeTpuCluster's public_endpoint does).",
    ),
    case(
        "gke-control-plane-access",
        "not known until the cluster exists",
        R(CLUSTER, "serve-cluster", edited(GOOD_CLUSTER, {"controlPlaneEndpointsConfig": UNKNOWN})),
    ),
    # gke-no-legacy-auth
    case("gke-no-legacy-auth", "IAM and RBAC only", R(CLUSTER, "serve-cluster", GOOD_CLUSTER)),
    case(
        "gke-no-legacy-auth",
        "legacy ABAC",
        R(CLUSTER, "serve-cluster", edited(GOOD_CLUSTER, {"enableLegacyAbac": True})),
        "Cluster 'serve-cluster' (gcp:container/cluster:Cluster) enables legacy ABAC, which grants access outside RBAC; remove enableLegacyAbac (or set it to false).",
    ),
    case(
        "gke-no-legacy-auth",
        "client certificate",
        R(
            CLUSTER,
            "serve-cluster",
            edited(GOOD_CLUSTER, {"masterAuth": {"clientCertificateConfig": {"issueClientCertificate": True}}}),
        ),
        "Cluster 'serve-cluster' (gcp:container/cluster:Cluster) issues a long-lived client certificate for the cluster admin; set masterAuth.clientCertificateConfig.issueClientCertificate to false (authenticate through IAM).",
    ),
    # gke-tpu-slice-placement
    case("gke-tpu-slice-placement", "single-host without placement", R(NODE_POOL, "serve-v6e", SINGLE_HOST_POOL)),
    case("gke-tpu-slice-placement", "multi-host slice", R(NODE_POOL, "serve-v5e", MULTI_HOST_POOL)),
    case(
        "gke-tpu-slice-placement",
        "multi-host slice scaling 0 to 8",
        R(
            NODE_POOL,
            "serve-v5e",
            edited(MULTI_HOST_POOL, {"nodeCount": DELETE, "autoscaling": {"minNodeCount": 0, "maxNodeCount": 8}}),
        ),
    ),
    case(
        "gke-tpu-slice-placement",
        "CPU pool with a compact placement",
        R(
            NODE_POOL,
            "serve-cpu",
            edited(
                SINGLE_HOST_POOL, {"nodeConfig.machineType": "n2-standard-8", "placementPolicy": {"type": "COMPACT"}}
            ),
        ),
    ),
    case(
        "gke-tpu-slice-placement",
        "node count is not the host count",
        R(NODE_POOL, "serve-v5e", edited(MULTI_HOST_POOL, {"nodeCount": 4})),
        "NodePool 'serve-v5e' (gcp:container/nodePool:NodePool) sets nodeCount to 4, but a 4x8 slice of ct5lp-hightpu-4t VMs has 8 hosts; set nodeCount to 8 (one node pool per slice; GKE rejects any other count).",
    ),
    case(
        "gke-tpu-slice-placement",
        "autoscaling beyond one slice",
        R(
            NODE_POOL,
            "serve-v5e",
            edited(MULTI_HOST_POOL, {"nodeCount": DELETE, "autoscaling": {"minNodeCount": 0, "maxNodeCount": 16}}),
        ),
        "NodePool 'serve-v5e' (gcp:container/nodePool:NodePool) sets autoscaling.maxNodeCount to 16, but a 4x8 slice of ct5lp-hightpu-4t VMs has 8 hosts; set autoscaling.maxNodeCount to 8 (one node pool per slice; GKE rejects any other count).",
    ),
    case(
        "gke-tpu-slice-placement",
        "no node count",
        R(NODE_POOL, "serve-v5e", edited(MULTI_HOST_POOL, {"nodeCount": DELETE})),
        "NodePool 'serve-v5e' (gcp:container/nodePool:NodePool) sets no node count, but a 4x8 slice of ct5lp-hightpu-4t VMs has 8 hosts; set nodeCount to 8.",
    ),
    case(
        "gke-tpu-slice-placement",
        "multi-host topology without COMPACT",
        R(NODE_POOL, "serve-v5e", edited(MULTI_HOST_POOL, {"placementPolicy.type": DELETE})),
        "NodePool 'serve-v5e' (gcp:container/nodePool:NodePool) spans 8 hosts (4x8 on ct5lp-hightpu-4t) but its placementPolicy.type is not set; set placementPolicy.type to COMPACT so GKE places the slice's VMs on one interconnect.",
    ),
    case(
        "gke-tpu-slice-placement",
        "placement without a topology",
        R(NODE_POOL, "serve-v5e", edited(MULTI_HOST_POOL, {"placementPolicy.tpuTopology": DELETE})),
        "NodePool 'serve-v5e' (gcp:container/nodePool:NodePool) carries placementPolicy without a tpuTopology on TPU machine type ct5lp-hightpu-4t; remove placementPolicy for single-host slices, or give a multi-host slice type COMPACT and its tpuTopology.",
    ),
    case(
        "gke-tpu-slice-placement",
        "single-host slice with a placement policy",
        R(
            NODE_POOL,
            "serve-v6e",
            edited(SINGLE_HOST_POOL, {"placementPolicy": {"type": "COMPACT", "tpuTopology": "2x4"}}),
        ),
        "NodePool 'serve-v6e' (gcp:container/nodePool:NodePool) carries a placement policy, but topology 2x4 on ct6e-standard-8t is a single-host slice; remove placementPolicy (GKE rejects a TPU topology on single-host pools).",
    ),
    case(
        "gke-tpu-slice-placement",
        "topology the catalog rejects",
        R(NODE_POOL, "serve-v5e", edited(MULTI_HOST_POOL, {"placementPolicy.tpuTopology": "4x4x4"})),
        "NodePool 'serve-v5e' (gcp:container/nodePool:NodePool) asks for a TPU slice the catalog rejects: topology '4x4x4' is not valid for TPU v5e on ct5lp-hightpu-4t; allowed: 2x2 (single-host), 2x4, 4x4, 4x8, 8x8, 8x16, 16x16 (multi-host); set placementPolicy.tpuTopology to one of those.",
    ),
    case(
        "gke-tpu-slice-placement",
        "TPU machine type the catalog lacks",
        R(NODE_POOL, "serve-v6e", edited(SINGLE_HOST_POOL, {"nodeConfig.machineType": "ct6e-standard-2t"})),
        "NodePool 'serve-v6e' (gcp:container/nodePool:NodePool) uses TPU machine type 'ct6e-standard-2t', which the TPU catalog does not list; set nodeConfig.machineType to one of ct4p-hightpu-4t, ct5lp-hightpu-1t, ct5lp-hightpu-4t, ct5lp-hightpu-8t, ct5p-hightpu-4t, ct6e-standard-1t, ct6e-standard-4t, ct6e-standard-8t, tpu7x-standard-4t (or add the new type to gke_tpu_serving.catalog).",
    ),
    case(
        "gke-tpu-slice-placement",
        "cluster's inline pool",
        R(CLUSTER, "serve-cluster", edited(GOOD_CLUSTER, {"nodePools": [edited(MULTI_HOST_POOL, {"nodeCount": 2})]})),
        "Cluster 'serve-cluster' (gcp:container/cluster:Cluster) sets nodePools[0].nodeCount to 2, but a 4x8 slice of ct5lp-hightpu-4t VMs has 8 hosts; set nodePools[0].nodeCount to 8 (one node pool per slice; GKE rejects any other count).",
    ),
    # iam-no-project-level-storage-roles
    case(
        "iam-no-project-level-storage-roles",
        "storage role on a bucket",
        R(
            BUCKET_MEMBER,
            "weights-read",
            {"bucket": "b", "role": "roles/storage.objectViewer", "member": "user:a@x.io"},
        ),
    ),
    case(
        "iam-no-project-level-storage-roles",
        "other role on the project",
        R(PROJECT_MEMBER, "metrics", {"project": "p", "role": "roles/monitoring.viewer", "member": "user:a@x.io"}),
    ),
    case(
        "iam-no-project-level-storage-roles",
        "storage admin on the project (the seeds' grant)",
        R(PROJECT_MEMBER, "sax-storage", {"project": "p", "role": "roles/storage.admin", "member": "user:a@x.io"}),
        "IAMMember 'sax-storage' (gcp:projects/iAMMember:IAMMember) grants roles/storage.admin on the whole project; grant it on the bucket instead (a gcp.storage.BucketIAMMember, as GcsFuseBucket's grants do), so the member reaches only that bucket's objects.",
    ),
    case(
        "iam-no-project-level-storage-roles",
        "folder binding",
        R(
            FOLDER_BINDING,
            "team",
            {"folder": "folders/1", "role": "roles/storage.objectAdmin", "members": ["group:ml@x.io"]},
        ),
        "IAMBinding 'team' (gcp:folder/iAMBinding:IAMBinding) grants roles/storage.objectAdmin on the whole folder; grant it on the bucket instead (a gcp.storage.BucketIAMMember, as GcsFuseBucket's grants do), so the member reaches only that bucket's objects.",
    ),
    case(
        "iam-no-project-level-storage-roles",
        "project policy document",
        R(
            PROJECT_POLICY,
            "project-policy",
            {
                "project": "p",
                "policyData": '{"bindings": [{"role": "roles/storage.objectViewer", "members": ["user:a@x.io"]}]}',
            },
        ),
        "IAMPolicy 'project-policy' (gcp:projects/iAMPolicy:IAMPolicy) grants roles/storage.objectViewer on the whole project; grant it on the bucket instead (a gcp.storage.BucketIAMMember, as GcsFuseBucket's grants do), so the member reaches only that bucket's objects.",
    ),
    # iam-no-basic-roles
    case(
        "iam-no-basic-roles",
        "predefined role",
        R(PROJECT_MEMBER, "metrics", {"project": "p", "role": "roles/monitoring.viewer", "member": "user:a@x.io"}),
    ),
    case(
        "iam-no-basic-roles",
        "editor binding",
        R(PROJECT_BINDING, "editors", {"project": "p", "role": "roles/editor", "members": ["group:ml@x.io"]}),
        "IAMBinding 'editors' (gcp:projects/iAMBinding:IAMBinding) grants the basic role roles/editor; grant the predefined roles the member needs instead (basic roles reach nearly every service of the project).",
    ),
    case(
        "iam-no-basic-roles",
        "organization owner",
        R(ORGANIZATION_MEMBER, "owner", {"orgId": "1", "role": "roles/owner", "member": "user:a@x.io"}),
        "IAMMember 'owner' (gcp:organizations/iAMMember:IAMMember) grants the basic role roles/owner; grant the predefined roles the member needs instead (basic roles reach nearly every service of the project).",
    ),
    # iam-no-public-principals
    case(
        "iam-no-public-principals",
        "a service account",
        R(
            BUCKET_MEMBER,
            "read",
            {"bucket": "b", "role": "roles/storage.objectViewer", "member": f"serviceAccount:{NODE_ACCOUNT}"},
        ),
    ),
    case(
        "iam-no-public-principals",
        "allUsers",
        R(BUCKET_MEMBER, "public-read", {"bucket": "b", "role": "roles/storage.objectViewer", "member": "allUsers"}),
        "BucketIAMMember 'public-read' (gcp:storage/bucketIAMMember:BucketIAMMember) grants roles/storage.objectViewer to allUsers, which makes it public; grant it to specific principals (a service account or a Workload Identity principal) instead.",
    ),
    case(
        "iam-no-public-principals",
        "allAuthenticatedUsers in a binding",
        R(
            PROJECT_BINDING,
            "viewers",
            {"project": "p", "role": "roles/monitoring.viewer", "members": ["user:a@x.io", "allAuthenticatedUsers"]},
        ),
        "IAMBinding 'viewers' (gcp:projects/iAMBinding:IAMBinding) grants roles/monitoring.viewer to allAuthenticatedUsers, which makes it public; grant it to specific principals (a service account or a Workload Identity principal) instead.",
    ),
    # storage-bucket-private
    case("storage-bucket-private", "private", R(BUCKET, "weights-bucket", GOOD_BUCKET, protect=True)),
    case(
        "storage-bucket-private",
        "object ACLs",
        R(BUCKET, "weights-bucket", edited(GOOD_BUCKET, {"uniformBucketLevelAccess": False}), protect=True),
        "Bucket 'weights-bucket' (gcp:storage/bucket:Bucket) does not enforce uniform bucket-level access; set uniformBucketLevelAccess: true so IAM alone, not per-object ACLs, governs who reads it.",
    ),
    case(
        "storage-bucket-private",
        "public access prevention inherited",
        R(BUCKET, "weights-bucket", edited(GOOD_BUCKET, {"publicAccessPrevention": "inherited"}), protect=True),
        "Bucket 'weights-bucket' (gcp:storage/bucket:Bucket) does not enforce public access prevention (publicAccessPrevention is inherited); set publicAccessPrevention: enforced.",
    ),
    case(
        "storage-bucket-private",
        "public access prevention not set",
        R(BUCKET, "weights-bucket", edited(GOOD_BUCKET, {"publicAccessPrevention": DELETE}), protect=True),
        "Bucket 'weights-bucket' (gcp:storage/bucket:Bucket) does not enforce public access prevention (publicAccessPrevention is not set); set publicAccessPrevention: enforced.",
    ),
    # storage-bucket-protected
    case("storage-bucket-protected", "protected", R(BUCKET, "weights-bucket", GOOD_BUCKET, protect=True)),
    case("storage-bucket-protected", "regenerable cache unprotected", R(BUCKET, "cache-bucket", CACHE_BUCKET)),
    case(
        "storage-bucket-protected",
        "unprotected",
        R(BUCKET, "weights-bucket", GOOD_BUCKET),
        "Bucket 'weights-bucket' (gcp:storage/bucket:Bucket) is not protected; set the protect resource option (GcsFuseBucket protects by default), or, if its contents can be rebuilt, label it gke-tpu-serving-contents: regenerable-cache.",
    ),
    case(
        "storage-bucket-protected",
        "regenerable cache force-destroyed",
        R(BUCKET, "cache-bucket", edited(CACHE_BUCKET, {"forceDestroy": True})),
        "Bucket 'cache-bucket' (gcp:storage/bucket:Bucket) sets forceDestroy: true, so deleting the resource deletes every object in it; remove forceDestroy (empty the bucket deliberately when it must go).",
    ),
    # kubernetes-no-public-exposure
    case("kubernetes-no-public-exposure", "ClusterIP", R(SERVICE, "server", GOOD_SERVICE)),
    case(
        "kubernetes-no-public-exposure",
        "internal LoadBalancer",
        R(SERVICE, "server", edited(GOOD_SERVICE, {"spec.type": "LoadBalancer", "metadata.annotations": INTERNAL})),
    ),
    case(
        "kubernetes-no-public-exposure",
        "public LoadBalancer opted into",
        R(SERVICE, "server", edited(GOOD_SERVICE, {"spec.type": "LoadBalancer", "metadata.annotations": OPT_IN})),
    ),
    case(
        "kubernetes-no-public-exposure",
        "public LoadBalancer",
        R(SERVICE, "server", edited(GOOD_SERVICE, {"spec.type": "LoadBalancer"})),
        "Service 'server' (kubernetes:core/v1:Service) is a public LoadBalancer Service; use type ClusterIP, make it internal with the annotation networking.gke.io/load-balancer-type: Internal, or, where stack config asks for public exposure, annotate it gke-tpu-serving/public-exposure: \"true\".",
    ),
    case(
        "kubernetes-no-public-exposure",
        "NodePort (an internal annotation does not help)",
        R(SERVICE, "server", edited(GOOD_SERVICE, {"spec.type": "NodePort", "metadata.annotations": INTERNAL})),
        "Service 'server' (kubernetes:core/v1:Service) opens a NodePort on every node; use type ClusterIP or an internal LoadBalancer, or, where stack config asks for public exposure, annotate it gke-tpu-serving/public-exposure: \"true\".",
    ),
    case(
        "kubernetes-no-public-exposure",
        "externalIPs",
        R(SERVICE, "server", edited(GOOD_SERVICE, {"spec.externalIPs": ["203.0.113.7"]})),
        "Service 'server' (kubernetes:core/v1:Service) receives traffic on spec.externalIPs; remove them, or, where stack config asks for public exposure, annotate it gke-tpu-serving/public-exposure: \"true\".",
    ),
    case(
        "kubernetes-no-public-exposure",
        "internal Ingress",
        R(INGRESS, "server", _ingress(ingressClassName="gce-internal")),
    ),
    case(
        "kubernetes-no-public-exposure",
        "external Ingress",
        R(INGRESS, "server", _ingress()),
        "Ingress 'server' (kubernetes:networking.k8s.io/v1:Ingress) makes GKE create an external HTTP(S) load balancer; set spec.ingressClassName to gce-internal, or, where stack config asks for public exposure, annotate it gke-tpu-serving/public-exposure: \"true\".",
    ),
    case(
        "kubernetes-no-public-exposure",
        "external Gateway",
        R(
            GATEWAY,
            "edge",
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "metadata": {"name": "edge"},
                "spec": {
                    "gatewayClassName": "gke-l7-global-external-managed",
                    "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}],
                },
            },
        ),
        'Gateway \'edge\' (kubernetes:gateway.networking.k8s.io/v1:Gateway) uses the external GatewayClass gke-l7-global-external-managed; use an internal class such as gke-l7-rilb, put every backend behind Identity-Aware Proxy and annotate it gke-tpu-serving/identity-aware-proxy: "true" (TenantGateway does both), or, where stack config asks for public exposure, annotate it gke-tpu-serving/public-exposure: "true".',
    ),
    case(
        "kubernetes-no-public-exposure",
        "external Gateway behind IAP",
        R(
            GATEWAY,
            "tenants",
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "metadata": {"name": "tenants", "annotations": {"gke-tpu-serving/identity-aware-proxy": "true"}},
                "spec": {
                    "gatewayClassName": "gke-l7-global-external-managed",
                    "listeners": [{"name": "https", "port": 443, "protocol": "HTTPS"}],
                },
            },
        ),
    ),
    # kubernetes-resource-requests
    case("kubernetes-resource-requests", "cpu and memory", R(DEPLOYMENT, "server", GOOD_DEPLOYMENT)),
    case("kubernetes-resource-requests", "TPU chips only", R(JOB_SET, "sax-model", GOOD_JOB_SET)),
    case(
        "kubernetes-resource-requests",
        "limits stand in for requests",
        R(
            DEPLOYMENT,
            "server",
            edited(GOOD_DEPLOYMENT, {f"{DEPLOYMENT_CONTAINER}.resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}),
        ),
    ),
    case(
        "kubernetes-resource-requests",
        "no resources",
        R(DEPLOYMENT, "server", edited(GOOD_DEPLOYMENT, {f"{DEPLOYMENT_CONTAINER}.resources": DELETE})),
        "Deployment 'server' (kubernetes:apps/v1:Deployment) runs container 'server' (spec.template.spec.containers[0]) without a cpu or memory request; set resources.requests.cpu and resources.requests.memory, or request the accelerator it runs on (google.com/tpu or nvidia.com/gpu), so the scheduler can place and protect it.",
    ),
    case(
        "kubernetes-resource-requests",
        "CronJob with memory only",
        R(
            CRON_JOB,
            "sync",
            edited(
                GOOD_CRON_JOB,
                {"spec.jobTemplate.spec.template.spec.containers.0.resources": {"requests": {"memory": "1Gi"}}},
            ),
        ),
        "CronJob 'sync' (kubernetes:batch/v1:CronJob) runs container 'worker' (spec.jobTemplate.spec.template.spec.containers[0]) without a cpu request; set resources.requests.cpu and resources.requests.memory, or request the accelerator it runs on (google.com/tpu or nvidia.com/gpu), so the scheduler can place and protect it.",
    ),
    case(
        "kubernetes-resource-requests",
        "init container",
        R(JOB, "stage", edited(GOOD_JOB, {"spec.template.spec.initContainers": [{"name": "fetch", "image": IMAGE}]})),
        "Job 'stage' (kubernetes:batch/v1:Job) runs container 'fetch' (spec.template.spec.initContainers[0]) without a cpu or memory request; set resources.requests.cpu and resources.requests.memory, or request the accelerator it runs on (google.com/tpu or nvidia.com/gpu), so the scheduler can place and protect it.",
    ),
    case(
        "kubernetes-resource-requests",
        "RayService worker",
        R(
            RAY_SERVICE,
            "stable-diffusion",
            edited(GOOD_RAY_SERVICE, {f"{RAY_SPEC}.workerGroupSpecs.0.template.spec.containers.0.resources": DELETE}),
        ),
        "RayService 'stable-diffusion' (kubernetes:ray.io/v1:RayService) runs container 'ray-worker' (spec.rayClusterConfig.workerGroupSpecs[0].template.spec.containers[0]) without a cpu or memory request; set resources.requests.cpu and resources.requests.memory, or request the accelerator it runs on (google.com/tpu or nvidia.com/gpu), so the scheduler can place and protect it.",
    ),
    # kubernetes-probes
    case("kubernetes-probes", "readiness and liveness", R(DEPLOYMENT, "server", GOOD_DEPLOYMENT)),
    case(
        "kubernetes-probes",
        "startup and liveness",
        R(
            DEPLOYMENT,
            "server",
            edited(
                GOOD_DEPLOYMENT,
                {
                    f"{DEPLOYMENT_CONTAINER}.readinessProbe": DELETE,
                    f"{DEPLOYMENT_CONTAINER}.startupProbe": {"httpGet": {"path": "/health", "port": "http"}},
                },
            ),
        ),
    ),
    case("kubernetes-probes", "Job", R(JOB, "stage", GOOD_JOB)),
    case("kubernetes-probes", "JobSet", R(JOB_SET, "sax-model", GOOD_JOB_SET)),
    case(
        "kubernetes-probes",
        "Ray containers (KubeRay injects probes)",
        R(RAY_SERVICE, "stable-diffusion", GOOD_RAY_SERVICE),
    ),
    case(
        "kubernetes-probes",
        "Pod that is never restarted",
        R(
            POD,
            "once",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "once"},
                "spec": {"restartPolicy": "Never", "containers": [batch_container()]},
            },
        ),
    ),
    case(
        "kubernetes-probes",
        "no probes",
        R(
            DEPLOYMENT,
            "server",
            edited(
                GOOD_DEPLOYMENT,
                {f"{DEPLOYMENT_CONTAINER}.readinessProbe": DELETE, f"{DEPLOYMENT_CONTAINER}.livenessProbe": DELETE},
            ),
        ),
        "Deployment 'server' (kubernetes:apps/v1:Deployment) runs long-running container 'server' (spec.template.spec.containers[0]) without a liveness probe or a readiness probe; add a livenessProbe and a readinessProbe (a startupProbe may stand in for the readiness probe while a slow server compiles and loads).",
    ),
    case(
        "kubernetes-probes",
        "readiness only",
        R(
            STATEFUL_SET,
            "server",
            edited(
                workload("StatefulSet", pod_template(container())), {f"{DEPLOYMENT_CONTAINER}.livenessProbe": DELETE}
            ),
        ),
        "StatefulSet 'server' (kubernetes:apps/v1:StatefulSet) runs long-running container 'server' (spec.template.spec.containers[0]) without a liveness probe; add a livenessProbe and a readinessProbe (a startupProbe may stand in for the readiness probe while a slow server compiles and loads).",
    ),
    case(
        "kubernetes-probes",
        "bare Pod",
        R(
            POD,
            "debug",
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "debug"},
                "spec": {"containers": [batch_container("shell")]},
            },
        ),
        "Pod 'debug' (kubernetes:core/v1:Pod) runs long-running container 'shell' (spec.containers[0]) without a liveness probe or a readiness probe; add a livenessProbe and a readinessProbe (a startupProbe may stand in for the readiness probe while a slow server compiles and loads).",
    ),
    case(
        "kubernetes-probes",
        "native sidecar",
        R(
            DEPLOYMENT,
            "server",
            edited(
                GOOD_DEPLOYMENT,
                {"spec.template.spec.initContainers": [batch_container("cache-sync", restartPolicy="Always")]},
            ),
        ),
        "Deployment 'server' (kubernetes:apps/v1:Deployment) runs long-running container 'cache-sync' (spec.template.spec.initContainers[0]) without a liveness probe or a readiness probe; add a livenessProbe and a readinessProbe (a startupProbe may stand in for the readiness probe while a slow server compiles and loads).",
    ),
    case(
        "kubernetes-probes",
        "sidecar of a Ray head",
        R(
            RAY_SERVICE,
            "stable-diffusion",
            edited(
                GOOD_RAY_SERVICE,
                {
                    f"{RAY_SPEC}.headGroupSpec.template.spec.containers": [
                        ray_container("ray-head", resources={"requests": {"cpu": "2", "memory": "8Gi"}}),
                        batch_container("log-shipper"),
                    ]
                },
            ),
        ),
        "RayService 'stable-diffusion' (kubernetes:ray.io/v1:RayService) runs long-running container 'log-shipper' (spec.rayClusterConfig.headGroupSpec.template.spec.containers[1]) without a liveness probe or a readiness probe; add a livenessProbe and a readinessProbe (a startupProbe may stand in for the readiness probe while a slow server compiles and loads).",
    ),
    # kubernetes-pinned-images
    case("kubernetes-pinned-images", "tag", R(DEPLOYMENT, "server", GOOD_DEPLOYMENT)),
    case(
        "kubernetes-pinned-images",
        "digest",
        R(
            DEPLOYMENT,
            "server",
            edited(GOOD_DEPLOYMENT, {f"{DEPLOYMENT_CONTAINER}.image": "vllm/vllm-tpu@sha256:" + "0" * 64}),
        ),
    ),
    case(
        "kubernetes-pinned-images",
        "registry port and tag",
        R(
            DEPLOYMENT,
            "server",
            edited(GOOD_DEPLOYMENT, {f"{DEPLOYMENT_CONTAINER}.image": "localhost:5000/server:1.0"}),
        ),
    ),
    case(
        "kubernetes-pinned-images",
        "no tag",
        R(DEPLOYMENT, "server", edited(GOOD_DEPLOYMENT, {f"{DEPLOYMENT_CONTAINER}.image": "vllm/vllm-tpu"})),
        "Deployment 'server' (kubernetes:apps/v1:Deployment) runs container 'server' (spec.template.spec.containers[0]) from image 'vllm/vllm-tpu', which has no tag, which means latest; pin it to a version tag (REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST) so every rollout runs the same code.",
    ),
    case(
        "kubernetes-pinned-images",
        "registry port without a tag",
        R(DEPLOYMENT, "server", edited(GOOD_DEPLOYMENT, {f"{DEPLOYMENT_CONTAINER}.image": "localhost:5000/server"})),
        "Deployment 'server' (kubernetes:apps/v1:Deployment) runs container 'server' (spec.template.spec.containers[0]) from image 'localhost:5000/server', which has no tag, which means latest; pin it to a version tag (REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST) so every rollout runs the same code.",
    ),
    case(
        "kubernetes-pinned-images",
        "latest in an init container",
        R(
            JOB,
            "stage",
            edited(
                GOOD_JOB,
                {"spec.template.spec.initContainers": [batch_container("fetch", image="google/cloud-sdk:latest")]},
            ),
        ),
        "Job 'stage' (kubernetes:batch/v1:Job) runs container 'fetch' (spec.template.spec.initContainers[0]) from image 'google/cloud-sdk:latest', which uses the moving tag latest; pin it to a version tag (REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST) so every rollout runs the same code.",
    ),
    case(
        "kubernetes-pinned-images",
        "truncated digest",
        R(DEPLOYMENT, "server", edited(GOOD_DEPLOYMENT, {f"{DEPLOYMENT_CONTAINER}.image": "vllm/vllm-tpu@sha256:abc"})),
        "Deployment 'server' (kubernetes:apps/v1:Deployment) runs container 'server' (spec.template.spec.containers[0]) from image 'vllm/vllm-tpu@sha256:abc', which has a malformed digest; pin it to a version tag (REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST) so every rollout runs the same code.",
    ),
    case(
        "kubernetes-pinned-images",
        "no image",
        R(DEPLOYMENT, "server", edited(GOOD_DEPLOYMENT, {f"{DEPLOYMENT_CONTAINER}.image": DELETE})),
        "Deployment 'server' (kubernetes:apps/v1:Deployment) runs container 'server' (spec.template.spec.containers[0]) without an image; set its image and pin it to a version tag (REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST) so every rollout runs the same code.",
    ),
    # kubernetes-no-privileged
    case("kubernetes-no-privileged", "unprivileged", R(DEPLOYMENT, "server", GOOD_DEPLOYMENT)),
    case(
        "kubernetes-no-privileged",
        "privileged with a reason",
        R(DAEMON_SET, "tpu-runtime", _privileged_daemon_set({"gke-tpu-serving/privileged-reason": "loads a driver"})),
    ),
    case(
        "kubernetes-no-privileged",
        "privileged",
        R(DAEMON_SET, "tpu-runtime", _privileged_daemon_set()),
        "DaemonSet 'tpu-runtime' (kubernetes:apps/v1:DaemonSet) runs container 'server' (spec.template.spec.containers[0]) privileged (securityContext.privileged: true); remove it (GKE exposes TPUs and GPUs as resources, without privileges), or, where it is truly needed, annotate the pod template (spec.template.metadata.annotations) with gke-tpu-serving/privileged-reason: <why>.",
    ),
    case(
        "kubernetes-no-privileged",
        "privileged with a blank reason",
        R(DAEMON_SET, "tpu-runtime", _privileged_daemon_set({"gke-tpu-serving/privileged-reason": "  "})),
        "DaemonSet 'tpu-runtime' (kubernetes:apps/v1:DaemonSet) runs container 'server' (spec.template.spec.containers[0]) privileged (securityContext.privileged: true); remove it (GKE exposes TPUs and GPUs as resources, without privileges), or, where it is truly needed, annotate the pod template (spec.template.metadata.annotations) with gke-tpu-serving/privileged-reason: <why>.",
    ),
    case(
        "kubernetes-no-privileged",
        "privilege escalation",
        R(
            DEPLOYMENT,
            "server",
            edited(GOOD_DEPLOYMENT, {f"{DEPLOYMENT_CONTAINER}.securityContext.allowPrivilegeEscalation": True}),
        ),
        "Deployment 'server' (kubernetes:apps/v1:Deployment) runs container 'server' (spec.template.spec.containers[0]) with privilege escalation allowed (securityContext.allowPrivilegeEscalation: true); remove it (GKE exposes TPUs and GPUs as resources, without privileges), or, where it is truly needed, annotate the pod template (spec.template.metadata.annotations) with gke-tpu-serving/privileged-reason: <why>.",
    ),
    case(
        "kubernetes-no-privileged",
        "SYS_ADMIN",
        R(
            JOB,
            "stage",
            edited(
                GOOD_JOB,
                {
                    "spec.template.spec.containers.0.securityContext.capabilities": {
                        "add": ["NET_BIND_SERVICE", "SYS_ADMIN"]
                    }
                },
            ),
        ),
        "Job 'stage' (kubernetes:batch/v1:Job) runs container 'worker' (spec.template.spec.containers[0]) with the capability SYS_ADMIN (securityContext.capabilities.add); remove it (GKE exposes TPUs and GPUs as resources, without privileges), or, where it is truly needed, annotate the pod template (spec.template.metadata.annotations) with gke-tpu-serving/privileged-reason: <why>.",
    ),
    # kubernetes-no-host-namespaces
    case("kubernetes-no-host-namespaces", "pod network", R(JOB_SET, "sax-model", GOOD_JOB_SET)),
    case(
        "kubernetes-no-host-namespaces",
        "host network with a reason",
        R(
            JOB_SET,
            "sax-model",
            edited(
                GOOD_JOB_SET,
                {
                    f"{JOB_SET_POD}.spec.hostNetwork": True,
                    f"{JOB_SET_POD}.metadata.annotations": {"gke-tpu-serving/host-network-reason": "TPU DCN bandwidth"},
                },
            ),
        ),
    ),
    case(
        "kubernetes-no-host-namespaces",
        "host network",
        R(JOB_SET, "sax-model", edited(GOOD_JOB_SET, {f"{JOB_SET_POD}.spec.hostNetwork": True})),
        "JobSet 'sax-model' (kubernetes:jobset.x-k8s.io/v1alpha2:JobSet) runs pods on the host network (spec.replicatedJobs[0].template.spec.template.spec.hostNetwork), where they bypass the GKE metadata server and act as the node's service account; remove hostNetwork, or annotate the pod template (spec.replicatedJobs[0].template.spec.template.metadata.annotations) with gke-tpu-serving/host-network-reason: <why>.",
    ),
    case(
        "kubernetes-no-host-namespaces",
        "host PID",
        R(
            DAEMON_SET,
            "node-agent",
            edited(workload("DaemonSet", pod_template(container())), {"spec.template.spec.hostPID": True}),
        ),
        "DaemonSet 'node-agent' (kubernetes:apps/v1:DaemonSet) shares the node's PID namespace with its pods (spec.template.spec.hostPID); remove hostPID.",
    ),
    # ray-dashboard-auth
    case("ray-dashboard-auth", "ClusterIP head with token auth", R(RAY_SERVICE, "stable-diffusion", GOOD_RAY_SERVICE)),
    case(
        "ray-dashboard-auth",
        "public head with token auth and the opt-in",
        R(
            RAY_SERVICE,
            "stable-diffusion",
            edited(
                GOOD_RAY_SERVICE,
                {f"{RAY_SPEC}.headGroupSpec.serviceType": "LoadBalancer", "metadata.annotations": OPT_IN},
            ),
        ),
    ),
    case(
        "ray-dashboard-auth",
        "internal LoadBalancer head with token auth",
        R(
            RAY_CLUSTER,
            "research",
            edited(
                GOOD_RAY_CLUSTER,
                {"spec.headGroupSpec.serviceType": "LoadBalancer", "spec.headServiceAnnotations": INTERNAL},
            ),
        ),
    ),
    case(
        "ray-dashboard-auth",
        "dashboard on 0.0.0.0 with token auth",
        R(
            RAY_CLUSTER,
            "research",
            edited(GOOD_RAY_CLUSTER, {"spec.headGroupSpec.rayStartParams": {"dashboard-host": "0.0.0.0"}}),
        ),
    ),
    case(
        "ray-dashboard-auth",
        "LoadBalancer head without auth or opt-in (the seed)",
        R(
            RAY_SERVICE,
            "stable-diffusion",
            edited(
                GOOD_RAY_SERVICE,
                {f"{RAY_SPEC}.authOptions": DELETE, f"{RAY_SPEC}.headGroupSpec.serviceType": "LoadBalancer"},
            ),
        ),
        'RayService \'stable-diffusion\' (kubernetes:ray.io/v1:RayService) exposes the Ray head, dashboard and job API included, outside the cluster (spec.rayClusterConfig.headGroupSpec.serviceType: LoadBalancer) without token authentication (spec.rayClusterConfig.authOptions.mode: token) and the opt-in annotation gke-tpu-serving/public-exposure: "true"; keep the head Service ClusterIP and reach the dashboard through kubectl port-forward, or add token authentication (spec.rayClusterConfig.authOptions.mode: token) and the opt-in annotation gke-tpu-serving/public-exposure: "true".',
    ),
    case(
        "ray-dashboard-auth",
        "LoadBalancer head with token auth but no opt-in",
        R(
            RAY_SERVICE,
            "stable-diffusion",
            edited(GOOD_RAY_SERVICE, {f"{RAY_SPEC}.headGroupSpec.serviceType": "LoadBalancer"}),
        ),
        'RayService \'stable-diffusion\' (kubernetes:ray.io/v1:RayService) exposes the Ray head, dashboard and job API included, outside the cluster (spec.rayClusterConfig.headGroupSpec.serviceType: LoadBalancer) without the opt-in annotation gke-tpu-serving/public-exposure: "true"; keep the head Service ClusterIP and reach the dashboard through kubectl port-forward, or add the opt-in annotation gke-tpu-serving/public-exposure: "true".',
    ),
    case(
        "ray-dashboard-auth",
        "dashboard on 0.0.0.0 with the token from the env (Ray's way without authOptions)",
        R(
            RAY_CLUSTER,
            "research",
            edited(
                GOOD_RAY_CLUSTER,
                {
                    "spec.authOptions": DELETE,
                    "spec.headGroupSpec.rayStartParams": {"dashboard-host": "0.0.0.0"},
                    "spec.headGroupSpec.template.spec.containers.0.env": [
                        {"name": "RAY_AUTH_MODE", "value": "token"},
                        {"name": "RAY_AUTH_TOKEN", "valueFrom": {"secretKeyRef": {"name": "t", "key": "auth_token"}}},
                    ],
                },
            ),
        ),
    ),
    case(
        "ray-dashboard-auth",
        "NodePort head Service with auth disabled",
        R(
            RAY_CLUSTER,
            "research",
            edited(
                GOOD_RAY_CLUSTER,
                {
                    "spec.authOptions.mode": "disabled",
                    "spec.headGroupSpec.headService": {"spec": {"type": "NodePort"}},
                    "metadata.annotations": OPT_IN,
                },
            ),
        ),
        "RayCluster 'research' (kubernetes:ray.io/v1:RayCluster) exposes the Ray head, dashboard and job API included, outside the cluster (spec.headGroupSpec.headService.spec.type: NodePort) without token authentication (spec.authOptions.mode: token); keep the head Service ClusterIP and reach the dashboard through kubectl port-forward, or add token authentication (spec.authOptions.mode: token).",
    ),
    case(
        "ray-dashboard-auth",
        "head Ingress",
        R(RAY_CLUSTER, "research", edited(GOOD_RAY_CLUSTER, {"spec.headGroupSpec.enableIngress": True})),
        'RayCluster \'research\' (kubernetes:ray.io/v1:RayCluster) exposes the Ray head, dashboard and job API included, outside the cluster (spec.headGroupSpec.enableIngress: true) without the opt-in annotation gke-tpu-serving/public-exposure: "true"; keep the head Service ClusterIP and reach the dashboard through kubectl port-forward, or add the opt-in annotation gke-tpu-serving/public-exposure: "true".',
    ),
    case(
        "ray-dashboard-auth",
        "dashboard on 0.0.0.0 without auth",
        R(
            RAY_CLUSTER,
            "research",
            edited(
                GOOD_RAY_CLUSTER,
                {"spec.authOptions": DELETE, "spec.headGroupSpec.rayStartParams": {"dashboard-host": "0.0.0.0"}},
            ),
        ),
        "RayCluster 'research' (kubernetes:ray.io/v1:RayCluster) binds the Ray dashboard to 0.0.0.0 (spec.headGroupSpec.rayStartParams.dashboard-host), where the head Service reaches it, without token authentication; set spec.authOptions.mode: token, or bind the dashboard to 127.0.0.1.",
    ),
    case(
        "ray-dashboard-auth",
        "internal Serve LoadBalancer",
        R(
            RAY_SERVICE,
            "stable-diffusion",
            edited(
                GOOD_RAY_SERVICE,
                {"spec.serveService": {"metadata": {"annotations": INTERNAL}, "spec": {"type": "LoadBalancer"}}},
            ),
        ),
    ),
    case(
        "ray-dashboard-auth",
        "public Serve LoadBalancer",
        R(
            RAY_SERVICE,
            "stable-diffusion",
            edited(GOOD_RAY_SERVICE, {"spec.serveService": {"spec": {"type": "LoadBalancer"}}}),
        ),
        "RayService 'stable-diffusion' (kubernetes:ray.io/v1:RayService) exposes its Serve endpoint publicly (spec.serveService.spec.type: LoadBalancer); use ClusterIP, an internal LoadBalancer (networking.gke.io/load-balancer-type: Internal), or, where stack config asks for public exposure, annotate it gke-tpu-serving/public-exposure: \"true\".",
    ),
]


def _messages(policy: str, resource: RecordedResource) -> list[str]:
    return [v.message for v in violations(preview(resource)) if v.policy == policy]


@pytest.mark.parametrize("rule", CASES)
def test_rule(rule: Case) -> None:
    assert _messages(rule.policy, rule.resource) == rule.messages


def test_every_resource_policy_has_a_passing_and_a_failing_case() -> None:
    cases: list[Case] = [param.values[0] for param in CASES]
    for policy in RESOURCE_POLICIES:
        outcomes = {bool(c.messages) for c in cases if c.policy == policy.name}
        assert outcomes == {True, False}, policy.name
    assert {c.policy for c in cases} == {policy.name for policy in RESOURCE_POLICIES}


def test_case_resources_fit_their_kubernetes_schemas() -> None:
    # The rules read real fields: every Kubernetes case resource is a valid object (custom resources against
    # the upstream CRDs, strictly, so a misspelt field such as `headServiceAnnotation` fails here).
    for param in CASES:
        resource = param.values[0].resource
        if resource.type.startswith("kubernetes:"):
            validate_manifest(resource.inputs)


@pytest.mark.parametrize(
    "resource",
    [
        R(CLUSTER, "serve-cluster", GOOD_CLUSTER),
        R(NODE_POOL, "serve-v5e", MULTI_HOST_POOL),
        R(BUCKET, "cache-bucket", CACHE_BUCKET),
        R(PROJECT_MEMBER, "metrics", {"project": "p", "role": "roles/monitoring.viewer", "member": "user:a@x.io"}),
        R(SERVICE, "server", GOOD_SERVICE),
        R(DEPLOYMENT, "server", GOOD_DEPLOYMENT),
        R(JOB_SET, "sax-model", GOOD_JOB_SET),
        R(RAY_SERVICE, "stable-diffusion", GOOD_RAY_SERVICE),
    ],
    ids=lambda resource: resource.type,
)
def test_unknown_values_pass_without_raising(resource: RecordedResource) -> None:
    # Under the CLI a rule that reads an unknown value is reported as "can't run during preview"; the rules
    # read around them instead, whether single values or whole objects are unknown.
    every_leaf = RecordedResource(**{**vars(resource), "inputs": all_unknown(resource.inputs)})
    every_field = RecordedResource(**{**vars(resource), "inputs": dict.fromkeys(resource.inputs, "[unknown]")})
    assert violations(preview(every_leaf), RESOURCE_POLICIES) == []
    assert violations(preview(every_field), RESOURCE_POLICIES) == []


def test_numbers_reach_the_rules_as_floats_as_under_the_cli() -> None:
    args = validation_args(R(NODE_POOL, "serve-v5e", MULTI_HOST_POOL))
    assert args.props["nodeCount"] == 8.0 and isinstance(args.props["nodeCount"], float)
    assert args.opts.protect is False


@pytest.fixture(scope="module")
def dev(shipped_stack: Callable[[str], PreviewResult]) -> PreviewResult:
    return shipped_stack("dev")


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_of_the_project_passes_every_policy(
    stack: str, shipped_stack: Callable[[str], PreviewResult]
) -> None:
    result = shipped_stack(stack)
    assert result.resources
    assert violations(result) == []


def test_the_project_has_stack_files() -> None:
    assert "dev" in STACKS


def _planted_project(tmp_path: Path, stack_text: str) -> Path:
    # The whole program, workloads/ included (the images' build variants are read from there).
    return program_with_stacks(tmp_path, {"planted": stack_text})


def _plant(text: str, anchor: str, addition: str) -> str:
    assert text.count(anchor) == 1, anchor
    return text.replace(anchor, anchor + addition)


def test_violations_planted_through_stack_config_are_reported_by_name(tmp_path: Path) -> None:
    stack = (ROOT / "Pulumi.dev.yaml").read_text()
    # The sd-v4 cluster's nodes run as the Compute Engine default account; the Saxml state bucket is unprotected;
    # Llama asks for a public load balancer with an API key, which config may do (the component adds the opt-in
    # annotation, and the server authenticates every request).
    stack = _plant(stack, "    - name: sd-v4\n", f"      nodeServiceAccountEmail: {DEFAULT_COMPUTE_ACCOUNT}\n")
    stack = _plant(stack, "    pool: v5e-4x8\n", "    protectBucket: false\n")
    stack = _plant(stack, "    targetQueueLength: 10\n", "    exposure: public-load-balancer\n")
    # A load balancer needs the API key, which vLLM then requires on every request.
    stack = stack.replace("offline:standInSecrets: [hfToken]", "offline:standInSecrets: [hfToken, apiKey]")
    result = run_program(_planted_project(tmp_path, stack), "planted")

    found = violations(result)
    assert sorted((v.policy, result.by_urn(v.resource_urn).name) for v in found) == [
        ("gke-no-default-compute-service-account", "sd-v4-cluster"),
        ("gke-no-default-compute-service-account", "sd-v4-system"),
        ("gke-no-default-compute-service-account", "sd-v4-tpu-v4"),
        ("storage-bucket-protected", "saxml-state-bucket"),
    ]
    assert (
        Violation(
            "storage-bucket-protected",
            result.one(BUCKET, "saxml-state-bucket").urn,
            "Bucket 'saxml-state-bucket' (gcp:storage/bucket:Bucket) is not protected; set the protect resource option (GcsFuseBucket protects by default), or, if its contents can be rebuilt, label it gke-tpu-serving-contents: regenerable-cache.",
        )
        in found
    )
    assert (
        "NodePool 'sd-v4-tpu-v4' (gcp:container/nodePool:NodePool) runs its nodes (nodeConfig) as the Compute Engine default service account (serviceAccount is '123456789012-compute@developer.gserviceaccount.com'); set nodeConfig.serviceAccount to a dedicated service account with roles/container.defaultNodeServiceAccount (GkeTpuCluster creates one unless nodeServiceAccountEmail names another)."
        in [v.message for v in found]
    )
    service = result.one(SERVICE, "vllm-llama").inputs
    assert service["spec"]["type"] == "LoadBalancer"


def test_policies_have_unique_names_and_the_stack_policies_are_integrity_budgets_and_authentication() -> None:
    names = [policy.name for policy in ALL_POLICIES]
    assert len(names) >= 15
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for name in names)
    assert all(policy.description for policy in ALL_POLICIES)
    stack_policies = [p for p in ALL_POLICIES if not isinstance(p, ResourceValidationPolicy)]
    assert stack_policies == [PLAN_INTEGRITY, DISRUPTION_BUDGETS, AUTHENTICATED_EXPOSURE]
    assert all(isinstance(policy, StackValidationPolicy) for policy in stack_policies)
    assert isinstance(ALL_POLICIES, list)  # PolicyPack(policies=...) takes only a list


def _is_main_guard(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Compare)
        and isinstance(node.test.left, ast.Name)
        and node.test.left.id == "__name__"
        and [type(op) for op in node.test.ops] == [ast.Eq]
        and [c.value for c in node.test.comparators if isinstance(c, ast.Constant)] == ["__main__"]
    )


def _pack_builders(module: ast.Module) -> set[str]:
    """Where a module calls PolicyPack(...): the names of the top-level functions, "<module>" for anywhere else."""
    found = set()
    for statement in module.body:
        for node in ast.walk(statement):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "PolicyPack"
            ):
                found.add(statement.name if isinstance(statement, ast.FunctionDef) else "<module>")
    return found


def test_the_pack_is_built_only_by_the_entry_point_when_run() -> None:
    # PolicyPack(...) starts the analyzer server and blocks: only policy/__main__.py builds one, inside main(),
    # which runs only as a script (the CLI runs the file with run_name "__main__").
    modules = {path.name: ast.parse(path.read_text()) for path in POLICY_DIR.glob("*.py")}
    assert {name: _pack_builders(module) for name, module in modules.items() if _pack_builders(module)} == {
        "__main__.py": {"main"}
    }
    top_level = [
        node
        for node in modules["__main__.py"].body
        if not isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef)
    ]
    docstring, guard = top_level
    assert isinstance(docstring, ast.Expr) and _is_main_guard(guard)
    entry = importlib.import_module("policy.__main__")  # safe: importing it runs no main()
    assert callable(entry.main)


def test_the_pack_project_declares_a_python_runtime_with_bounded_requirements() -> None:
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"] == ".venv"  # ignored by the project's .gitignore
    requirements = (POLICY_DIR / "requirements.txt").read_text().splitlines()
    assert "pulumi-policy>=1.20,<2" in requirements
    assert "pulumi>=3.272,<4" in requirements


def test_the_readme_describes_every_policy() -> None:
    readme = (POLICY_DIR / "README.md").read_text()
    for policy in ALL_POLICIES:
        assert f"`{policy.name}`" in readme, policy.name


def test_the_pinned_third_party_adapter_is_exempt_from_the_probe_rule_only() -> None:
    without_probes = workload("Deployment", pod_template(batch_container("adapter")))
    adapter = edited(without_probes, {"metadata.namespace": "custom-metrics"})
    assert _messages("kubernetes-probes", recorded(DEPLOYMENT, "adapter", adapter)) == []
    assert _messages("kubernetes-probes", recorded(DEPLOYMENT, "server", without_probes)) != []
    unpinned = edited(adapter, {"spec.template.spec.containers": [batch_container("adapter", image="adapter:latest")]})
    assert _messages("kubernetes-pinned-images", recorded(DEPLOYMENT, "adapter", unpinned)) != []


def _integrity(*resources: RecordedResource) -> list[str]:
    return [v.message for v in violations(preview(*resources)) if v.policy == "plan-integrity"]


def test_plan_integrity_passes_a_service_that_selects_the_plans_pods() -> None:
    namespace = R("kubernetes:core/v1:Namespace", "serving", {"metadata": {"name": "serving"}})
    assert _integrity(namespace, R(DEPLOYMENT, "server", GOOD_DEPLOYMENT), R(SERVICE, "server", GOOD_SERVICE)) == []


def test_plan_integrity_reports_a_service_that_selects_nothing_at_the_service() -> None:
    namespace = R("kubernetes:core/v1:Namespace", "serving", {"metadata": {"name": "serving"}})
    service = R(SERVICE, "server", edited(GOOD_SERVICE, {"spec.selector": {"app": "sever"}}))
    found = [v for v in violations(preview(namespace, R(DEPLOYMENT, "server", GOOD_DEPLOYMENT), service))]
    assert found == [
        Violation(
            "plan-integrity",
            service.urn,
            "Service serving/server selects pods labelled app=sever, but no workload of the plan in namespace "
            "'serving' has pods with those labels (integrity-selectors)",
        )
    ]


def test_plan_integrity_reads_unknown_values_through_the_analyzers_proxies() -> None:
    # Under the CLI props are proxies that raise on unknown values; the stack policy reads around them.
    service = R(SERVICE, "server", edited(GOOD_SERVICE, {"spec.selector": {"app": "[unknown]"}}))
    namespace = R("kubernetes:core/v1:Namespace", "serving", {"metadata": {"name": "serving"}})
    assert _integrity(namespace, R(DEPLOYMENT, "server", GOOD_DEPLOYMENT), service) == []
    args = stack_validation_args(preview(namespace, service))
    assert [r.name for r in args.resources] == ["serving", "server"]


def _unauthenticated(*resources: RecordedResource) -> list[str]:
    return [v.message for v in violations(preview(*resources)) if v.policy == "kubernetes-authenticated-exposure"]


_IAP_WAY = (
    "keep it ClusterIP and reach it through a Gateway with Identity-Aware Proxy (a GCPBackendPolicy with "
    "spec.default.iap.enabled: true on the Service; TenantGateway renders both)"
)


def test_a_hand_built_public_service_without_authentication_is_flagged_despite_its_opt_in() -> None:
    service = R(SERVICE, "server", PUBLIC_SERVICE_WITHOUT_AUTH)
    namespace = R("kubernetes:core/v1:Namespace", "serving", {"metadata": {"name": "serving"}})
    budget = R(PDB, "server", GOOD_PDB)
    found = violations(preview(namespace, R(DEPLOYMENT, "server", GOOD_DEPLOYMENT), budget, service))
    # The opt-in satisfies the label rule; the authentication rule still reports it, at the Service.
    assert [v.policy for v in found] == ["kubernetes-authenticated-exposure"]
    assert found[0].resource_urn == service.urn
    assert found[0].message == (
        "Service 'server' (kubernetes:core/v1:Service) sends LoadBalancer traffic (spec.type: LoadBalancer) to the "
        "pods of Deployment 'server' (kubernetes:apps/v1:Deployment) (spec.template), which do not authenticate "
        f"requests (no container takes VLLM_API_KEY from a Secret or runs with --api-key); {_IAP_WAY}, or give the "
        "server a key."
    )


def test_an_internal_load_balancer_must_authenticate_too() -> None:
    internal = edited(
        PUBLIC_SERVICE_WITHOUT_AUTH, {"metadata.annotations": {"networking.gke.io/load-balancer-type": "Internal"}}
    )
    assert len(_unauthenticated(R(DEPLOYMENT, "server", GOOD_DEPLOYMENT), R(SERVICE, "server", internal))) == 1


@pytest.mark.parametrize(
    "server",
    [
        DEPLOYMENT_WITH_API_KEY,
        edited(GOOD_DEPLOYMENT, {"spec.template.spec.containers.0.args": ["--api-key", "$(KEY)"]}),
    ],
    ids=["key-from-a-secret", "api-key-flag"],
)
def test_a_load_balancer_in_front_of_a_server_that_checks_its_key_passes(server: dict[str, Any]) -> None:
    assert _unauthenticated(R(DEPLOYMENT, "server", server), R(SERVICE, "server", PUBLIC_SERVICE_WITHOUT_AUTH)) == []


def test_a_load_balancer_to_pods_the_plan_does_not_create_cannot_show_authentication() -> None:
    assert _unauthenticated(R(SERVICE, "server", PUBLIC_SERVICE_WITHOUT_AUTH)) == [
        "Service 'server' (kubernetes:core/v1:Service) sends LoadBalancer traffic (spec.type: LoadBalancer) to pods "
        f"this plan does not create (selector app=server), which it cannot show to authenticate requests; {_IAP_WAY}."
    ]


def test_cluster_ip_services_and_unknown_selectors_are_not_judged() -> None:
    unknown = edited(PUBLIC_SERVICE_WITHOUT_AUTH, {"spec.selector": "[unknown]"})
    assert _unauthenticated(R(DEPLOYMENT, "server", GOOD_DEPLOYMENT), R(SERVICE, "server", GOOD_SERVICE)) == []
    assert _unauthenticated(R(DEPLOYMENT, "server", GOOD_DEPLOYMENT), R(SERVICE, "server", unknown)) == []


def _gateway_and_route() -> list[RecordedResource]:
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {
            "name": "edge",
            "namespace": "gateway",
            "annotations": {"gke-tpu-serving/public-exposure": "true"},
        },
        "spec": {
            "gatewayClassName": "gke-l7-global-external-managed",
            "listeners": [{"name": "https", "port": 443, "protocol": "HTTPS"}],
        },
    }
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "server", "namespace": "serving"},
        "spec": {
            "parentRefs": [{"name": "edge", "namespace": "gateway"}],
            "rules": [{"backendRefs": [{"name": "server", "port": 8000}]}],
        },
    }
    return [
        R(GATEWAY, "edge", gateway),
        R("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", "server", route),
        R(DEPLOYMENT, "server", GOOD_DEPLOYMENT),
        R(SERVICE, "server", GOOD_SERVICE),
    ]


def test_an_external_gateway_must_put_every_routed_service_behind_iap() -> None:
    assert _unauthenticated(*_gateway_and_route()) == [
        "Gateway 'edge' (kubernetes:gateway.networking.k8s.io/v1:Gateway) routes internet traffic through HTTPRoute "
        "'server' (kubernetes:gateway.networking.k8s.io/v1:HTTPRoute) to Service serving/server, which no "
        "GCPBackendPolicy puts behind Identity-Aware Proxy; add one targeting the Service with "
        "spec.default.iap.enabled: true (TenantGateway does), or use an internal GatewayClass."
    ]
    iap = {
        "apiVersion": "networking.gke.io/v1",
        "kind": "GCPBackendPolicy",
        "metadata": {"name": "server-iap", "namespace": "serving"},
        "spec": {
            "default": {"iap": {"enabled": True, "oauth2ClientSecret": {"name": "iap"}, "clientID": "c"}},
            "targetRef": {"group": "", "kind": "Service", "name": "server"},
        },
    }
    policy = R("kubernetes:networking.gke.io/v1:GCPBackendPolicy", "server-iap", iap)
    assert _unauthenticated(*_gateway_and_route(), policy) == []


def test_a_ray_service_never_puts_serve_behind_a_load_balancer() -> None:
    exposed = edited(GOOD_RAY_SERVICE, {"spec.serveService": {"spec": {"type": "LoadBalancer"}}})
    assert _unauthenticated(R(RAY_SERVICE, "stable-diffusion", exposed)) == [
        "RayService 'stable-diffusion' (kubernetes:ray.io/v1:RayService) puts its Serve endpoint behind a "
        "LoadBalancer Service (spec.serveService.spec.type), but Ray Serve's HTTP proxy does not authenticate "
        f"requests (Ray's token covers the dashboard and job API only); {_IAP_WAY}."
    ]
