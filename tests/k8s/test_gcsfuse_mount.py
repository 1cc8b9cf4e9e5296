"""The GCS FUSE mount helper: what a pod needs to mount a bucket, checked against the real Pod schema."""

import re
from typing import Any

import kubernetes_validate
import pytest
from helpers import allowed

from gke_tpu_serving.k8s.gcsfuse import SIDECAR_RESOURCES, CacheMedium, FileCache, SidecarResources, gcs_fuse_mount

KUBERNETES_VERSION = "1.33"


def pod_with(mount: Any, mount_path: str = "/models") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "reader", "namespace": "llama", "annotations": mount.pod_annotations},
        "spec": {
            "serviceAccountName": "vllm",
            "containers": [
                {
                    "name": "server",
                    "image": "vllm/vllm-tpu:v0.11.1",
                    "volumeMounts": [mount.volume_mount(mount_path)],
                }
            ],
            "volumes": mount.volumes,
        },
    }


def test_read_only_mount_without_cache() -> None:
    mount = gcs_fuse_mount("weights-bucket")
    assert mount.volumes == [
        {
            "name": "gcs-fuse",
            "csi": {
                "driver": "gcsfuse.csi.storage.gke.io",
                "readOnly": True,
                "volumeAttributes": {
                    "bucketName": "weights-bucket",
                    "mountOptions": "implicit-dirs,metadata-cache:ttl-secs:-1,metadata-cache:stat-cache-max-size-mb:-1",
                },
            },
        }
    ]
    assert mount.volume_mount("/models") == {"name": "gcs-fuse", "mountPath": "/models", "readOnly": True}


def test_pod_annotations_inject_the_sidecar_without_limits_by_default() -> None:
    assert gcs_fuse_mount("b-1").pod_annotations == {
        "gke-gcsfuse/volumes": "true",
        "gke-gcsfuse/cpu-limit": "0",
        "gke-gcsfuse/ephemeral-storage-limit": "0",
        "gke-gcsfuse/memory-limit": "0",
    }


def test_memory_file_cache_with_parallel_downloads() -> None:
    mount = gcs_fuse_mount("weights-bucket", file_cache=FileCache(size_limit="200Gi"))
    options = mount.volumes[0]["csi"]["volumeAttributes"]["mountOptions"].split(",")
    assert options[3:] == [
        "file-cache:max-size-mb:-1",
        "file-cache:cache-file-for-range-read:true",
        "file-cache:enable-parallel-downloads:true",
        "file-cache:parallel-downloads-per-file:100",
        "file-cache:max-parallel-downloads:-1",
        "file-cache:download-chunk-size-mb:10",
    ]
    assert mount.volumes[1] == {"name": "gke-gcsfuse-cache", "emptyDir": {"medium": "Memory", "sizeLimit": "200Gi"}}


def test_disk_file_cache_without_parallel_downloads() -> None:
    mount = gcs_fuse_mount(
        "state-bucket",
        read_only=False,
        file_cache=FileCache(CacheMedium.DISK, max_size_mb=10240, parallel_downloads=False),
    )
    options = mount.volumes[0]["csi"]["volumeAttributes"]["mountOptions"]
    assert "file-cache:max-size-mb:10240" in options
    assert "parallel-downloads" not in options
    assert mount.volumes[1] == {"name": "gke-gcsfuse-cache", "emptyDir": {}}
    assert mount.volumes[0]["csi"]["readOnly"] is False


def test_sidecar_limits_can_be_set() -> None:
    mount = gcs_fuse_mount("b-1", sidecar=SidecarResources({"cpu": "2", "memory": "8Gi"}))
    assert mount.pod_annotations == {
        "gke-gcsfuse/volumes": "true",
        "gke-gcsfuse/cpu-limit": "2",
        "gke-gcsfuse/memory-limit": "8Gi",
    }


@pytest.mark.parametrize(
    "mount",
    [
        gcs_fuse_mount("weights-bucket"),
        gcs_fuse_mount("weights-bucket", file_cache=FileCache(size_limit="64Gi")),
        gcs_fuse_mount("state-bucket", read_only=False, file_cache=FileCache(CacheMedium.DISK)),
    ],
    ids=["plain", "memory-cache", "disk-cache-read-write"],
)
def test_pod_using_the_mount_passes_kubernetes_validate(mount: Any) -> None:
    kubernetes_validate.validate(pod_with(mount), KUBERNETES_VERSION, strict=True)


def test_the_validator_would_reject_a_misspelt_volume_field() -> None:
    pod = pod_with(gcs_fuse_mount("weights-bucket"))
    pod["spec"]["volumes"][0]["csi"]["readonly"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)


def test_cache_volume_name_is_reserved() -> None:
    with pytest.raises(
        ValueError,
        match=re.escape("volume name 'gke-gcsfuse-cache' is reserved for the file cache; allowed: any other name"),
    ):
        gcs_fuse_mount("b-1", volume_name="gke-gcsfuse-cache")


def test_unknown_sidecar_resource_is_rejected() -> None:
    with pytest.raises(
        ValueError, match=re.escape(f"sidecar resource 'gpu' is not allowed; allowed: {allowed(SIDECAR_RESOURCES)}")
    ):
        SidecarResources({"gpu": "1"})


def test_zero_cache_size_is_rejected() -> None:
    with pytest.raises(
        ValueError,
        match=re.escape(
            "file cache max_size_mb 0 is not allowed; allowed: -1 (the volume's size) or a positive number of MiB "
            "(leave the cache out to disable it)"
        ),
    ):
        FileCache(max_size_mb=0)
