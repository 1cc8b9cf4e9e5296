"""Which input changes make a provider replace a resource rather than update it: the providers' own tables.

Read on 2026-12-02 from the nearest versions the stored mirrors hold. The project pins pulumi-gcp 10.2.0 and
pulumi-kubernetes 4.34.2 (.venv), but neither tag is in the mirrors: the newest are pulumi-gcp v9.35.0 and
pulumi-kubernetes v4.32.0. Re-check these rows against the pinned tags before trusting them for a new field.

- gcp (a Terraform-bridged provider: it replaces when Terraform's schema marks a field `ForceNew`):
  hashicorp/terraform-provider-google-beta tag v7.45.0 (commit 3dc173a397749158369ea839a2890d89f8c9c370, committed
  2026-08-18; the tag and the commit checked in a fetched mirror of the repository on 2026-12-02; the
  `upstream` submodule of pulumi/pulumi-gcp v9.35.0), files google-beta/services/container/
  resource_container_node_pool.go, node_config.go (schemaNodeConfig), resource_container_cluster.go,
  services/storage/resource_storage_bucket.go, services/resourcemanager/resource_google_service_account.go,
  services/artifactregistry/resource_artifact_registry_repository.go, services/certificatemanager/*,
  tpgiamresource/resource_iam_member.go and the iam_*.go parent schemas. Replacement order: create-before-delete,
  except where pulumi/pulumi-gcp provider/resources.go (v9.35.0) sets `DeleteBeforeReplace: true`
  (google_project_iam_member, i.e. gcp:projects/iAMMember:IAMMember).
  A `ForceNew` list block (node_config, placement_policy) replaces only when the block is added or removed; its
  leaves follow their own flag (Terraform SDKv2 gives the block's flag to its item count only).
- kubernetes: pulumi/pulumi-kubernetes tag v4.32.0 (commit a03ff6ba58d2f1ea68319dda4b2c982119489c71; the tag and the
  commit checked in a fetched mirror of the repository on 2026-12-02),
  provider/pkg/provider/diff.go (forceNew table: .metadata.name and .metadata.namespace for every kind, plus per
  kind) and provider.go (ConfigMap .data/.binaryData and Secret .type/.data/.stringData replace unless the provider
  enables mutability, off by default; deleteBeforeReplace when the replacement keeps its name and namespace).
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Paths are the diff's own: camelCase inputs below `inputs`, list indices written `[]` (any item).
# A listed path replaces when it or anything under it changes.
_GCP_REPLACE: Mapping[str, tuple[str, ...]] = {
    "gcp:container/nodePool:NodePool": (
        "project",
        "cluster",
        "location",
        "name",
        "namePrefix",
        "initialNodeCount",
        "maxPodsPerNode",
        "placementPolicy.policyName",
        "queuedProvisioning",
        "networkConfig",
        "nodeConfig.guestAccelerators",
        "nodeConfig.localSsdCount",
        "nodeConfig.metadata",
        "nodeConfig.minCpuPlatform",
        "nodeConfig.oauthScopes",
        "nodeConfig.preemptible",
        "nodeConfig.spot",
        "nodeConfig.serviceAccount",
        "nodeConfig.shieldedInstanceConfig",
        "nodeConfig.reservationAffinity",
        "nodeConfig.sandboxConfig",
        "nodeConfig.bootDiskKmsKey",
        "nodeConfig.maxRunDuration",
        "nodeConfig.flexStart",
    ),
    "gcp:container/cluster:Cluster": (
        "name",
        "location",
        "project",
        "network",
        "subnetwork",
        "enableAutopilot",
        "enableTpu",
        "enableKubernetesAlpha",
        "initialNodeCount",
        "ipAllocationPolicy",
        "datapathProvider",
        "networkingMode",
        "clusterIpv4Cidr",
        "description",
        "defaultMaxPodsPerNode",
        "nodePools",
        "nodeConfig.guestAccelerators",
        "nodeConfig.oauthScopes",
        "nodeConfig.preemptible",
        "nodeConfig.spot",
        "nodeConfig.serviceAccount",
        "nodeConfig.shieldedInstanceConfig",
        "nodeConfig.metadata",
    ),
    "gcp:storage/bucket:Bucket": ("name", "location", "project", "enableObjectRetention", "hierarchicalNamespace"),
    "gcp:serviceaccount/account:Account": ("accountId", "project"),
    "gcp:artifactregistry/repository:Repository": (
        "format",
        "repositoryId",
        "location",
        "project",
        "kmsKeyName",
        "mode",
        "remoteRepositoryConfig",
    ),
    "gcp:certificatemanager/certificate:Certificate": ("name", "location", "project", "managed", "scope"),
    "gcp:certificatemanager/certificateMap:CertificateMap": ("name", "project"),
    "gcp:certificatemanager/certificateMapEntry:CertificateMapEntry": ("map", "name", "hostname", "project"),
    # IAM members: every argument is ForceNew (role, member, condition and the parent's identifier).
    "gcp:projects/iAMMember:IAMMember": ("project", "role", "member", "condition"),
    "gcp:storage/bucketIAMMember:BucketIAMMember": ("bucket", "role", "member", "condition"),
    "gcp:serviceaccount/iAMMember:IAMMember": ("serviceAccountId", "role", "member", "condition"),
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": (
        "project",
        "location",
        "repository",
        "role",
        "member",
        "condition",
    ),
    "gcp:iap/webIamMember:WebIamMember": ("project", "role", "member", "condition"),
}

# Fields the same sources show without ForceNew and with an in-place update in the provider's Update function.
# A gcp field in neither list is "update or replace": read its schema before trusting a guess.
_GCP_UPDATE: Mapping[str, tuple[str, ...]] = {
    "gcp:container/nodePool:NodePool": (
        "autoscaling",
        "management",
        "nodeCount",
        "nodeLocations",
        "upgradeSettings",
        "nodeConfig.machineType",
        "nodeConfig.labels",
        "nodeConfig.resourceLabels",
        "nodeConfig.taints",
        "nodeConfig.workloadMetadataConfig",
        "nodeConfig.diskSizeGb",
        "nodeConfig.diskType",
    ),
    "gcp:container/cluster:Cluster": (
        "addonsConfig",
        "authenticatorGroupsConfig",
        "clusterAutoscaling",
        "deletionProtection",
        "enableShieldedNodes",
        "monitoringConfig",
        "loggingConfig",
        "releaseChannel",
        "removeDefaultNodePool",
        "workloadIdentityConfig",
        "nodeConfig.workloadMetadataConfig",
        "minMasterVersion",
        "resourceLabels",
        # Not ForceNew, nor any field below it (hashicorp/terraform-provider-google commit
        # 0297605c600111e010e09edb39901e0806b00a9a, google/services/container/resource_container_cluster.go, read
        # 2026-12-07); GKE updates it in place (ClusterUpdate.desiredControlPlaneEndpointsConfig).
        # masterAuthorizedNetworksConfig stays unlisted ("update or replace"): its flag was not read.
        "controlPlaneEndpointsConfig",
    ),
    "gcp:storage/bucket:Bucket": (
        "forceDestroy",
        "labels",
        "publicAccessPrevention",
        "uniformBucketLevelAccess",
        "versioning",
        "lifecycleRules",
        "softDeletePolicy",
    ),
    "gcp:serviceaccount/account:Account": ("displayName", "description", "disabled"),
    "gcp:artifactregistry/repository:Repository": ("cleanupPolicies", "description", "dockerConfig", "labels"),
    "gcp:certificatemanager/certificateMap:CertificateMap": ("description", "labels"),
    "gcp:certificatemanager/certificateMapEntry:CertificateMapEntry": ("certificates", "description", "labels"),
}

_GCP_DELETE_BEFORE_REPLACE = frozenset({"gcp:projects/iAMMember:IAMMember"})

_LABEL_SELECTOR = ("spec.selector",)
# pulumi-kubernetes diff.go, by group/version/kind (the part of the type token after "kubernetes:").
_KUBERNETES_REPLACE: Mapping[str, tuple[str, ...]] = {
    "apps/v1:Deployment": _LABEL_SELECTOR,
    "apps/v1:DaemonSet": _LABEL_SELECTOR,
    "apps/v1:StatefulSet": (
        *_LABEL_SELECTOR,
        "spec.podManagementPolicy",
        "spec.revisionHistoryLimit",
        "spec.serviceName",
        "spec.volumeClaimTemplates",
    ),
    "batch/v1:Job": (*_LABEL_SELECTOR, "spec.completions", "spec.parallelism", "spec.template"),
    "core/v1:PersistentVolumeClaim": (
        *_LABEL_SELECTOR,
        "spec.accessModes",
        "spec.storageClassName",
        "spec.volumeName",
    ),
    "core/v1:ResourceQuota": ("spec.scopes",),
    "core/v1:Service": ("spec.clusterIP",),
    "core/v1:Secret": ("type", "data", "stringData"),
    "core/v1:ConfigMap": ("data", "binaryData"),
    "rbac.authorization.k8s.io/v1:RoleBinding": ("roleRef",),
    "rbac.authorization.k8s.io/v1:ClusterRoleBinding": ("roleRef",),
    "storage.k8s.io/v1:StorageClass": ("parameters", "provisioner"),
}
_KUBERNETES_IDENTITY = ("metadata.name", "metadata.namespace")


class Action:
    """What the engine does to a resource whose inputs changed."""

    UPDATE = "update"
    REPLACE = "replace"
    UNKNOWN = "update or replace"


@dataclass(frozen=True)
class Verdict:
    action: str
    """One of Action's values."""
    causes: tuple[str, ...] = ()
    """The changed input paths that force the replacement (or that no table covers)."""
    delete_first: bool | None = None
    """For a replacement: True delete-before-create, False create-before-delete, None unknown."""

    def describe(self) -> str:
        if self.action == Action.REPLACE:
            order = {True: "delete-before-create", False: "create-before-delete"}.get(self.delete_first)  # type: ignore[arg-type]
            head = f"replace, {order}" if order else "replace"
            return f"{head}: {', '.join(self.causes)}"
        if self.action == Action.UNKNOWN:
            return f"update or replace: no provider table covers {', '.join(self.causes)}"
        return "update"


# List items (`[0]`, `[VLLM_XLA_CACHE_PATH]`) and embedded-document markers (`{json}`) do not change the field.
_INDEX = re.compile(r"\[[^\]]*\]|\{(?:json|yaml)\}")


def _normal(path: str) -> str:
    """`inputs.nodeConfig.guestAccelerators[0].count` -> `nodeConfig.guestAccelerators.count`."""
    return _INDEX.sub("", path.removeprefix("inputs.")).replace("..", ".")


def _covered(path: str, prefixes: Iterable[str]) -> str | None:
    for prefix in prefixes:
        if path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + ":"):
            return prefix
    return None


def classify(
    resource_type: str, changed_inputs: Iterable[str], old: Mapping[str, Any], new: Mapping[str, Any]
) -> Verdict:
    """The verdict for a resource of this type whose inputs changed at these diff paths (`inputs.` prefixed);
    old and new are its inputs, for the name and namespace a Kubernetes replacement keeps or changes."""
    shown = {_normal(path): path.removeprefix("inputs.") for path in changed_inputs}
    paths = sorted(shown)
    if not paths:
        return Verdict(Action.UPDATE)
    if resource_type.startswith("kubernetes:"):
        kind = resource_type.removeprefix("kubernetes:")
        causes = tuple(p for p in paths if _covered(p, (*_KUBERNETES_IDENTITY, *_KUBERNETES_REPLACE.get(kind, ()))))
        if not causes:
            return Verdict(Action.UPDATE)
        same_identity = all(
            (old.get("metadata") or {}).get(key) == (new.get("metadata") or {}).get(key)
            for key in ("name", "namespace")
        )
        named = bool((new.get("metadata") or {}).get("name"))
        return Verdict(Action.REPLACE, tuple(shown[p] for p in causes), delete_first=named and same_identity)
    if resource_type in _GCP_REPLACE:
        causes = tuple(p for p in paths if _covered(p, _GCP_REPLACE[resource_type]))
        if causes:
            return Verdict(Action.REPLACE, tuple(shown[p] for p in causes), resource_type in _GCP_DELETE_BEFORE_REPLACE)
        unknown = tuple(shown[p] for p in paths if not _covered(p, _GCP_UPDATE.get(resource_type, ())))
        return Verdict(Action.UNKNOWN, unknown) if unknown else Verdict(Action.UPDATE)
    return Verdict(Action.UNKNOWN, tuple(shown[p] for p in paths))
