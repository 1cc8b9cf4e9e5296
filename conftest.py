"""Every test, in .venv and in .venv-sd: no process that a test or a fixture starts may outlive it.

A process found running when a fixture's setup or a test's call ends belongs to that fixture or test. Once the
fixture is finalized, or the test torn down, its processes get a few seconds to exit; any still running are killed
and the test errors, naming them. (A server that outlives its fixture keeps a port and CPU for the rest of the run,
and after the run nobody stops it.)

Looking for processes reads all of /proc, so it is done only after a phase that started one: Python's audit events
for a fork or an exec say when (a test that starts nothing pays nothing).
"""

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

_SPAWN_EVENTS = frozenset({"subprocess.Popen", "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec"})
EXIT_GRACE_S = 5.0
"""How long a process has to exit once its owner is finished (a server's own shutdown, Ray's processes)."""

_spawned = False
_owned: dict[tuple[int, float], object] = {}
"""Every process found so far, by pid and start time (a pid can be reused): its owner (None: started outside any
test or fixture, as during collection; not checked)."""
_owners: dict[object, dict[tuple[int, float], psutil.Process]] = {}


def _on_audit(event: str, _args: tuple[Any, ...]) -> None:
    global _spawned
    if event in _SPAWN_EVENTS:
        _spawned = True


sys.addaudithook(_on_audit)


def _claim(owner: object) -> None:
    """The processes started since the last look, given to `owner`."""
    global _spawned
    if not _spawned:
        return
    _spawned = False
    found: dict[int, tuple[tuple[int, float], int, psutil.Process]] = {}
    for process in psutil.Process().children(recursive=True):
        try:
            found[process.pid] = ((process.pid, process.create_time()), process.ppid(), process)
        except psutil.NoSuchProcess:
            continue
    # Oldest first, so a process's parent is placed before it: a process started by a known one (a server's workers)
    # belongs to that one's owner, whenever it appeared.
    for key, parent, process in sorted(found.values(), key=lambda entry: entry[0][1]):
        if key in _owned:
            continue
        ancestor = found.get(parent)
        _owned[key] = _owned.get(ancestor[0], owner) if ancestor is not None else owner
        if _owned[key] is not None:
            _owners.setdefault(_owned[key], {})[key] = process


def _release(owner: object, what: str) -> None:
    """Waits for `owner`'s processes to exit; kills those that do not and fails, naming them."""
    processes = _owners.pop(owner, {})
    if not processes:
        return
    _gone, alive = psutil.wait_procs(list(processes.values()), timeout=EXIT_GRACE_S)
    alive = [process for process in alive if _running(process)]
    leaked = [_describe(process) for process in alive]
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=EXIT_GRACE_S)
    for key in processes:
        del _owned[key]
    if leaked:
        pytest.fail(f"{what} left {len(leaked)} process(es) running (killed now): {'; '.join(leaked)}", pytrace=False)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _describe(process: psutil.Process) -> str:
    try:
        return f"pid {process.pid}: {' '.join(process.cmdline())[:200]}"
    except psutil.Error:
        return f"pid {process.pid}"


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Iterator[Any]:
    _claim(None)  # anything started before this setup is not the fixture's
    try:
        return (yield)
    finally:
        _claim(fixturedef)


def pytest_fixture_post_finalizer(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> None:
    _release(fixturedef, f"fixture {fixturedef.argname!r}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    _claim(None)
    try:
        return (yield)
    finally:
        _claim(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    try:
        return (yield)
    finally:
        _claim(item)  # started during teardown
        _release(item, f"test {item.name}")
