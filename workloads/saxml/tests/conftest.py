"""Fixtures for the Saxml workload's tests: the HTTP server (saxml_http) run for real with uvicorn in a subprocess on
127.0.0.1, over its TEST DOUBLE backend (SAXML_BACKEND=fake: saxml_http.testing.FakeSaxBackend), since Saxml itself
cannot be built here.

Puts workloads/saxml/http_server on sys.path, so tests can `import saxml_http` and `import saxml_client`. This file
cannot be imported by a test module (pytest runs with --import-mode=importlib): what tests need is a fixture.

- `start_saxml_server(env={...}, port=None)`: a context manager that starts a server with extra environment (e.g.
  {"SAXML_FAKE_UNAVAILABLE_CALLS": "2"}) on `port` (default: a free one), waits for GET /health, yields its base URL
  ("http://127.0.0.1:PORT") and stops it.
- `saxml_server` (one per test module): such a server, serving the cells in SAXML_TEST_CELLS.
- `small_saxml_server` (one per test module): the same with SAXML_MAX_BODY_BYTES=1024 and SAXML_MAX_REPLICAS=3.
- `token_saxml_server` (one per test module): the same with an admin token; yields (base URL, token).
- `free_port`: a port that was free on 127.0.0.1 a moment ago.
- `server_command(port)`: the command line that serves on that port (for a test that starts it itself).
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

HTTP_SERVER_DIR = Path(__file__).resolve().parent.parent / "http_server"
# The fake's cells: /sax/test as in the tutorial, and one per test that needs a cell to itself.
SAXML_TEST_CELLS = ("/sax/test", "/sax/other", *(f"/sax/cell{index}" for index in range(12)))
STARTUP_TIMEOUT_S = 20.0

if str(HTTP_SERVER_DIR) not in sys.path:
    sys.path.insert(0, str(HTTP_SERVER_DIR))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_command(port: int) -> list[str]:
    return [sys.executable, "-m", "saxml_http", "--host", "127.0.0.1", "--port", str(port)]


def server_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(HTTP_SERVER_DIR),
        "SAXML_BACKEND": "fake",
        "SAXML_FAKE_CELLS": ",".join(SAXML_TEST_CELLS),
        **(extra or {}),
    }


def _healthy(base_url: str, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200:
                return True
        except httpx.TransportError:
            time.sleep(0.05)
    return False


@contextmanager
def start_saxml_server(env: Mapping[str, str] | None = None, port: int | None = None) -> Iterator[str]:
    # A chosen free port can be taken before the server binds it: then try another.
    for _ in range(3):
        chosen = port or _free_port()
        base_url = f"http://127.0.0.1:{chosen}"
        process = subprocess.Popen(server_command(chosen), env=server_env(env))
        try:
            if _healthy(base_url, process):
                yield base_url
                return
        finally:
            # uvicorn stops on SIGTERM at once; a server that does not is a failure.
            process.terminate()
            process.wait(timeout=10)
        if port is not None:
            break
    raise RuntimeError(f"the Saxml HTTP server did not answer /health on {base_url}")


StartSaxmlServer = Callable[..., AbstractContextManager[str]]


@pytest.fixture(name="start_saxml_server")
def start_saxml_server_fixture() -> StartSaxmlServer:
    return start_saxml_server


@pytest.fixture(name="server_command")
def server_command_fixture() -> Callable[[int], list[str]]:
    return server_command


@pytest.fixture(name="server_env")
def server_env_fixture() -> Callable[..., dict[str, str]]:
    return server_env


@pytest.fixture(name="free_port")
def free_port_fixture() -> int:
    return _free_port()


@pytest.fixture(scope="module")
def saxml_server() -> Iterator[str]:
    with start_saxml_server() as base_url:
        yield base_url


@pytest.fixture(scope="module")
def small_saxml_server() -> Iterator[str]:
    with start_saxml_server({"SAXML_MAX_BODY_BYTES": "1024", "SAXML_MAX_REPLICAS": "3"}) as base_url:
        yield base_url


ADMIN_TOKEN = "admin-token-for-tests-0123456789"


@pytest.fixture(scope="module")
def token_saxml_server() -> Iterator[tuple[str, str]]:
    with start_saxml_server({"SAXML_ADMIN_TOKEN": ADMIN_TOKEN}) as base_url:
        yield base_url, ADMIN_TOKEN
