"""Cloud Storage helpers shared by the launcher (compile cache sync) and the weight-staging job.

- `storage_client()`: on GKE the client authenticates through Workload Identity (Application Default Credentials);
  with STORAGE_EMULATOR_HOST set (tests, local runs) it talks to that emulator with anonymous credentials.
- `GcsChecksums`: MD5 and CRC32C of a byte stream, in the base64 form Cloud Storage reports as `md5Hash`/`crc32c`.
- `PrefixSync`: mirrors a local directory to and from `gs://BUCKET/PREFIX`, copying only new or changed files.
"""

import base64
import hashlib
import logging
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# google.api_core warns at import on Python 3.11 (its support ends 2027-10); the image runs Python 3.12. Keep the
# programs' stderr to their own messages, which tests compare exactly.
warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.api_core\..*")

import google_crc32c  # noqa: E402
from google.auth.credentials import AnonymousCredentials  # noqa: E402
from google.cloud import storage  # noqa: E402

log = logging.getLogger(__name__)

EMULATOR_HOST_ENV = "STORAGE_EMULATOR_HOST"
_READ_SIZE = 1024 * 1024


def storage_client() -> storage.Client:
    """A client for Cloud Storage, or for the emulator at STORAGE_EMULATOR_HOST when that is set."""
    if os.environ.get(EMULATOR_HOST_ENV):
        # The library reads STORAGE_EMULATOR_HOST itself; passing anonymous credentials and a project keeps it from
        # looking for Application Default Credentials, which a test machine does not have.
        return storage.Client(project="emulator", credentials=AnonymousCredentials())
    return storage.Client()


class GcsChecksums:
    """MD5 and CRC32C of everything passed to `update`, as Cloud Storage reports them (base64 of the digest)."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._crc32c = google_crc32c.Checksum()

    def update(self, data: bytes) -> None:
        self._md5.update(data)
        self._crc32c.update(data)

    @property
    def md5_base64(self) -> str:
        return base64.b64encode(self._md5.digest()).decode("ascii")

    @property
    def crc32c_base64(self) -> str:
        return base64.b64encode(self._crc32c.digest()).decode("ascii")


def md5_hex(md5_base64: str | None) -> str | None:
    """Cloud Storage's base64 `md5Hash` as the hex digest other tools print (None for composite objects)."""
    return base64.b64decode(md5_base64).hex() if md5_base64 else None


def file_crc32c_base64(path: Path) -> str:
    checksums = GcsChecksums()
    with path.open("rb") as file:
        while chunk := file.read(_READ_SIZE):
            checksums.update(chunk)
    return checksums.crc32c_base64


def object_name(prefix: str, relative_path: str) -> str:
    """`models/llama` + `a/b.bin` -> `models/llama/a/b.bin`; an empty prefix is the bucket's root."""
    return f"{prefix}/{relative_path}" if prefix else relative_path


@dataclass
class SyncStats:
    files: int = 0
    bytes: int = 0
    unchanged: int = 0
    failed: int = 0


@dataclass(frozen=True)
class _LocalState:
    size: int
    mtime_ns: int


class PrefixSync:
    """Mirrors `local_dir` to and from `gs://bucket/prefix`: downloads what is missing locally, uploads what is new or
    changed locally. A file counts as the same when its size and CRC32C match the object's.

    Writers of compile caches replace whole files, so a file is compared by content, never merged; the last upload
    wins. CRC32C of a local file is remembered by (size, mtime) so that periodic syncs do not re-read unchanged files.
    """

    def __init__(self, bucket: storage.Bucket, prefix: str, local_dir: Path) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.local_dir = local_dir
        self._known_crc32c: dict[str, tuple[_LocalState, str]] = {}

    @property
    def url(self) -> str:
        return f"gs://{self.bucket.name}/{self.prefix}"

    def _remote(self) -> dict[str, storage.Blob]:
        """Objects under the prefix, by path relative to it (placeholder "folder" objects left out)."""
        start = len(self.prefix) + 1 if self.prefix else 0
        blobs = self.bucket.client.list_blobs(self.bucket, prefix=f"{self.prefix}/" if self.prefix else None)
        return {blob.name[start:]: blob for blob in blobs if not blob.name.endswith("/")}

    def _local_state(self, path: Path) -> _LocalState:
        stat = path.stat()
        return _LocalState(size=stat.st_size, mtime_ns=stat.st_mtime_ns)

    def _crc32c(self, relative_path: str, path: Path) -> str:
        state = self._local_state(path)
        known = self._known_crc32c.get(relative_path)
        if known is not None and known[0] == state:
            return known[1]
        crc32c = file_crc32c_base64(path)
        self._known_crc32c[relative_path] = (state, crc32c)
        return crc32c

    def download(self) -> SyncStats:
        """Copies objects that are missing or different locally; each lands under a temporary name first, so an
        interrupted download never leaves a truncated file where a reader expects a whole one."""
        stats = SyncStats()
        self.local_dir.mkdir(parents=True, exist_ok=True)
        for relative_path, blob in sorted(self._remote().items()):
            target = _safe_local_path(self.local_dir, relative_path)
            if target is None:
                log.warning("skipping object %s: its name would land outside %s", blob.name, self.local_dir)
                stats.failed += 1
                continue
            if (
                target.is_file()
                and target.stat().st_size == blob.size
                and self._crc32c(relative_path, target) == blob.crc32c
            ):
                stats.unchanged += 1
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
            os.close(descriptor)
            try:
                blob.download_to_filename(temporary)  # verifies the object's checksum while downloading
                os.replace(temporary, target)
            finally:
                Path(temporary).unlink(missing_ok=True)
            self._known_crc32c[relative_path] = (self._local_state(target), blob.crc32c or "")
            stats.files += 1
            stats.bytes += blob.size or 0
        return stats

    def upload(self, min_age_seconds: float = 0.0) -> SyncStats:
        """Uploads local files that are missing or different under the prefix.

        `min_age_seconds` leaves out files modified more recently than that: a file still being written by a running
        server is picked up by a later sync instead of being uploaded half-written.
        """
        stats = SyncStats()
        if not self.local_dir.is_dir():
            return stats
        remote = self._remote()
        newest_allowed = time.time() - min_age_seconds
        for path in sorted(p for p in self.local_dir.rglob("*") if p.is_file()):
            relative_path = path.relative_to(self.local_dir).as_posix()
            if path.name.startswith(".") and path.name.endswith(".part"):
                continue  # one of our own downloads in progress
            stat = path.stat()
            if min_age_seconds and stat.st_mtime > newest_allowed:
                continue
            blob = remote.get(relative_path)
            if blob is not None and blob.size == stat.st_size and blob.crc32c == self._crc32c(relative_path, path):
                stats.unchanged += 1
                continue
            # The library sends the CRC32C of what it read and the service rejects a mismatch. A file rewritten after
            # its CRC32C was remembered has a new mtime, so the next sync compares it afresh.
            self.bucket.blob(object_name(self.prefix, relative_path)).upload_from_filename(str(path), checksum="crc32c")
            stats.files += 1
            stats.bytes += stat.st_size
        return stats


def _safe_local_path(root: Path, relative_path: str) -> Path | None:
    """`root/relative_path`, or None when an object name such as `../x` or `/x` would escape `root`."""
    parts = PurePosixPath(relative_path).parts
    if not parts or relative_path.startswith("/") or any(part in ("..", ".") for part in parts):
        return None
    return root.joinpath(*parts)
