"""The vLLM tutorial's requests, unchanged but for the host, against the dev stack's server as rendered: the launcher
started with the vLLM container's environment from the dev stack's manifest, the OpenAI test double in vLLM's place.

The requests are written the way GKE's "Serve an LLM using TPU Trillium on GKE with vLLM" tutorial sends them (its
`curl` to /v1/completions, and `load.sh`, which repeats that curl from parallel processes in a loop: bounded here),
naming the tutorial's model, meta-llama/Llama-3.1-70B; and the curl the stack prints for it (its `completion`
command), run with curl as printed but for the host."""

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the fixtures module beside this file (pytest runs in importlib mode)
from storage_emulators import GcsEmulator, gcs_emulator, gcs_emulator_server

from gke_tpu_serving.offline import PreviewResult, run_program

__all__ = ["gcs_emulator", "gcs_emulator_server"]  # fixtures

pytestmark = pytest.mark.workload

ROOT = Path(__file__).resolve().parents[3]
LAUNCHER = Path(__file__).resolve().parents[1] / "launcher.py"
TUTORIAL_MODEL = "meta-llama/Llama-3.1-70B"
LOAD_PROCESSES, LOAD_ROUNDS = 4, 3


def completion_request(host: str) -> dict[str, Any]:
    """The tutorial's curl: POST /v1/completions, JSON naming the model, a prompt, max_tokens and temperature."""
    return {
        "url": f"{host}/v1/completions",
        "headers": {"Content-Type": "application/json"},
        "json": {"model": TUTORIAL_MODEL, "prompt": "San Francisco is a", "max_tokens": 100, "temperature": 0},
    }


@pytest.fixture(scope="module")
def dev_llama() -> PreviewResult:
    return run_program(ROOT, "dev")


@pytest.fixture(scope="module")
def dev_vllm_container(dev_llama: PreviewResult) -> dict[str, Any]:
    deployment = dev_llama.one("kubernetes:apps/v1:Deployment", "vllm-llama")
    [container] = [c for c in deployment.inputs["spec"]["template"]["spec"]["containers"] if c["name"] == "vllm"]
    return container


@pytest.fixture
def dev_server(
    dev_vllm_container: dict[str, Any],
    gcs_emulator: GcsEmulator,
    tmp_path: Path,
    test_server_command: tuple[str, ...],
    free_port: int,
    wait_for_health: Callable[..., None],
) -> Iterator[str]:
    """The launcher with the dev manifest's plain environment; on this machine only the port, the compile cache's
    local directory and the storage emulator differ (and the test double runs in vLLM's place)."""
    rendered = {e["name"]: e["value"] for e in dev_vllm_container["env"] if "value" in e}
    gcs_emulator.create_bucket(rendered["COMPILE_CACHE_BUCKET"])
    env = {
        **os.environ,
        **rendered,
        "PORT": str(free_port),
        "COMPILE_CACHE_DIR": str(tmp_path / "xla-cache"),
        "STORAGE_EMULATOR_HOST": gcs_emulator.url,
        "VLLM_COMMAND": shlex.join([*test_server_command, "serve"]),
    }
    process = subprocess.Popen([sys.executable, str(LAUNCHER)], env=env)
    url = f"http://127.0.0.1:{free_port}"
    try:
        wait_for_health(url, process, timeout_s=30.0)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_dev_manifest_serves_the_tutorials_model_name(dev_vllm_container: dict[str, Any]) -> None:
    env = {e["name"]: e.get("value") for e in dev_vllm_container["env"]}
    assert env["SERVED_MODEL_NAME"].split()[0] == TUTORIAL_MODEL


def test_the_tutorials_curl_gets_a_completion(dev_server: str) -> None:
    response = httpx.post(**completion_request(dev_server), timeout=30)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == TUTORIAL_MODEL
    assert body["choices"][0]["text"]


def test_the_stacks_printed_completion_command_runs_as_printed(dev_llama: PreviewResult, dev_server: str) -> None:
    # `pulumi stack output llama` prints it for the port-forward's localhost:8000; only the host changes here.
    command = dev_llama.outputs["llama"]["commands"]["completion"]
    assert command.count("http://localhost:8000") == 1, command
    argv = shlex.split(command.replace("http://localhost:8000", dev_server))
    assert argv[0] == "curl"
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)

    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["model"] == TUTORIAL_MODEL
    assert body["choices"][0]["text"]


def test_the_tutorials_load_loop_gets_only_200s(dev_server: str) -> None:
    def one_process(_: int) -> list[int]:
        with httpx.Client(timeout=30) as client:
            return [client.post(**completion_request(dev_server)).status_code for _ in range(LOAD_ROUNDS)]

    with ThreadPoolExecutor(LOAD_PROCESSES) as pool:
        statuses = [status for process in pool.map(one_process, range(LOAD_PROCESSES)) for status in process]

    assert statuses == [200] * (LOAD_PROCESSES * LOAD_ROUNDS)


def test_the_launcher_passed_the_dev_manifests_flags(dev_server: str, free_port: int) -> None:
    argv = httpx.get(f"{dev_server}/test/argv").json()["argv"]
    assert argv[:3] == ["serve", "/data/models/meta-llama/Llama-3.1-70B", f"--served-model-name={TUTORIAL_MODEL}"]
    assert "--tensor-parallel-size=8" in argv and "--max-model-len=4096" in argv
