"""What a pod needs to mount a Cloud Storage bucket with the GKE GCS FUSE CSI driver.

Pure (imports nothing from Pulumi) and rendered as Kubernetes JSON (camelCase), so the same volumes, mounts and
annotations go into core pod templates and into custom resources (RayService, JobSet) alike. Workload components
use this instead of writing these fields themselves.
"""

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from gke_tpu_serving.errors import ArgError

CSI_DRIVER = "gcsfuse.csi.storage.gke.io"
# The sidecar looks for a volume of exactly this name and keeps its file cache there.
CACHE_VOLUME_NAME = "gke-gcsfuse-cache"
SIDECAR_RESOURCES = ("cpu", "memory", "ephemeral-storage")


class CacheMedium(Enum):
    """Where the sidecar keeps its file cache."""

    MEMORY = "memory"
    """A RAM-backed emptyDir: the fastest, counted against the pod's memory."""
    DISK = "disk"
    """An emptyDir on the node's boot disk (or local SSD where the pool has it)."""


@dataclass(frozen=True)
class FileCache:
    """The sidecar's file cache: whole objects are cached, so repeated reads (weights at every restart) are local."""

    medium: CacheMedium = CacheMedium.MEMORY
    max_size_mb: int = -1
    """Cache size in MiB; -1 lets it grow to the volume's size."""
    size_limit: str | None = None
    """sizeLimit of the cache volume, e.g. "200Gi"; None: no limit (memory then counts against the pod's limit)."""
    parallel_downloads: bool = True
    """Download large files in parallel chunks into the cache (GCS FUSE's recommendation for model weights)."""

    def __post_init__(self) -> None:
        if self.max_size_mb < -1 or self.max_size_mb == 0:
            raise ArgError(
                ("max_size_mb",),
                f"file cache max_size_mb {self.max_size_mb} is not allowed; allowed: -1 (the volume's size) or a "
                "positive number of MiB (leave the cache out to disable it)",
            )


@dataclass(frozen=True)
class GcsFuseMount:
    """The pod-level pieces of one bucket mount: add `volumes` to the pod, `volume_mount(...)` to each container
    that reads the bucket, and `pod_annotations` to the pod template's metadata."""

    volume_name: str
    read_only: bool
    volumes: list[dict[str, Any]]
    pod_annotations: dict[str, str]

    def volume_mount(self, mount_path: str) -> dict[str, Any]:
        return {"name": self.volume_name, "mountPath": mount_path, "readOnly": self.read_only}


@dataclass(frozen=True)
class SidecarResources:
    """Resource limits of the GCS FUSE sidecar; "0" means unlimited, which GKE recommends for large model reads."""

    limits: dict[str, str] = field(default_factory=lambda: {name: "0" for name in SIDECAR_RESOURCES})

    def __post_init__(self) -> None:
        unknown = sorted(set(self.limits) - set(SIDECAR_RESOURCES))
        if unknown:
            raise ArgError(
                ("limits", unknown[0]),
                f"sidecar resource {unknown[0]!r} is not allowed; allowed: {', '.join(SIDECAR_RESOURCES)}",
            )


def _mount_options(implicit_dirs: bool, file_cache: FileCache | None) -> list[str]:
    options = ["implicit-dirs"] if implicit_dirs else []
    # Metadata caching without expiry suits immutable data such as published weights and checkpoints.
    options += ["metadata-cache:ttl-secs:-1", "metadata-cache:stat-cache-max-size-mb:-1"]
    if file_cache is not None:
        options += [f"file-cache:max-size-mb:{file_cache.max_size_mb}", "file-cache:cache-file-for-range-read:true"]
        if file_cache.parallel_downloads:
            options += [
                "file-cache:enable-parallel-downloads:true",
                "file-cache:parallel-downloads-per-file:100",
                "file-cache:max-parallel-downloads:-1",
                "file-cache:download-chunk-size-mb:10",
            ]
    return options


def gcs_fuse_mount(
    bucket_name: str,
    *,
    volume_name: str = "gcs-fuse",
    read_only: bool = True,
    implicit_dirs: bool = True,
    file_cache: FileCache | None = None,
    sidecar: SidecarResources | None = None,
) -> GcsFuseMount:
    """Render a CSI ephemeral volume for `bucket_name`, the cache volume when a file cache is asked for, and the pod
    annotations that inject the GCS FUSE sidecar. The pod's Kubernetes ServiceAccount needs access to the bucket
    through Workload Identity (GcsFuseBucket's grants)."""
    if volume_name == CACHE_VOLUME_NAME:
        raise ArgError(
            ("volume_name",), f"volume name {volume_name!r} is reserved for the file cache; allowed: any other name"
        )
    volume: dict[str, Any] = {
        "name": volume_name,
        "csi": {
            "driver": CSI_DRIVER,
            "readOnly": read_only,
            "volumeAttributes": {
                "bucketName": bucket_name,
                "mountOptions": ",".join(_mount_options(implicit_dirs, file_cache)),
            },
        },
    }
    volumes = [volume]
    if file_cache is not None:
        empty_dir: dict[str, Any] = {"medium": "Memory"} if file_cache.medium is CacheMedium.MEMORY else {}
        if file_cache.size_limit is not None:
            empty_dir["sizeLimit"] = file_cache.size_limit
        volumes.append({"name": CACHE_VOLUME_NAME, "emptyDir": empty_dir})
    limits = (sidecar or SidecarResources()).limits
    annotations = {"gke-gcsfuse/volumes": "true"}
    annotations |= {f"gke-gcsfuse/{resource}-limit": value for resource, value in sorted(limits.items())}
    return GcsFuseMount(volume_name=volume_name, read_only=read_only, volumes=volumes, pod_annotations=annotations)
