"""The compile cache's bucket sync against gcp-storage-emulator (the Llama tests' fixture, reused)."""

import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from sd_serve.app import sync_cache
from sd_serve.cache import BucketCache

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "llama" / "tests"))
from storage_emulators import GcsEmulator, gcs_emulator, gcs_emulator_server

__all__ = ["gcs_emulator", "gcs_emulator_server"]  # fixtures, used by name

BUCKET = "xla-cache"


def write(directory: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(data)


def objects(emulator: GcsEmulator) -> dict[str, bytes]:
    return {blob.name: blob.download_as_bytes() for blob in emulator.client().list_blobs(BUCKET)}


def test_upload_copies_the_entries_and_keeps_jax_bookkeeping_local(gcs_emulator: GcsEmulator, tmp_path: Path):
    gcs_emulator.create_bucket(BUCKET)
    write(tmp_path, {"jit_a-cache": b"A", "jit_a-atime": b"t", ".lockfile": b"", "autotune/fusion-1": b"F"})

    result = BucketCache(BUCKET, "sd/v4", tmp_path).upload()

    assert objects(gcs_emulator) == {"sd/v4/autotune/fusion-1": b"F", "sd/v4/jit_a-cache": b"A"}
    assert (result.files, result.bytes) == (2, 2)


def test_upload_copies_only_the_entries_the_bucket_lacks(gcs_emulator: GcsEmulator, tmp_path: Path):
    gcs_emulator.create_bucket(BUCKET).blob("sd/jit_a-cache").upload_from_string(b"from another replica")
    write(tmp_path, {"jit_a-cache": b"A", "jit_b-cache": b"B"})

    result = BucketCache(BUCKET, "sd", tmp_path).upload()

    assert objects(gcs_emulator) == {"sd/jit_a-cache": b"from another replica", "sd/jit_b-cache": b"B"}
    assert result.files == 1


def test_download_fetches_only_the_entries_the_directory_lacks(gcs_emulator: GcsEmulator, tmp_path: Path):
    bucket = gcs_emulator.create_bucket(BUCKET)
    for name, data in {"sd/jit_a-cache": b"remote A", "sd/jit_b-cache": b"B", "other/jit_c-cache": b"C"}.items():
        bucket.blob(name).upload_from_string(data)
    write(tmp_path, {"jit_a-cache": b"local A"})

    result = BucketCache(BUCKET, "sd", tmp_path).download()

    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == {
        "jit_a-cache": b"local A",
        "jit_b-cache": b"B",
    }
    assert (result.files, result.bytes) == (1, 1)


def test_download_creates_the_cache_directory(gcs_emulator: GcsEmulator, tmp_path: Path):
    gcs_emulator.create_bucket(BUCKET).blob("sd/sub/jit_a-cache").upload_from_string(b"A")

    BucketCache(BUCKET, "sd", tmp_path / "jax-cache").download()

    assert (tmp_path / "jax-cache" / "sub" / "jit_a-cache").read_bytes() == b"A"


def test_a_compiled_cache_comes_back_whole_from_the_bucket(
    gcs_emulator: GcsEmulator, tmp_path: Path, runner: Any, compile_cache_dir: Path
):
    gcs_emulator.create_bucket(BUCKET)
    BucketCache(BUCKET, "sd", compile_cache_dir).upload()

    BucketCache(BUCKET, "sd", tmp_path).download()

    entries = {path.name: path.read_bytes() for path in compile_cache_dir.glob("*-cache")}
    assert len(entries) >= len(runner.compiled_shapes)
    assert {path.name: path.read_bytes() for path in tmp_path.glob("*-cache")} == entries


def test_a_replica_whose_bucket_cannot_be_read_logs_it_and_starts_anyway(
    gcs_emulator: GcsEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.WARNING, logger="ray.serve"):
        sync_cache(BucketCache("no-such-bucket", "sd", tmp_path), "download")

    assert [record.getMessage().split(": ")[0] for record in caplog.records] == [
        "compile cache download gs://no-such-bucket/sd failed"
    ]
