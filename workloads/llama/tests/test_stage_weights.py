"""The weight-staging job, end to end against real local servers: moto (S3) and gcp-storage-emulator (GCS), and
a test double of the Hugging Face Hub's endpoints (see storage_emulators.py)."""

import hashlib
import io
import json
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import stage_weights
from google.cloud import storage
from stage_weights import ChecksumKind, SourceChecksum, SourceFile, SourceListing

sys.path.insert(0, str(Path(__file__).parent))  # the fixtures module beside this file (pytest runs in importlib mode)
from storage_emulators import (
    GcsEmulator,
    HfHubTestDouble,
    S3Bucket,
    gcs_emulator,
    gcs_emulator_server,
    git_blob_id,
    hf_hub,
    hf_hub_server,
    moto_server,
    s3,
)

__all__ = ["gcs_emulator", "gcs_emulator_server", "hf_hub", "hf_hub_server", "moto_server", "s3"]  # fixtures

pytestmark = pytest.mark.workload

MiB = 1024 * 1024
DEST = "gs://weights/models/llama"


def _random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


# A small model laid out as on the Hub. Uploads go in 1 MiB chunks (--chunk-size-mib 1), so both shards take the
# chunked resumable path; the second is a multipart S3 upload, whose ETag is no MD5.
SHARD_1 = "model-00001-of-00002.safetensors"
SHARD_2 = "model-00002-of-00002.safetensors"
MODEL = {
    "config.json": b'{"architectures": ["LlamaForCausalLM"], "num_hidden_layers": 2}\n',
    "tokenizer.json": _random_bytes(10_000, seed=1),
    "original/params.json": b'{"dim": 64}\n',
    SHARD_1: _random_bytes(2 * MiB + 1234, seed=2),
    SHARD_2: _random_bytes(5 * MiB + MiB // 2, seed=3),
}


@pytest.fixture
def weights(gcs_emulator: GcsEmulator) -> storage.Bucket:
    return gcs_emulator.create_bucket("weights")


@pytest.fixture
def s3_model(s3: S3Bucket) -> S3Bucket:
    for name, data in MODEL.items():
        if name == SHARD_2:
            s3.put_multipart(f"llama/{name}", [data[: 5 * MiB], data[5 * MiB :]])
        else:
            s3.put(f"llama/{name}", data)
    s3.put("other-model/config.json", b"{}")  # beside the prefix: must not be staged
    return s3


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = stage_weights.main([*argv, "--chunk-size-mib", "1"], out=out)
    return code, out.getvalue()


def run_s3(s3: S3Bucket, dest: str = DEST) -> tuple[int, str]:
    return run("--dest", dest, "--s3-uri", f"s3://{s3.name}/llama", "--s3-endpoint-url", s3.endpoint_url)


def staged(bucket: storage.Bucket, prefix: str = "models/llama") -> dict[str, storage.Blob]:
    return {blob.name.removeprefix(f"{prefix}/"): blob for blob in bucket.list_blobs(prefix=f"{prefix}/")}


def manifest(bucket: storage.Bucket) -> dict:
    return json.loads(bucket.blob(f"models/llama/{stage_weights.MANIFEST_NAME}").download_as_bytes())


def s3_source(s3: S3Bucket) -> stage_weights.S3Source:
    return stage_weights.S3Source(s3.name, "llama", s3.endpoint_url, allow_patterns=[])


class FaultySource:
    """Wraps a real source and damages the stream of the file named `fault_on` (see the subclasses)."""

    def __init__(self, inner: stage_weights.Source, fault_on: str) -> None:
        self.inner = inner
        self.uri = inner.uri
        self.fault_on = fault_on

    def list_files(self) -> SourceListing:
        return self.inner.list_files()

    @contextmanager
    def open(self, file: SourceFile) -> Iterator[Iterator[bytes]]:
        with self.inner.open(file) as pieces:
            yield self.damage(pieces) if file.name == self.fault_on else pieces

    def damage(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        raise NotImplementedError


class InterruptedSource(FaultySource):
    """Stand-in for a run killed part-way: the stream breaks after its first MiB, once a chunk has been uploaded."""

    def damage(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        yield next(pieces)
        raise ConnectionResetError("connection reset by peer (simulated)")


class CorruptingSource(FaultySource):
    """Stand-in for bytes damaged in transit: flips the first bit of every piece."""

    def damage(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        return (bytes([piece[0] ^ 1]) + piece[1:] for piece in pieces)


# --- S3 -> GCS ------------------------------------------------------------------------------------------------


def test_every_file_under_the_prefix_is_staged_with_identical_bytes(s3_model: S3Bucket, weights: storage.Bucket):
    code, out = run_s3(s3_model)

    assert code == 0, out
    objects = staged(weights)
    assert {name: blob.download_as_bytes() for name, blob in objects.items() if name in MODEL} == MODEL
    assert set(objects) == {*MODEL, stage_weights.MANIFEST_NAME}
    assert (
        f"done: 5 files: 5 copied, 0 skipped, 0 failed; {stage_weights.human_size(sum(map(len, MODEL.values())))}"
        in out
    )


def test_the_manifest_names_every_file_with_size_and_checksums_and_is_written_last(
    s3_model: S3Bucket, weights: storage.Bucket
):
    run_s3(s3_model)

    written = manifest(weights)
    objects = staged(weights)
    assert written["source"] == f"s3://{s3_model.name}/llama"
    assert written["revision"] is None
    assert {entry["name"]: entry["size"] for entry in written["files"]} == {name: len(d) for name, d in MODEL.items()}
    by_name = {entry["name"]: entry for entry in written["files"]}
    assert by_name[SHARD_1]["source_checksum"] == f"md5:{hashlib.md5(MODEL[SHARD_1]).hexdigest()}"
    assert by_name[SHARD_2]["source_checksum"].startswith("s3-etag:") and "-2" in by_name[SHARD_2]["source_checksum"]
    assert all(entry["md5Hash"] == objects[entry["name"]].md5_hash for entry in written["files"])
    assert all(entry["crc32c"] == objects[entry["name"]].crc32c for entry in written["files"])
    manifest_generation = objects.pop(stage_weights.MANIFEST_NAME).generation
    assert all(manifest_generation > blob.generation for blob in objects.values())


def test_a_second_run_copies_nothing(s3_model: S3Bucket, weights: storage.Bucket):
    run_s3(s3_model)
    generations = {name: blob.generation for name, blob in staged(weights).items() if name in MODEL}

    code, out = run_s3(s3_model)

    assert code == 0
    assert "5 files: 0 copied, 5 skipped, 0 failed" in out
    assert {name: blob.generation for name, blob in staged(weights).items() if name in MODEL} == generations


def test_an_interrupted_copy_leaves_no_partial_object_and_no_manifest(s3_model: S3Bucket, weights: storage.Bucket):
    out = io.StringIO()
    dest = stage_weights.parse_gcs_dest(DEST)

    result = stage_weights.stage(
        InterruptedSource(s3_source(s3_model), fault_on=SHARD_2), dest, chunk_size=MiB, workers=1, out=out
    )

    assert result.failures == [f"{SHARD_2}: connection reset by peer (simulated)"]
    assert set(staged(weights)) == set(MODEL) - {SHARD_2}
    assert result.manifest is None
    assert "INCOMPLETE: 5 files: 4 copied, 0 skipped, 1 failed" in out.getvalue()


def test_a_rerun_after_an_interruption_copies_only_what_is_missing(s3_model: S3Bucket, weights: storage.Bucket):
    stage_weights.stage(
        InterruptedSource(s3_source(s3_model), fault_on=SHARD_2),
        stage_weights.parse_gcs_dest(DEST),
        chunk_size=MiB,
        workers=1,
        out=io.StringIO(),
    )

    code, out = run_s3(s3_model)

    assert code == 0
    assert f"copy {SHARD_2} (5.5 MiB): missing" in out
    assert "5 files: 1 copied, 4 skipped, 0 failed" in out
    assert staged(weights)[SHARD_2].download_as_bytes() == MODEL[SHARD_2]
    assert len(manifest(weights)["files"]) == 5


def test_deleted_and_truncated_objects_are_copied_again(s3_model: S3Bucket, weights: storage.Bucket):
    run_s3(s3_model)
    weights.blob(f"models/llama/{SHARD_1}").delete()
    weights.blob(f"models/llama/{SHARD_2}").upload_from_string(MODEL[SHARD_2][: 3 * MiB])

    code, out = run_s3(s3_model)

    assert code == 0
    assert f"copy {SHARD_1} (2.0 MiB): missing" in out
    assert f"copy {SHARD_2} (5.5 MiB): size {3 * MiB} differs from the source's {len(MODEL[SHARD_2])}" in out
    assert "5 files: 2 copied, 3 skipped, 0 failed" in out
    objects = staged(weights)
    assert (objects[SHARD_1].download_as_bytes(), objects[SHARD_2].download_as_bytes()) == (
        MODEL[SHARD_1],
        MODEL[SHARD_2],
    )


def test_same_size_different_bytes_are_copied_again_when_the_source_md5_is_known(
    s3_model: S3Bucket, weights: storage.Bucket
):
    run_s3(s3_model)
    damaged = weights.blob(f"models/llama/{SHARD_1}")
    damaged.reload()
    # Same size, and even the staging record kept: only the MD5 that Cloud Storage computed can tell.
    damaged.upload_from_string(_random_bytes(len(MODEL[SHARD_1]), seed=99))

    code, out = run_s3(s3_model)

    assert code == 0
    assert f"copy {SHARD_1} (2.0 MiB): md5 " in out
    assert staged(weights)[SHARD_1].download_as_bytes() == MODEL[SHARD_1]


def test_same_size_object_not_written_by_the_job_is_copied_again_when_only_an_etag_is_known(
    s3_model: S3Bucket, weights: storage.Bucket
):
    run_s3(s3_model)
    weights.blob(f"models/llama/{SHARD_2}").upload_from_string(_random_bytes(len(MODEL[SHARD_2]), seed=99))

    code, out = run_s3(s3_model)

    assert code == 0
    assert f"copy {SHARD_2} (5.5 MiB): not staged from this source version (no record != s3-etag:" in out
    assert staged(weights)[SHARD_2].download_as_bytes() == MODEL[SHARD_2]


def test_an_object_with_the_same_md5_copied_by_other_means_is_kept(s3_model: S3Bucket, weights: storage.Bucket):
    weights.blob(f"models/llama/{SHARD_1}").upload_from_string(MODEL[SHARD_1])  # e.g. by `gcloud storage cp`

    code, out = run_s3(s3_model)

    assert code == 0
    assert f"skip {SHARD_1}: already staged" in out
    assert "5 files: 4 copied, 1 skipped, 0 failed" in out


def test_bytes_that_do_not_match_the_source_md5_fail_the_file_and_leave_no_object(
    s3_model: S3Bucket, weights: storage.Bucket
):
    result = stage_weights.stage(
        CorruptingSource(s3_source(s3_model), fault_on=SHARD_1),
        stage_weights.parse_gcs_dest(DEST),
        chunk_size=MiB,
        workers=2,
        out=io.StringIO(),
    )

    assert len(result.failures) == 1
    assert result.failures[0].startswith(f"{SHARD_1}: streamed bytes have md5 ")
    assert result.failures[0].endswith(f", the source lists {hashlib.md5(MODEL[SHARD_1]).hexdigest()}")
    assert SHARD_1 not in staged(weights)
    assert result.manifest is None


def test_allow_patterns_select_files_by_path(s3_model: S3Bucket, weights: storage.Bucket):
    code, _ = run(
        "--dest", DEST, "--s3-uri", f"s3://{s3_model.name}/llama", "--s3-endpoint-url", s3_model.endpoint_url,
        "--allow-pattern", "*.json", "--allow-pattern", "config.*",
    )  # fmt: skip

    assert code == 0
    assert set(staged(weights)) == {"config.json", "tokenizer.json", "original/params.json", "_staging_manifest.json"}


@pytest.mark.parametrize(
    ("etag", "sse", "sse_customer", "expected"),
    [
        ('"0123456789abcdef0123456789abcdef"', None, None, SourceChecksum(ChecksumKind.MD5, "0123456789abcdef" * 2)),
        (
            '"0123456789abcdef0123456789abcdef"',
            "AES256",
            None,
            SourceChecksum(ChecksumKind.MD5, "0123456789abcdef" * 2),
        ),
        (
            '"0123456789abcdef0123456789abcdef"',
            "aws:kms",
            None,
            SourceChecksum(ChecksumKind.S3_ETAG, "0123456789abcdef" * 2),
        ),
        (
            '"0123456789abcdef0123456789abcdef"',
            "aws:kms:dsse",
            None,
            SourceChecksum(ChecksumKind.S3_ETAG, "0123456789abcdef" * 2),
        ),
        (
            '"0123456789abcdef0123456789abcdef"',
            None,
            "AES256",
            SourceChecksum(ChecksumKind.S3_ETAG, "0123456789abcdef" * 2),
        ),
        (
            '"0123456789abcdef0123456789abcdef-2"',
            None,
            None,
            SourceChecksum(ChecksumKind.S3_ETAG, "0123456789abcdef" * 2 + "-2"),
        ),
    ],
    ids=["single-part", "sse-s3", "sse-kms", "dsse-kms", "sse-c", "multipart"],
)
def test_an_s3_etag_counts_as_md5_only_for_single_part_uploads_without_kms_or_customer_keys(
    etag: str, sse: str | None, sse_customer: str | None, expected: SourceChecksum
):
    assert stage_weights.s3_checksum(etag, sse, sse_customer) == expected


# --- errors ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dest", "models/x", "--s3-uri", "s3://b/x"], "--dest: 'models/x' is not a gs:// URI; allowed: gs://BUCKET/PATH, e.g. gs://my-weights/models/llama-3.1-70b"),
        (["--dest", "gs://weights", "--s3-uri", "s3://b/x"], "--dest: 'gs://weights' names no folder in the bucket; allowed: gs://BUCKET/PATH, e.g. gs://my-weights/models/llama-3.1-70b"),
        (["--dest", "gs://My_Bucket/x", "--s3-uri", "s3://b/x"], "--dest: 'My_Bucket' is not a bucket name; allowed: gs://BUCKET/PATH, e.g. gs://my-weights/models/llama-3.1-70b"),
        (["--dest", DEST, "--s3-uri", "my-models/llama"], "--s3-uri: 'my-models/llama' is not an s3:// URI; allowed: s3://BUCKET/PREFIX, e.g. s3://my-models/llama-3.1-70b"),
        (["--dest", DEST, "--s3-uri", "s3:///llama"], "--s3-uri: 's3:///llama' names no bucket; allowed: s3://BUCKET/PREFIX, e.g. s3://my-models/llama-3.1-70b"),
        (["--dest", DEST, "--hf-repo", "llama"], "--hf-repo: 'llama' is not a repository id; allowed: ORG/NAME, e.g. meta-llama/Llama-3.1-70B-Instruct"),
        (["--dest", DEST, "--s3-uri", "s3://b/x", "--revision", "v1"], "--revision: only allowed with --hf-repo (S3 objects are staged as they are now)"),
        (["--dest", DEST, "--hf-repo", "a/b", "--s3-endpoint-url", "http://x"], "--s3-endpoint-url: only allowed with --s3-uri"),
        (["--dest", DEST, "--hf-repo", "a/b", "--workers", "0"], "--workers: 0 is not allowed; allowed: 1 or more"),
        (["--dest", DEST, "--hf-repo", "a/b", "--s3-uri", "s3://b/x"], "argument --s3-uri: not allowed with argument --hf-repo"),
    ],
    ids=["dest-not-gs", "dest-no-folder", "dest-bad-bucket", "s3-not-s3", "s3-no-bucket", "hf-no-org",
         "revision-with-s3", "endpoint-with-hf", "no-workers", "two-sources"],
)  # fmt: skip
def test_bad_arguments_exit_2_with_a_message_naming_the_argument(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
):
    with pytest.raises(SystemExit) as exit_info:
        stage_weights.main(argv)

    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"stage_weights.py: error: {message}"


def test_a_missing_s3_bucket_exits_1_naming_it(s3: S3Bucket, weights: storage.Bucket, capsys):
    code = stage_weights.main(
        ["--dest", DEST, "--s3-uri", "s3://no-such-bucket/llama", "--s3-endpoint-url", s3.endpoint_url]
    )

    assert code == 1
    assert capsys.readouterr().err == (
        "stage_weights.py: error: s3://no-such-bucket/llama: bucket 'no-such-bucket' does not exist\n"
    )


def test_an_empty_s3_prefix_exits_1(s3: S3Bucket, weights: storage.Bucket, capsys):
    code = stage_weights.main(
        ["--dest", DEST, "--s3-uri", f"s3://{s3.name}/nothing-here", "--s3-endpoint-url", s3.endpoint_url]
    )

    assert code == 1
    assert capsys.readouterr().err == (
        f"stage_weights.py: error: s3://{s3.name}/nothing-here: no files to stage (is the path or --allow-pattern right?)\n"
    )


def test_a_missing_destination_bucket_exits_1_naming_it(s3_model: S3Bucket, gcs_emulator: GcsEmulator, capsys):
    code, _ = run_s3(s3_model, dest="gs://no-such-bucket/models/llama")

    assert code == 1
    assert capsys.readouterr().err == (
        "stage_weights.py: error: gs://no-such-bucket/models/llama: bucket 'no-such-bucket' does not exist\n"
    )


# --- Hugging Face -> GCS (through the Hub test double) --------------------------------------------------------

HF_FILES = {
    "config.json": MODEL["config.json"],
    "README.md": b"# llama\n",
    SHARD_1: MODEL[SHARD_1],
}
HF_LFS = {SHARD_1}


def run_hf(*extra: str) -> tuple[int, str]:
    return run("--dest", DEST, "--hf-repo", "meta-llama/Tiny-Llama", *extra)


def test_a_hub_repo_is_staged_at_its_resolved_commit_with_sha256_and_git_blob_checksums(
    hf_hub: HfHubTestDouble, weights: storage.Bucket
):
    commit = hf_hub.add_repo("meta-llama/Tiny-Llama", HF_FILES, lfs=HF_LFS)

    code, out = run_hf("--revision", "main")

    assert code == 0, out
    assert {name: blob.download_as_bytes() for name, blob in staged(weights).items() if name in HF_FILES} == HF_FILES
    written = manifest(weights)
    assert (written["source"], written["revision"]) == ("hf://meta-llama/Tiny-Llama", commit)
    assert {entry["name"]: entry["source_checksum"] for entry in written["files"]} == {
        "config.json": f"git-sha1:{git_blob_id(HF_FILES['config.json'])}",
        "README.md": f"git-sha1:{git_blob_id(HF_FILES['README.md'])}",
        SHARD_1: f"sha256:{hashlib.sha256(HF_FILES[SHARD_1]).hexdigest()}",
    }
    assert f"source hf://meta-llama/Tiny-Llama at {commit}: 3 files" in out


def test_a_second_hub_run_downloads_nothing(hf_hub: HfHubTestDouble, weights: storage.Bucket):
    hf_hub.add_repo("meta-llama/Tiny-Llama", HF_FILES, lfs=HF_LFS)
    run_hf()
    downloads = list(hf_hub.downloads)

    code, out = run_hf()

    assert code == 0
    assert "3 files: 0 copied, 3 skipped, 0 failed" in out
    assert hf_hub.downloads == downloads


def test_hub_allow_patterns_select_files(hf_hub: HfHubTestDouble, weights: storage.Bucket):
    hf_hub.add_repo("meta-llama/Tiny-Llama", HF_FILES, lfs=HF_LFS)

    code, _ = run_hf("--allow-pattern", "*.safetensors", "--allow-pattern", "*.json")

    assert code == 0
    assert sorted(hf_hub.downloads) == ["config.json", SHARD_1]


def test_a_gated_repo_downloads_with_hf_token(
    hf_hub: HfHubTestDouble, weights: storage.Bucket, monkeypatch: pytest.MonkeyPatch
):
    hf_hub.add_repo("meta-llama/Tiny-Llama", HF_FILES, lfs=HF_LFS, token="hf_test_token")
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")

    code, out = run_hf()

    assert code == 0, out
    assert "hf_test_token" not in out


def test_a_gated_repo_without_hf_token_fails_every_file_and_writes_no_manifest(
    hf_hub: HfHubTestDouble, weights: storage.Bucket
):
    hf_hub.add_repo("meta-llama/Tiny-Llama", HF_FILES, lfs=HF_LFS, token="hf_test_token")

    code, out = run_hf()

    assert code == 1
    assert "INCOMPLETE: 3 files: 0 copied, 0 skipped, 3 failed" in out
    assert f"FAILED {SHARD_1}: 401 Client Error" in out
    assert staged(weights) == {}


@pytest.mark.parametrize(
    ("repo", "revision", "message"),
    [
        (
            "meta-llama/No-Such-Model",
            "main",
            "hf://meta-llama/No-Such-Model@main: repository not found (or private, and HF_TOKEN is unset or has no access)",
        ),
        ("meta-llama/Tiny-Llama", "v9", "hf://meta-llama/Tiny-Llama@v9: revision 'v9' not found"),
    ],
    ids=["repo", "revision"],
)
def test_an_unknown_hub_repo_or_revision_exits_1_naming_it(
    repo: str, revision: str, message: str, hf_hub: HfHubTestDouble, weights: storage.Bucket, capsys
):
    hf_hub.add_repo("meta-llama/Tiny-Llama", HF_FILES, lfs=HF_LFS)

    code = stage_weights.main(["--dest", DEST, "--hf-repo", repo, "--revision", revision])

    assert code == 1
    assert capsys.readouterr().err == f"stage_weights.py: error: {message}\n"


# --- a branch other than main: the Stable Diffusion tutorial's CompVis/stable-diffusion-v1-4 at `bf16` ------------

SD_FILES = {
    "model_index.json": b'{"_class_name": "StableDiffusionPipeline"}\n',
    "unet/config.json": b'{"sample_size": 64}\n',
    "unet/diffusion_flax_model.msgpack": _random_bytes(MiB + 17, seed=4),
    "safety_checker/flax_model.msgpack": _random_bytes(1000, seed=5),
    "README.md": b"# sd\n",
}
SD_STAGED = ["model_index.json", "unet/config.json", "unet/diffusion_flax_model.msgpack"]


def run_sd(*extra: str) -> tuple[int, str]:
    return run(
        "--dest",
        "gs://weights/models/CompVis/stable-diffusion-v1-4",
        "--hf-repo",
        "CompVis/stable-diffusion-v1-4",
        "--revision",
        "bf16",
        "--allow-pattern",
        "model_index.json",
        "--allow-pattern",
        "unet/*",
        *extra,
    )


def test_a_branch_is_staged_at_its_commit_with_only_the_allowed_files(hf_hub: HfHubTestDouble, weights: storage.Bucket):
    commit = hf_hub.add_repo(
        "CompVis/stable-diffusion-v1-4", SD_FILES, lfs={"unet/diffusion_flax_model.msgpack"}, branch="bf16"
    )

    code, out = run_sd()

    assert code == 0, out
    objects = {blob.name.removeprefix("models/CompVis/stable-diffusion-v1-4/"): blob for blob in weights.list_blobs()}
    assert sorted(objects) == sorted([*SD_STAGED, "_staging_manifest.json"])
    assert all(objects[name].download_as_bytes() == SD_FILES[name] for name in SD_STAGED)
    written = json.loads(objects["_staging_manifest.json"].download_as_bytes())
    assert (written["source"], written["revision"]) == ("hf://CompVis/stable-diffusion-v1-4", commit)


def test_a_rerun_of_a_branch_copies_nothing(hf_hub: HfHubTestDouble, weights: storage.Bucket):
    hf_hub.add_repo("CompVis/stable-diffusion-v1-4", SD_FILES, lfs={"unet/diffusion_flax_model.msgpack"}, branch="bf16")
    run_sd()
    downloads = list(hf_hub.downloads)

    code, out = run_sd()

    assert code == 0
    assert "3 files: 0 copied, 3 skipped, 0 failed" in out
    assert hf_hub.downloads == downloads


def test_a_branch_the_repo_does_not_have_exits_1_naming_it(hf_hub: HfHubTestDouble, weights: storage.Bucket, capsys):
    hf_hub.add_repo("CompVis/stable-diffusion-v1-4", SD_FILES, lfs=set(), branch="main")

    code = stage_weights.main(["--dest", DEST, "--hf-repo", "CompVis/stable-diffusion-v1-4", "--revision", "bf16"])

    assert code == 1
    assert capsys.readouterr().err == (
        "stage_weights.py: error: hf://CompVis/stable-diffusion-v1-4@bf16: revision 'bf16' not found\n"
    )
