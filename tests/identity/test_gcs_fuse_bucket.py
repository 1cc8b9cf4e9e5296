"""GcsFuseBucket under Pulumi mocks: a private, protected bucket with bucket-level grants only, and its mounts."""

import re
from typing import Any

import pytest
from helpers import allowed, args_factory, assert_refused_before_any_child

from gke_tpu_serving import BucketAccess, GcsFuseBucket, GcsFuseBucketArgs
from gke_tpu_serving.identity.gcs_fuse_bucket import LifecycleAction

REGION_RULE = "; allowed: e.g. 'us-central1': a geography (africa, asia, australia, europe, me, northamerica, southamerica, us), '-', a direction (central, east, north, northeast, south, southeast, southwest, west) and a number"

COMPONENT = "gke-tpu-serving:index:GcsFuseBucket"
BUCKET = "gcp:storage/bucket:Bucket"
BINDING = "gcp:storage/bucketIAMMember:BucketIAMMember"
READER = "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p.svc.id.goog/subject/ns/llama/sa/vllm"
WRITER = "serviceAccount:sax-sa@demo-project.iam.gserviceaccount.com"


BASE_ARGS: GcsFuseBucketArgs = {
    "project": "demo-project",
    "bucket_name": "demo-project-llama-weights",
    "location": "us-central1",
    "grants": [
        {"name": "vllm", "member": READER, "access": BucketAccess.READ},
        {"name": "stager", "member": WRITER, "access": BucketAccess.WRITE},
    ],
}
args = args_factory(BASE_ARGS)


def test_bucket_is_private_uniform_in_region_and_protected(pulumi_mocks: Any) -> None:
    GcsFuseBucket("weights", args())
    result = pulumi_mocks.settle()
    bucket = result.one(BUCKET, "weights-bucket")
    assert bucket.inputs == {
        "name": "demo-project-llama-weights",
        "project": "demo-project",
        "location": "US-CENTRAL1",
        "uniformBucketLevelAccess": True,
        "publicAccessPrevention": "enforced",
        "forceDestroy": False,
    }
    assert bucket.options == {"protect": True, "retainOnDelete": True}
    assert bucket.parent == result.one(COMPONENT, "weights").urn


def test_protection_can_be_turned_off_on_purpose(pulumi_mocks: Any) -> None:
    GcsFuseBucket("weights", args(protect=False))
    bucket = pulumi_mocks.settle().one(BUCKET, "weights-bucket")
    assert bucket.options == {}
    assert bucket.inputs["forceDestroy"] is False


def test_grants_are_bucket_level_with_the_least_role(pulumi_mocks: Any) -> None:
    GcsFuseBucket("weights", args())
    result = pulumi_mocks.settle()
    bindings = {b.name: b.inputs for b in result.of_type(BINDING)}
    assert bindings == {
        "weights-vllm-read": {
            "bucket": "demo-project-llama-weights",
            "role": "roles/storage.objectViewer",
            "member": READER,
        },
        "weights-stager-write": {
            "bucket": "demo-project-llama-weights",
            "role": "roles/storage.objectUser",
            "member": WRITER,
        },
    }
    assert result.of_type("gcp:projects/iAMMember:IAMMember") == []


def test_versioning_and_lifecycle_rules(pulumi_mocks: Any) -> None:
    GcsFuseBucket(
        "state",
        args(
            versioning=True,
            lifecycle_rules=[
                {"action": LifecycleAction.DELETE, "num_newer_versions": 3},
                {"action": LifecycleAction.SET_STORAGE_CLASS, "storage_class": "NEARLINE", "age_days": 30},
            ],
        ),
    )
    bucket = pulumi_mocks.settle().one(BUCKET, "state-bucket").inputs
    assert bucket["versioning"] == {"enabled": True}
    assert bucket["lifecycleRules"] == [
        {"action": {"type": "Delete"}, "condition": {"numNewerVersions": 3}},
        {"action": {"type": "SetStorageClass", "storageClass": "NEARLINE"}, "condition": {"age": 30}},
    ]


def test_mount_for_a_reader_is_read_only(pulumi_mocks: Any) -> None:
    mount = GcsFuseBucket("weights", args()).mount("vllm")
    assert mount.read_only is True
    assert mount.volumes[0]["csi"]["volumeAttributes"]["bucketName"] == "demo-project-llama-weights"


def test_mount_for_a_writer_is_read_write(pulumi_mocks: Any) -> None:
    assert GcsFuseBucket("weights", args()).mount("stager").read_only is False


def test_a_reader_asking_for_write_is_refused(pulumi_mocks: Any) -> None:
    bucket = GcsFuseBucket("weights", args())
    with pytest.raises(
        ValueError,
        match=re.escape(
            "GcsFuseBucket mount: grant 'vllm' has access read, so a read-write mount would fail; allowed: "
            "read_only=True, or a grant with access write"
        ),
    ):
        bucket.mount("vllm", read_only=False)


def test_mount_for_an_unknown_grant_is_refused(pulumi_mocks: Any) -> None:
    with pytest.raises(
        ValueError, match=re.escape("GcsFuseBucket mount: grant 'loader' does not exist; allowed: vllm, stager")
    ):
        GcsFuseBucket("weights", args()).mount("loader")


BAD_ARGS = [
    (
        {"bucket_name": "Weights"},
        "GcsFuseBucket 'bad': bucket_name: 'Weights' is not a valid bucket name; allowed: 3-63 characters of lowercase letters, digits, '-' and '_', starting and ending with a letter or digit, without a 'goog' prefix or 'google' inside",
    ),
    (
        {"bucket_name": "google-weights"},
        "GcsFuseBucket 'bad': bucket_name: 'google-weights' is not a valid bucket name; allowed: 3-63 characters of lowercase letters, digits, '-' and '_', starting and ending with a letter or digit, without a 'goog' prefix or 'google' inside",
    ),
    (
        {"location": "us-central1-a"},
        "GcsFuseBucket 'bad': location: 'us-central1-a' is not a GCP region" + REGION_RULE,
    ),
    (
        {"grants": [{"name": "a", "member": READER, "access": BucketAccess.READ}] * 2},
        "GcsFuseBucket 'bad': grants[1].name: 'a' is used twice; allowed: unique names",
    ),
    (
        {"grants": [{"name": "a", "member": READER, "access": "admin"}]},
        f"GcsFuseBucket 'bad': grants[0].access: 'admin' is not allowed; allowed: {allowed(BucketAccess)}",
    ),
    (
        {"lifecycle_rules": [{"action": LifecycleAction.SET_STORAGE_CLASS, "age_days": 30}]},
        "GcsFuseBucket 'bad': lifecycle_rules[0].storage_class: is required with action SetStorageClass and allowed only there",
    ),
    (
        {"lifecycle_rules": [{"action": LifecycleAction.DELETE}]},
        "GcsFuseBucket 'bad': lifecycle_rules[0]: has no condition; allowed: age_days, num_newer_versions or both",
    ),
    (
        {"lifecycle_rules": [{"action": LifecycleAction.DELETE, "num_newer_versions": 2}]},
        "GcsFuseBucket 'bad': lifecycle_rules[0].num_newer_versions: needs versioning: true (without it there are no versions)",
    ),
]


@pytest.mark.parametrize(("extra", "message"), BAD_ARGS)
def test_bad_args_raise_before_any_child(pulumi_mocks: Any, extra: dict[str, Any], message: str) -> None:
    reason = message.removeprefix("GcsFuseBucket 'bad': ")
    assert_refused_before_any_child(pulumi_mocks, GcsFuseBucket, "bad", args(**extra), reason)
