"""Fixtures for the Llama workload's tests: the OpenAI-compatible test double (a stand-in for vLLM) on 127.0.0.1.

Puts `workloads/llama` on sys.path, so tests can `import loadgen`, `import launcher`, `import stage_weights`.
This file cannot be imported by a test module (pytest runs with --import-mode=importlib): everything below is
given as a fixture, named as it is here.

- `openai_server` (one per test module): starts `openai_test_server.py` with its defaults in a subprocess on a
  free 127.0.0.1 port, waits for `/health`, yields the base URL ("http://127.0.0.1:PORT"), stops the server.

      def test_models(openai_server: str) -> None:
          assert httpx.get(f"{openai_server}/v1/models").status_code == 200

- `start_test_server(*extra_args, env=None, timeout_s=15.0)`: a context manager for a server of one's own, with
  extra command-line arguments (the test double's, or vLLM's, which it records) and extra environment variables;
  yields `(process, base_url)` once `/health` answers (bounded by timeout_s); stops the process on exit.

      def test_fault(start_test_server) -> None:
          with start_test_server("--fail-every", "2", "--tensor-parallel-size", "8") as (process, url):
              assert httpx.get(f"{url}/test/argv").json()["argv"][-2:] == ["--tensor-parallel-size", "8"]

- For a process that starts the test double itself (a launcher under test, in place of `vllm serve`):
  `test_server_command` is the command that runs it (append vLLM's flags, `--port` included), and
  `wait_for_health(base_url, process=None, timeout_s=15.0)` waits until it answers 200, raising RuntimeError if
  the process exits first or time runs out; `free_port` is a port that was free on 127.0.0.1 a moment ago;
  `stop_process(process)` sends SIGTERM, then SIGKILL if it has not exited within 5 s.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest

TESTS_DIR = Path(__file__).resolve().parent
LLAMA_DIR = TESTS_DIR.parent
TEST_SERVER_SCRIPT = TESTS_DIR / "openai_test_server.py"
TEST_SERVER_COMMAND = (sys.executable, str(TEST_SERVER_SCRIPT))

if str(LLAMA_DIR) not in sys.path:
    sys.path.insert(0, str(LLAMA_DIR))


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (another process may still take it: callers retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_health(base_url: str, process: subprocess.Popen[bytes] | None = None, timeout_s: float = 15.0) -> None:
    """Waits until GET {base_url}/health answers 200; raises RuntimeError if `process` exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server process exited with code {process.returncode} before {base_url} was healthy")
        try:
            if httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{base_url}/health did not answer 200 within {timeout_s} s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 5 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def start_test_server(
    *extra_args: str, env: Mapping[str, str] | None = None, timeout_s: float = 15.0
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Runs the test double on a free 127.0.0.1 port; yields (process, base_url) once /health answers."""
    attempts = 3  # the free port can be taken between choosing it and the server binding it
    for attempt in range(attempts):
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        command = [*TEST_SERVER_COMMAND, "--host", "127.0.0.1", "--port", str(port), *extra_args]
        process = subprocess.Popen(command, env={**os.environ, **(env or {})})
        try:
            wait_for_health(base_url, process, timeout_s)
            break
        except RuntimeError:
            exited_by_itself = process.poll() is not None
            stop_process(process)
            if not exited_by_itself or attempt == attempts - 1:
                raise
    try:
        yield process, base_url
    finally:
        stop_process(process)


StartTestServer = Callable[..., AbstractContextManager[tuple[subprocess.Popen[bytes], str]]]


@pytest.fixture(name="start_test_server")
def start_test_server_fixture() -> StartTestServer:
    return start_test_server


@pytest.fixture(name="test_server_command")
def test_server_command_fixture() -> tuple[str, ...]:
    return TEST_SERVER_COMMAND


@pytest.fixture(name="free_port")
def free_port_fixture() -> int:
    return free_port()


@pytest.fixture(name="wait_for_health")
def wait_for_health_fixture() -> Callable[..., None]:
    return wait_for_health


@pytest.fixture(name="stop_process")
def stop_process_fixture() -> Callable[[subprocess.Popen[bytes]], None]:
    return stop_process


@pytest.fixture(scope="module")
def openai_server() -> Iterator[str]:
    with start_test_server() as (_, base_url):
        yield base_url
