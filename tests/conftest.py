"""Shared fixtures. `pulumi_mocks`: Pulumi's in-process mocks that record every resource.

    def test_pool(pulumi_mocks):
        GkeTpuCluster("c", args)
        res = pulumi_mocks.settle()
        pool = res.one("gcp:container/nodePool:NodePool", "c-v4")

Project "gke-tpu-serving", stack "test", preview mode. Before constructing: `pulumi_mocks.config({...})`
sets config (bare keys belong to the project; `gcp:project` is preset to "test-project"),
`pulumi_mocks.invokes[token] = handler` answers an invoke, `pulumi_mocks.computed[type] = fn` adds
provider-computed outputs. `settle()` raises `UnmockedInvokeError` for any invoke no handler answers;
`resolve(output)` gives an Output's plain value.

`offline_cli("preview", "--stack", "dev", ...)` runs the offline CLI's `main(argv)` in this process, as
`python -m gke_tpu_serving.offline ...` would from the current directory, and returns a CompletedProcess with its exit
status and what it printed (one test, in test_offline.py, runs the real command in a subprocess).
"""

import functools
import gc
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import ROOT, SHIPPED_STACKS, OfflineCli

from gke_tpu_serving.offline import MockSession, PreviewResult, run_program
from gke_tpu_serving.offline.__main__ import GC_THRESHOLDS
from gke_tpu_serving.offline.__main__ import main as offline_main

# The previews these tests run in this process build heaps of hundreds of thousands of long-lived objects: the
# collector thresholds the offline CLI runs with spare them the same repeated full collections.
gc.set_threshold(*GC_THRESHOLDS)


@pytest.fixture
def pulumi_mocks() -> Iterator[MockSession]:
    session = MockSession("gke-tpu-serving", "test", config={"gcp:project": "test-project"})
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="session")
def shipped_stack() -> Callable[[str], PreviewResult]:
    """`shipped_stack("dev")`: the offline preview of a shipped stack, rendered once per test run and shared by every
    test that reads it (tests must not change what it returns)."""
    return _render_shipped


@functools.cache
def _render_shipped(stack: str) -> PreviewResult:
    assert stack in SHIPPED_STACKS, stack
    return run_program(ROOT, stack)


_STOP_AT_END = pytest.StashKey[list[Callable[[], None]]]()


def pytest_collection_finish(session: pytest.Session) -> None:
    # checkov's runs start as soon as collection has found a test that reads them, beside the rest of the suite.
    # The module as pytest imported it (importlib mode: an import from here would load a second copy).
    static = next((item for item in session.items if "checkov_runs" in getattr(item, "fixturenames", ())), None)
    if static is not None:
        module = static.module  # type: ignore[attr-defined]
        run = module.start(module.shipped_or_rendered(_render_shipped))
        session.config.stash[module.CHECKOV_RUN] = run
        session.config.stash.setdefault(_STOP_AT_END, []).append(run.stop)


def pytest_unconfigure(config: pytest.Config) -> None:
    for stop in config.stash.get(_STOP_AT_END, []):  # a session that stopped before the fixture finished it
        stop()


@pytest.fixture
def offline_cli(capsys: pytest.CaptureFixture[str]) -> OfflineCli:
    def run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()  # what the test printed before is not the command's
        args = [str(arg) for arg in argv]
        status = offline_main(args)
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(["python", "-m", "gke_tpu_serving.offline", *args], status, out, err)

    return run
