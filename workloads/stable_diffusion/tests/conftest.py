"""Fixtures for the Stable Diffusion workload's tests: the tiny random pipeline on CPU, in this process and behind
Ray Serve on 127.0.0.1.

These tests need the workload's own virtualenv (.venv-sd, from requirements-test.txt): transformers 4.57.6 cannot share
.venv with the Llama workload's huggingface-hub. Under any other interpreter only test_virtualenv.py is collected; it
runs this directory's tests with .venv-sd's Python.

JAX sees two CPU devices (XLA_FLAGS below, inherited by Ray's workers), so the runner's data parallelism is exercised:
batch sizes are per device, so `batch_sizes: [1, 2]` gives calls of 2 and 4 images. The in-process runner and the
served app compile the same shapes into one persistent compilation cache, so whichever starts second loads its
programs instead of compiling them; the cache is kept between runs (.cache/sd-tests-jax at the project root), so a
rerun compiles nothing.

- `runner` (session): a warmed-up ModelRunner of the tiny pipeline (the shapes of tiny_app.APP_ARGS).
- `serve_url` (session): Ray (auth disabled, a temporary directory, 4 logical CPUs) and the app of `build_app(APP_ARGS)`
  on a free 127.0.0.1 port; yields "http://127.0.0.1:PORT"; Serve and Ray are shut down at the end of the session.
"""

import hashlib
import importlib.util
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).resolve().parent
WORKLOAD_DIR = TESTS_DIR.parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from nested_run import NESTED_RUN, SD_PYTHON, TEST_NAME, start  # noqa: E402
from tiny_app import APP_ARGS, CPU_DEVICES, SIZE, STEPS  # noqa: E402

IN_WORKLOAD_VIRTUALENV = all(importlib.util.find_spec(name) for name in ("jax", "diffusers", "ray"))

if not IN_WORKLOAD_VIRTUALENV:
    collect_ignore = [path.name for path in TESTS_DIR.glob("test_*.py") if path.name != "test_virtualenv.py"]
else:
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={CPU_DEVICES}"
    os.environ["JAX_PLATFORMS"] = "cpu"
    if str(WORKLOAD_DIR) not in sys.path:  # sd_serve, client, bench
        sys.path.insert(0, str(WORKLOAD_DIR))


def pytest_configure(config: pytest.Config) -> None:
    if IN_WORKLOAD_VIRTUALENV:
        # Ray 2.60's own models use Field arguments pydantic deprecates; Ray starts its processes with fork+exec,
        # which JAX's warning about forking a threaded process does not apply to.
        config.addinivalue_line("filterwarnings", "ignore::pydantic.warnings.PydanticDeprecatedSince20")
        config.addinivalue_line("filterwarnings", "ignore:os.fork\\(\\) was called:RuntimeWarning")


def pytest_collection_finish(session: pytest.Session) -> None:
    # In any other interpreter: the nested run starts now, beside the rest of the suite (nested_run.py).
    if not IN_WORKLOAD_VIRTUALENV and SD_PYTHON.exists() and any(item.name == TEST_NAME for item in session.items):
        session.config.stash[NESTED_RUN] = start()


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(NESTED_RUN, None)
    if run is not None:  # a session that stopped before the test waited for it
        run.stop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


COMPILE_CACHES = WORKLOAD_DIR.parents[1] / ".cache" / "sd-tests-jax"
"""Kept between runs (gitignored): a rerun loads the tiny pipeline's programs instead of compiling them again."""


def _programs_digest() -> str:
    """What the compiled programs depend on besides JAX (whose version is in every entry's key): this workload's code
    and the shapes the tests serve."""
    digest = hashlib.sha256()
    for path in sorted([*(WORKLOAD_DIR / "sd_serve").glob("*.py"), TESTS_DIR / "tiny_app.py"]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def compile_cache_dir() -> Path:
    """JAX's persistent compilation cache, one folder per version of the code: the folders of other versions are
    removed, so the cache holds only programs this run can use (a test uploads all of it to the emulator)."""
    directory = COMPILE_CACHES / _programs_digest()
    if COMPILE_CACHES.is_dir():
        for stale in COMPILE_CACHES.iterdir():
            if stale != directory:
                shutil.rmtree(stale, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="session")
def runner(compile_cache_dir: Path) -> Any:
    from sd_serve import cache, pipeline
    from sd_serve.runner import ModelRunner

    cache.enable_compilation_cache(compile_cache_dir)
    model_runner = ModelRunner(
        pipeline.load_pipeline(APP_ARGS["model"]),
        sizes=[SIZE],
        steps=[STEPS],
        batch_sizes=APP_ARGS["batch_sizes"],
    )
    model_runner.warm_up()
    return model_runner


@pytest.fixture(scope="session")
def serve_url(compile_cache_dir: Path) -> Iterator[str]:
    import ray
    from ray import serve
    from sd_serve.app import build_app

    os.environ["RAY_AUTH_MODE"] = "disabled"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # Not pytest's tmp_path: Ray's socket paths under it must stay within the 107 characters a Unix socket allows.
    ray_dir = tempfile.mkdtemp(prefix="ray-")
    ray.init(
        num_cpus=4,
        include_dashboard=False,
        _temp_dir=ray_dir,
        runtime_env={"env_vars": {"PYTHONPATH": str(WORKLOAD_DIR)}},
        logging_level="WARNING",
    )
    try:
        port = free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(build_app({**APP_ARGS, "compile_cache_dir": str(compile_cache_dir)}), name="sd", route_prefix="/")
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()
        shutil.rmtree(ray_dir, ignore_errors=True)
