"""Stage model weights into Cloud Storage once, so serving pods read them through GCS FUSE and need no HF token.

Runs as a Kubernetes Job in this workload's image:

    stage_weights.py --dest gs://BUCKET/models/NAME --hf-repo ORG/NAME [--revision REV] [--allow-pattern GLOB ...]
    stage_weights.py --dest gs://BUCKET/models/NAME --s3-uri s3://BUCKET/PREFIX [--s3-endpoint-url URL]
        [--workers 4] [--chunk-size-mib 64]

Environment: HF_TOKEN (a Hugging Face token, for gated or private repos; never printed), HF_ENDPOINT (the Hub's URL,
default https://huggingface.co), the usual AWS variables for S3 (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL_S3, ...), STORAGE_EMULATOR_HOST (tests and local runs only).
`--allow-pattern` globs (fnmatch; `*` also matches `/`) select files by their path in the source; the default is all.

What a run does:
1. Lists the source: every file with its size and, where the source vouches for one, a checksum. Hugging Face gives
   the SHA-256 of LFS files and the git blob SHA-1 of the others. S3 gives an ETag, which is the object's MD5 only
   for a single-part upload without SSE-KMS/SSE-C; any other ETag identifies the object's version but says nothing
   checkable about its bytes. The Hugging Face revision is resolved to a commit first, so a branch that moves while
   the job runs cannot mix files of two commits.
2. Skips a file whose destination object has the same size and is known to hold the same bytes: its MD5 equals the
   source's MD5, or (for the other checksums, which Cloud Storage cannot compute) it carries the metadata
   `staged-source-checksum` this job writes after checking the streamed bytes against that checksum.
3. Stream-copies every other file through a resumable upload in `--chunk-size-mib` chunks (memory stays bounded by
   about one chunk per worker), checks the streamed bytes against the source checksum, then checks the object's
   size, MD5 and CRC32C against what was streamed. A copy that fails part-way cancels its upload, so no truncated
   object is left behind; an object that fails verification is deleted.
4. Writes `_staging_manifest.json` (files, sizes, checksums, source, revision) last, and deletes an old one before
   copying anything: a manifest present means the folder holds a complete staging of what it names.

An interrupted run is resumed by running it again: whole files already staged are skipped, the rest are copied.
Objects under the destination that the source does not list are left alone (and left out of the manifest).

Exit status: 0 all files staged, 1 a file failed or the source or destination could not be read, 2 bad arguments.
"""

import argparse
import fnmatch
import hashlib
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol, TextIO
from urllib.parse import quote

import boto3
import botocore.exceptions
import google.auth.exceptions
from gcs_sync import GcsChecksums, md5_hex, object_name, storage_client
from google.api_core import exceptions as gcs_errors
from google.cloud import storage
from huggingface_hub import HfApi
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError
from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils import build_hf_headers, hf_raise_for_status, http_stream_backoff

MANIFEST_NAME = "_staging_manifest.json"
SOURCE_CHECKSUM_METADATA = "staged-source-checksum"
# Resumable uploads send whole multiples of 256 KiB per request; a MiB is four of them.
UPLOAD_GRANULARITY = 256 * 1024
DEFAULT_CHUNK_SIZE_MIB = 64
DEFAULT_WORKERS = 4
READ_SIZE = 1024 * 1024
PROGRESS_INTERVAL_S = 30.0
HF_DOWNLOAD_TIMEOUT_S = 60.0


class StagingError(Exception):
    """A failure the operator can act on; its message says what and where."""


class ChecksumKind(Enum):
    MD5 = "md5"
    SHA256 = "sha256"
    GIT_SHA1 = "git-sha1"
    """The git blob id: SHA-1 of `blob <size>\\0` followed by the bytes (Hugging Face files not stored in LFS)."""
    S3_ETAG = "s3-etag"
    """An S3 ETag that is not an MD5 (multipart upload, SSE-KMS, SSE-C): it names a version, it checks no bytes."""


@dataclass(frozen=True)
class SourceChecksum:
    kind: ChecksumKind
    value: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.value}"

    def new_digest(self, size: int) -> "hashlib._Hash | None":
        """A hash object to feed the streamed bytes into, or None when this checksum cannot check bytes."""
        if self.kind is ChecksumKind.MD5:
            return hashlib.md5(usedforsecurity=False)
        if self.kind is ChecksumKind.SHA256:
            return hashlib.sha256()
        if self.kind is ChecksumKind.GIT_SHA1:
            digest = hashlib.sha1(usedforsecurity=False)
            digest.update(b"blob %d\0" % size)
            return digest
        return None


@dataclass(frozen=True)
class SourceFile:
    name: str
    """Path relative to the source root; the object lands at the same path under the destination."""
    size: int
    checksum: SourceChecksum | None


@dataclass(frozen=True)
class SourceListing:
    files: list[SourceFile]
    revision: str | None
    """What the files were listed at (a Hugging Face commit), or None where the source has no revisions."""


class Source(Protocol):
    uri: str

    def list_files(self) -> SourceListing: ...

    def open(self, file: SourceFile) -> AbstractContextManager[Iterator[bytes]]:
        """The file's bytes, in pieces of at most READ_SIZE."""
        ...


def _selected(name: str, allow_patterns: Sequence[str]) -> bool:
    return not allow_patterns or any(fnmatch.fnmatchcase(name, pattern) for pattern in allow_patterns)


# --- Hugging Face ---------------------------------------------------------------------------------------------


class HfSource:
    """A model repository on the Hugging Face Hub (or the Hub at `endpoint`)."""

    def __init__(
        self, repo_id: str, revision: str, token: str | None, endpoint: str | None, allow_patterns: Sequence[str]
    ) -> None:
        self.repo_id = repo_id
        self.requested_revision = revision
        self._token = token
        self._api = HfApi(endpoint=endpoint, token=token)
        self._endpoint = self._api.endpoint.rstrip("/")
        self._allow_patterns = list(allow_patterns)
        self._commit: str | None = None
        self.uri = f"hf://{repo_id}"

    def list_files(self) -> SourceListing:
        where = f"{self.uri}@{self.requested_revision}"
        try:
            info = self._api.model_info(self.repo_id, revision=self.requested_revision)
            self._commit = info.sha or self.requested_revision
            entries = list(self._api.list_repo_tree(self.repo_id, recursive=True, revision=self._commit))
        except GatedRepoError as error:
            raise StagingError(f"{where}: gated repository; set HF_TOKEN to a token that was granted access") from error
        except RepositoryNotFoundError as error:
            raise StagingError(
                f"{where}: repository not found (or private, and HF_TOKEN is unset or has no access)"
            ) from error
        except RevisionNotFoundError as error:
            raise StagingError(f"{where}: revision {self.requested_revision!r} not found") from error
        except HfHubHTTPError as error:
            raise StagingError(f"{where}: the Hub answered {error}") from error
        files = [
            SourceFile(entry.path, entry.size, _hf_checksum(entry))
            for entry in entries
            if isinstance(entry, RepoFile) and _selected(entry.path, self._allow_patterns)
        ]
        return SourceListing(files=files, revision=self._commit)

    @contextmanager
    def open(self, file: SourceFile) -> Iterator[Iterator[bytes]]:
        if self._commit is None:
            raise RuntimeError("list_files() resolves the revision; call it before open()")
        url = f"{self._endpoint}/{self.repo_id}/resolve/{self._commit}/{quote(file.name)}"
        # LFS files answer with a redirect to a CDN; the Hub's session follows it (and drops the token for other hosts).
        with http_stream_backoff(
            "GET", url, headers=build_hf_headers(token=self._token), timeout=HF_DOWNLOAD_TIMEOUT_S
        ) as response:
            hf_raise_for_status(response)
            yield response.iter_bytes(READ_SIZE)


def _hf_checksum(entry: RepoFile) -> SourceChecksum:
    if entry.lfs is not None:
        return SourceChecksum(ChecksumKind.SHA256, entry.lfs.sha256)
    return SourceChecksum(ChecksumKind.GIT_SHA1, entry.blob_id)


# --- S3 -------------------------------------------------------------------------------------------------------

_MD5_ETAG = re.compile(r"[0-9a-f]{32}")


def s3_checksum(etag: str, server_side_encryption: str | None, sse_customer_algorithm: str | None) -> SourceChecksum:
    """What an S3 ETag tells about the bytes: their MD5 only for a single-part upload that is unencrypted or SSE-S3
    encrypted. Multipart ETags (`<md5 of part md5s>-<parts>`) and SSE-KMS/SSE-C ETags are opaque version ids."""
    bare = etag.strip('"')
    encrypted_opaquely = sse_customer_algorithm is not None or (server_side_encryption or "").startswith("aws:kms")
    if _MD5_ETAG.fullmatch(bare) and not encrypted_opaquely:
        return SourceChecksum(ChecksumKind.MD5, bare)
    return SourceChecksum(ChecksumKind.S3_ETAG, bare)


class S3Source:
    """Objects under `s3://bucket/prefix` (an S3-compatible endpoint with `endpoint_url`)."""

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None, allow_patterns: Sequence[str]) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._client: Any = boto3.client("s3", endpoint_url=endpoint_url)
        self._allow_patterns = list(allow_patterns)
        self._etags: dict[str, str] = {}

    def _key(self, name: str) -> str:
        return object_name(self.prefix, name)

    def list_files(self) -> SourceListing:
        start = len(self.prefix) + 1 if self.prefix else 0
        files = []
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""
            )
            for page in pages:
                for item in page.get("Contents", []):
                    key: str = item["Key"]
                    name = key[start:]
                    if key.endswith("/") or not _selected(name, self._allow_patterns):
                        continue
                    etag: str = item["ETag"]
                    checksum = s3_checksum(etag, None, None)
                    if checksum.kind is ChecksumKind.MD5:
                        # Only HeadObject tells whether SSE-KMS/SSE-C made this MD5-looking ETag something else.
                        head = self._client.head_object(Bucket=self.bucket, Key=key)
                        checksum = s3_checksum(etag, head.get("ServerSideEncryption"), head.get("SSECustomerAlgorithm"))
                    self._etags[name] = etag
                    files.append(SourceFile(name, int(item["Size"]), checksum))
        except botocore.exceptions.NoCredentialsError as error:
            raise StagingError(
                f"{self.uri}: no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
            ) from error
        except botocore.exceptions.ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "NoSuchBucket":
                raise StagingError(f"{self.uri}: bucket {self.bucket!r} does not exist") from error
            raise StagingError(f"{self.uri}: listing failed: {error}") from error
        except botocore.exceptions.BotoCoreError as error:
            raise StagingError(f"{self.uri}: listing failed: {error}") from error
        return SourceListing(files=files, revision=None)

    @contextmanager
    def open(self, file: SourceFile) -> Iterator[Iterator[bytes]]:
        # IfMatch: an object replaced since it was listed fails here instead of mixing two versions' sizes and bytes.
        response = self._client.get_object(Bucket=self.bucket, Key=self._key(file.name), IfMatch=self._etags[file.name])
        body = response["Body"]
        try:
            yield body.iter_chunks(READ_SIZE)
        finally:
            body.close()


# --- destination ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GcsPrefix:
    bucket: str
    prefix: str

    def __str__(self) -> str:
        return f"gs://{self.bucket}/{self.prefix}"


def reason_to_copy(file: SourceFile, existing: storage.Blob | None) -> str | None:
    """Why `file` must be copied over the object `existing`, or None when that object already holds its bytes."""
    if existing is None:
        return "missing"
    if existing.size != file.size:
        return f"size {existing.size} differs from the source's {file.size}"
    if file.checksum is None:
        return None
    if file.checksum.kind is ChecksumKind.MD5:
        existing_md5 = md5_hex(existing.md5_hash)
        return None if existing_md5 == file.checksum.value else f"md5 {existing_md5} differs from the source's"
    staged_from = (existing.metadata or {}).get(SOURCE_CHECKSUM_METADATA)
    if staged_from == str(file.checksum):
        return None
    return f"not staged from this source version ({staged_from or 'no record'} != {file.checksum})"


@dataclass
class StagingResult:
    copied: int = 0
    skipped: int = 0
    bytes_copied: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    manifest: str | None = None


class _Output:
    """Progress lines to stdout; one lock so lines from parallel copies never interleave."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        with self._lock:
            print(text, file=self._out, flush=True)


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _copy_file(
    source: Source, file: SourceFile, bucket: storage.Bucket, name: str, chunk_size: int, output: _Output
) -> storage.Blob:
    """Streams one file into object `name` and verifies it; returns the verified object."""
    blob = bucket.blob(name)
    if file.checksum is not None:
        blob.metadata = {SOURCE_CHECKSUM_METADATA: str(file.checksum)}
    streamed = GcsChecksums()
    source_digest = file.checksum.new_digest(file.size) if file.checksum is not None else None
    copied = 0
    last_report = time.monotonic()
    # Leaving this block by an exception cancels the resumable upload: no object, and no truncated one, is created.
    with (
        source.open(file) as pieces,
        blob.open("wb", chunk_size=chunk_size, content_type="application/octet-stream") as writer,
    ):
        for piece in pieces:
            streamed.update(piece)
            if source_digest is not None:
                source_digest.update(piece)
            writer.write(piece)
            copied += len(piece)
            if time.monotonic() - last_report >= PROGRESS_INTERVAL_S:
                last_report = time.monotonic()
                output.line(f"  {file.name}: {human_size(copied)} of {human_size(file.size)}")
        if copied != file.size:
            raise StagingError(f"the source sent {copied} bytes, its listing said {file.size}")
        if source_digest is not None and file.checksum is not None and source_digest.hexdigest() != file.checksum.value:
            raise StagingError(
                f"streamed bytes have {file.checksum.kind.value} {source_digest.hexdigest()}, "
                f"the source lists {file.checksum.value}"
            )
    blob.reload()
    problems = []
    if blob.size != copied:
        problems.append(f"size {blob.size} != {copied} streamed")
    if blob.md5_hash != streamed.md5_base64:
        problems.append(f"md5Hash {blob.md5_hash} != {streamed.md5_base64} streamed")
    if blob.crc32c != streamed.crc32c_base64:
        problems.append(f"crc32c {blob.crc32c} != {streamed.crc32c_base64} streamed")
    if problems:
        blob.delete()  # never leave an object a rerun could take for a good one
        raise StagingError(f"the uploaded object failed verification and was deleted: {'; '.join(problems)}")
    return blob


def _manifest(source: Source, listing: SourceListing, objects: dict[str, storage.Blob]) -> dict[str, Any]:
    return {
        "format": 1,
        "source": source.uri,
        "revision": listing.revision,
        "completed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": [
            {
                "name": file.name,
                "size": file.size,
                "md5Hash": objects[file.name].md5_hash,
                "crc32c": objects[file.name].crc32c,
                "source_checksum": str(file.checksum) if file.checksum is not None else None,
            }
            for file in listing.files
        ],
    }


def stage(
    source: Source,
    dest: GcsPrefix,
    new_client: Callable[[], storage.Client] = storage_client,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE_MIB * 1024 * 1024,
    workers: int = DEFAULT_WORKERS,
    out: TextIO = sys.stdout,
) -> StagingResult:
    """Copies what `dest` lacks of `source`, then writes the manifest; raises StagingError when nothing can start."""
    if chunk_size <= 0 or chunk_size % UPLOAD_GRANULARITY:
        raise ValueError(f"chunk_size {chunk_size} is not a positive multiple of {UPLOAD_GRANULARITY}")
    output = _Output(out)
    started = time.monotonic()
    result = StagingResult()

    listing = source.list_files()
    if not listing.files:
        raise StagingError(f"{source.uri}: no files to stage (is the path or --allow-pattern right?)")
    if any(file.name == MANIFEST_NAME for file in listing.files):
        raise StagingError(
            f"{source.uri}: holds a file named {MANIFEST_NAME}, the name this job keeps for its manifest"
        )
    total = sum(file.size for file in listing.files)
    revision = f" at {listing.revision}" if listing.revision else ""
    output.line(f"source {source.uri}{revision}: {len(listing.files)} files, {human_size(total)}")

    try:
        client = new_client()
    except google.auth.exceptions.DefaultCredentialsError as error:
        raise StagingError(f"{dest}: no Google credentials ({error})") from error
    bucket = client.bucket(dest.bucket)
    start = len(dest.prefix) + 1
    try:
        existing = {blob.name[start:]: blob for blob in client.list_blobs(bucket, prefix=f"{dest.prefix}/")}
    except gcs_errors.NotFound as error:
        raise StagingError(f"{dest}: bucket {dest.bucket!r} does not exist") from error
    except gcs_errors.GoogleAPICallError as error:
        raise StagingError(f"{dest}: listing failed: {error}") from error

    to_copy: list[SourceFile] = []
    objects: dict[str, storage.Blob] = {}
    for file in listing.files:
        reason = reason_to_copy(file, existing.get(file.name))
        if reason is None:
            objects[file.name] = existing[file.name]
            result.skipped += 1
            output.line(f"skip {file.name}: already staged ({human_size(file.size)})")
        else:
            to_copy.append(file)
            output.line(f"copy {file.name} ({human_size(file.size)}): {reason}")
    listed = {file.name for file in listing.files}
    strays = sorted(name for name in existing if name not in listed and name != MANIFEST_NAME)
    if strays:
        output.line(f"note: {len(strays)} objects under {dest} are not in the source; left in place: {strays[:5]}")

    if to_copy and MANIFEST_NAME in existing:
        # From here until the new manifest is written the folder is incomplete, and must not look complete.
        existing[MANIFEST_NAME].delete()

    result_lock = threading.Lock()

    def copy(file: SourceFile) -> None:
        file_started = time.monotonic()
        try:
            # One client per copy: the Cloud Storage client is not meant to be shared between threads.
            blob = _copy_file(
                source, file, new_client().bucket(dest.bucket), object_name(dest.prefix, file.name), chunk_size, output
            )
        except Exception as error:  # one file's failure must not stop the others; the run reports them all
            with result_lock:
                result.failures.append(f"{file.name}: {error}")
            output.line(f"FAILED {file.name}: {error}")
            return
        with result_lock:
            objects[file.name] = blob
            result.copied += 1
            result.bytes_copied += file.size
        output.line(f"copied {file.name} ({human_size(file.size)}) in {time.monotonic() - file_started:.1f} s")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(copy, to_copy))

    if not result.failures:
        manifest = bucket.blob(object_name(dest.prefix, MANIFEST_NAME))
        manifest.upload_from_string(
            json.dumps(_manifest(source, listing, objects), indent=2) + "\n", content_type="application/json"
        )
        result.manifest = f"gs://{dest.bucket}/{manifest.name}"
    result.seconds = time.monotonic() - started
    rate = result.bytes_copied / result.seconds / 1024 / 1024 if result.seconds else 0.0
    summary = (
        f"{len(listing.files)} files: {result.copied} copied, {result.skipped} skipped, "
        f"{len(result.failures)} failed; {human_size(result.bytes_copied)} copied in {result.seconds:.1f} s "
        f"({rate:.1f} MiB/s)"
    )
    if result.failures:
        output.line(f"INCOMPLETE: {summary}; no manifest written, rerun to copy the rest. Failed:")
        for failure in result.failures:
            output.line(f"  {failure}")
    else:
        output.line(f"done: {summary}; manifest {result.manifest}")
    return result


# --- command line ---------------------------------------------------------------------------------------------

_HF_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")


def parse_gcs_dest(text: str) -> GcsPrefix:
    example = "gs://BUCKET/PATH, e.g. gs://my-weights/models/llama-3.1-70b"
    if not text.startswith("gs://"):
        raise ValueError(f"--dest: {text!r} is not a gs:// URI; allowed: {example}")
    bucket, _, prefix = text.removeprefix("gs://").partition("/")
    if not _BUCKET_NAME.fullmatch(bucket):
        raise ValueError(f"--dest: {bucket!r} is not a bucket name; allowed: {example}")
    if not prefix.strip("/"):
        raise ValueError(f"--dest: {text!r} names no folder in the bucket; allowed: {example}")
    return GcsPrefix(bucket, prefix.strip("/"))


def parse_s3_uri(text: str) -> tuple[str, str]:
    example = "s3://BUCKET/PREFIX, e.g. s3://my-models/llama-3.1-70b"
    if not text.startswith("s3://"):
        raise ValueError(f"--s3-uri: {text!r} is not an s3:// URI; allowed: {example}")
    bucket, _, prefix = text.removeprefix("s3://").partition("/")
    if not bucket:
        raise ValueError(f"--s3-uri: {text!r} names no bucket; allowed: {example}")
    return bucket, prefix


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stage_weights.py",
        description="Copy model weights from Hugging Face or S3 into gs://BUCKET/PATH, resumably and verified.",
    )
    parser.add_argument("--dest", required=True, help="gs://BUCKET/PATH the files land under")
    origin = parser.add_mutually_exclusive_group(required=True)
    origin.add_argument("--hf-repo", help="a Hugging Face model repository, ORG/NAME (token from HF_TOKEN)")
    origin.add_argument("--s3-uri", help="s3://BUCKET/PREFIX (credentials from the usual AWS environment)")
    parser.add_argument("--revision", help="Hugging Face branch, tag or commit (default: main)")
    parser.add_argument("--s3-endpoint-url", help="an S3-compatible endpoint instead of AWS")
    parser.add_argument(
        "--allow-pattern", action="append", default=[], metavar="GLOB", help="stage only matching files (repeatable)"
    )
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="files copied at once (default: 4)")
    parser.add_argument(
        "--chunk-size-mib", type=int, default=DEFAULT_CHUNK_SIZE_MIB, help="upload request size, MiB (default: 64)"
    )
    return parser


def _source_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Source:
    if args.hf_repo is not None:
        if args.s3_endpoint_url is not None:
            parser.error("--s3-endpoint-url: only allowed with --s3-uri")
        if not _HF_REPO_ID.fullmatch(args.hf_repo):
            parser.error(
                f"--hf-repo: {args.hf_repo!r} is not a repository id; allowed: ORG/NAME, "
                "e.g. meta-llama/Llama-3.1-70B-Instruct"
            )
        return HfSource(
            args.hf_repo,
            args.revision or "main",
            os.environ.get("HF_TOKEN") or None,
            os.environ.get("HF_ENDPOINT") or None,
            args.allow_pattern,
        )
    if args.revision is not None:
        parser.error("--revision: only allowed with --hf-repo (S3 objects are staged as they are now)")
    try:
        bucket, prefix = parse_s3_uri(args.s3_uri)
    except ValueError as error:
        parser.error(str(error))
    return S3Source(bucket, prefix, args.s3_endpoint_url, args.allow_pattern)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        dest = parse_gcs_dest(args.dest)
    except ValueError as error:
        parser.error(str(error))
    if args.workers < 1:
        parser.error(f"--workers: {args.workers} is not allowed; allowed: 1 or more")
    if args.chunk_size_mib < 1:
        parser.error(f"--chunk-size-mib: {args.chunk_size_mib} is not allowed; allowed: 1 or more")
    source = _source_from_args(parser, args)
    try:
        result = stage(source, dest, chunk_size=args.chunk_size_mib * 1024 * 1024, workers=args.workers, out=out)
    except StagingError as error:
        print(f"stage_weights.py: error: {error}", file=sys.stderr)
        return 1
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
