"""GcsFuseBucket: a private, protected Cloud Storage bucket for weights or server state, with bucket-level grants,
and the pod pieces to mount it through the GCS FUSE CSI driver."""

from enum import Enum
from typing import NotRequired, TypedDict

import pulumi
import pulumi_gcp as gcp

from gke_tpu_serving.errors import ArgError, component_errors
from gke_tpu_serving.k8s.gcsfuse import FileCache, GcsFuseMount, SidecarResources, gcs_fuse_mount
from gke_tpu_serving.names import check_bucket_name, check_dns_label, check_region


class BucketAccess(Enum):
    """What a grant lets its member do with the bucket's objects."""

    READ = "read"
    """roles/storage.objectViewer: list and read objects (weights a server loads)."""
    WRITE = "write"
    """roles/storage.objectUser: read, create, overwrite and delete objects (server state, staged weights)."""


# The least role that works for each access; granted on the bucket, never on the project.
ACCESS_ROLES = {BucketAccess.READ: "roles/storage.objectViewer", BucketAccess.WRITE: "roles/storage.objectUser"}


class LifecycleAction(Enum):
    """What a lifecycle rule does to the objects it matches."""

    DELETE = "Delete"
    SET_STORAGE_CLASS = "SetStorageClass"
    ABORT_INCOMPLETE_MULTIPART_UPLOAD = "AbortIncompleteMultipartUpload"


class BucketGrantArgs(TypedDict):
    """Access to the bucket's objects for one IAM member."""

    name: str
    """A short name for the grant (DNS-1123 label); it names the binding's resource and is how mount() finds it."""
    member: pulumi.Input[str]
    """The IAM member, e.g. WorkloadIdentity's `member` output."""
    access: BucketAccess
    """read (roles/storage.objectViewer) or write (roles/storage.objectUser)."""


class LifecycleRuleArgs(TypedDict):
    """A lifecycle rule: an action and the age or version condition that triggers it."""

    action: LifecycleAction
    """Delete, SetStorageClass or AbortIncompleteMultipartUpload."""
    storage_class: NotRequired[str]
    """SetStorageClass only: the target class, e.g. NEARLINE."""
    age_days: NotRequired[int]
    """Match objects at least this many days old."""
    num_newer_versions: NotRequired[int]
    """Match noncurrent versions with at least this many newer versions (needs versioning)."""


class GcsFuseBucketArgs(TypedDict):
    """Arguments of GcsFuseBucket."""

    project: pulumi.Input[str]
    """GCP project id."""
    bucket_name: str
    """Globally unique bucket name (3-63 characters, no dots)."""
    location: str
    """The bucket's region: the cluster's region, so reads stay in-region and free of egress charges."""
    versioning: NotRequired[bool]
    """Keep noncurrent object versions. Default: false."""
    lifecycle_rules: NotRequired[list[LifecycleRuleArgs]]
    """Lifecycle rules. Default: none."""
    protect: NotRequired[bool]
    """Protect the bucket: Pulumi refuses to delete it and leaves it in place if it is removed from the program.
    Default: true (buckets hold weights or server state). Never force-destroyed either way."""
    grants: NotRequired[list[BucketGrantArgs]]
    """Bucket-level grants. Default: none."""
    labels: NotRequired[dict[str, str]]
    """Labels on the bucket. Default: none."""


def _validate(args: GcsFuseBucketArgs) -> None:
    check_bucket_name(args.get("bucket_name"), at=("bucket_name",))
    check_region(args.get("location"), at=("location",))
    seen: set[str] = set()
    for index, grant in enumerate(args.get("grants") or []):
        check_dns_label(grant.get("name"), at=("grants", index, "name"))
        if grant["name"] in seen:
            raise ArgError(("grants", index, "name"), f"{grant['name']!r} is used twice; allowed: unique names")
        seen.add(grant["name"])
        if not isinstance(grant.get("access"), BucketAccess):
            allowed = ", ".join(a.value for a in BucketAccess)
            raise ArgError(("grants", index, "access"), f"{grant.get('access')!r} is not allowed; allowed: {allowed}")
    for index, rule in enumerate(args.get("lifecycle_rules") or []):
        at = ("lifecycle_rules", index)
        if (rule.get("action") is LifecycleAction.SET_STORAGE_CLASS) != ("storage_class" in rule):
            raise ArgError((*at, "storage_class"), "is required with action SetStorageClass and allowed only there")
        if "age_days" not in rule and "num_newer_versions" not in rule:
            raise ArgError(at, "has no condition; allowed: age_days, num_newer_versions or both")
        if "num_newer_versions" in rule and not args.get("versioning", False):
            raise ArgError((*at, "num_newer_versions"), "needs versioning: true (without it there are no versions)")


class GcsFuseBucket(pulumi.ComponentResource):
    """A Cloud Storage bucket for model weights or server state: uniform bucket-level access, public access
    prevention enforced, protected from deletion by default, object roles granted on the bucket only."""

    bucket_name: pulumi.Output[str]
    """The bucket's name."""
    url: pulumi.Output[str]
    """gs://BUCKET."""

    def __init__(self, name: str, args: GcsFuseBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gke-tpu-serving:index:GcsFuseBucket", name, None, opts)
        with component_errors("GcsFuseBucket", name):
            _validate(args)
        protect = args.get("protect", True)
        self._bucket_name = args["bucket_name"]
        self._grants = {grant["name"]: grant["access"] for grant in args.get("grants") or []}

        bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            gcp.storage.BucketArgs(
                name=args["bucket_name"],
                project=args["project"],
                # GCS reports locations in upper case; writing them so avoids a perpetual diff.
                location=args["location"].upper(),
                uniform_bucket_level_access=True,
                public_access_prevention="enforced",
                force_destroy=False,
                versioning=gcp.storage.BucketVersioningArgs(enabled=True) if args.get("versioning") else None,
                lifecycle_rules=[_lifecycle_rule(rule) for rule in args.get("lifecycle_rules") or []] or None,
                labels=args.get("labels"),
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect),
        )
        for grant in args.get("grants") or []:
            gcp.storage.BucketIAMMember(
                f"{name}-{grant['name']}-{grant['access'].value}",
                gcp.storage.BucketIAMMemberArgs(
                    bucket=bucket.name, role=ACCESS_ROLES[grant["access"]], member=grant["member"]
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.bucket_name = bucket.name
        self.url = pulumi.Output.concat("gs://", bucket.name)
        self.register_outputs({"bucket_name": self.bucket_name, "url": self.url})

    def mount(
        self,
        grant: str,
        *,
        read_only: bool | None = None,
        volume_name: str = "gcs-fuse",
        file_cache: FileCache | None = None,
        sidecar: SidecarResources | None = None,
    ) -> GcsFuseMount:
        """The volumes and pod annotations for a pod running as the member of `grant`. The mount is read-only
        unless asked otherwise, and a read-write mount needs a write grant: a reader asking for write is refused
        here, at preview, not with a permission error in the pod."""
        access = self._grants.get(grant)
        if access is None:
            raise ValueError(
                f"GcsFuseBucket mount: grant {grant!r} does not exist; allowed: {', '.join(self._grants) or 'none'}"
            )
        if read_only is None:
            read_only = access is BucketAccess.READ
        if not read_only and access is not BucketAccess.WRITE:
            raise ValueError(
                f"GcsFuseBucket mount: grant {grant!r} has access read, so a read-write mount would fail; allowed: "
                "read_only=True, or a grant with access write"
            )
        return gcs_fuse_mount(
            self._bucket_name, volume_name=volume_name, read_only=read_only, file_cache=file_cache, sidecar=sidecar
        )


# Quoted: evaluating gcp.storage at import would load all of pulumi_gcp.storage in programs that make no bucket.
def _lifecycle_rule(rule: LifecycleRuleArgs) -> "gcp.storage.BucketLifecycleRuleArgs":
    return gcp.storage.BucketLifecycleRuleArgs(
        action=gcp.storage.BucketLifecycleRuleActionArgs(
            type=rule["action"].value, storage_class=rule.get("storage_class")
        ),
        condition=gcp.storage.BucketLifecycleRuleConditionArgs(
            age=rule.get("age_days"), num_newer_versions=rule.get("num_newer_versions")
        ),
    )
