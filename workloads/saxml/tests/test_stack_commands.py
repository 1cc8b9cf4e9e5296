"""The dev stack's Saxml follow-up commands (its `saxml` output's `commands`: listall, listcell, generate), run with
curl exactly as printed but for the host (the port-forward's localhost:8888 becomes the test server's), against the
Saxml HTTP server over its test double of the Sax cell (FakeSaxBackend), once the stack's models are published as
its publishing Job publishes them."""

import json
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gke_tpu_serving.offline import run_program

pytestmark = pytest.mark.workload

ROOT = Path(__file__).resolve().parents[3]
PORT_FORWARD_HOST = "localhost:8888"


SERVICE = "kubernetes:core/v1:Service"


@dataclass
class DevSaxml:
    commands: dict[str, str]
    models: list[dict[str, Any]]
    """The models the stack file publishes (its publishing Job's list)."""
    services: set[tuple[str, str]]
    """(namespace, name) of every Service the stack renders."""


@pytest.fixture(scope="module")
def dev() -> DevSaxml:
    result = run_program(ROOT, "dev")
    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]["gke-tpu-serving:saxml"]
    services = {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]) for r in result.of_type(SERVICE)}
    return DevSaxml(result.outputs["saxml"]["commands"], config["models"], services)


def run_printed(command: str, server: str) -> Any:
    """The command as printed, with the test server in place of the port-forward; its JSON answer."""
    assert command.count(PORT_FORWARD_HOST) == 1, command
    argv = shlex.split(command.replace(PORT_FORWARD_HOST, server.removeprefix("http://")))
    assert argv[0] == "curl"
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_printed_requests_answer_for_the_published_model(dev: DevSaxml, saxml_server: str) -> None:
    for model in dev.models:
        body = {
            "model": model["model"],
            "model_path": model["modelPath"],
            "checkpoint": model["checkpoint"],
            "replicas": model["replicas"],
        }
        assert httpx.post(f"{saxml_server}/publish", json=body).status_code == 200
    first = dev.models[0]
    assert first["model"] in run_printed(dev.commands["listall"], saxml_server)
    assert run_printed(dev.commands["listcell"], saxml_server) == {
        "model": first["model"],
        "model_path": first["modelPath"],
        "checkpoint": first["checkpoint"],
        "max_replicas": first["replicas"],
        "active_replicas": first["replicas"],
    }
    answers = run_printed(dev.commands["generate"], saxml_server)
    assert answers and all(isinstance(text, str) and isinstance(score, float) for text, score in answers)


def test_the_port_forward_reaches_the_http_service_the_stack_renders(dev: DevSaxml) -> None:
    kubectl, flag, namespace, verb, target, ports = shlex.split(dev.commands["portForward"])
    assert (kubectl, flag, verb) == ("kubectl", "-n", "port-forward")
    assert (namespace, target.removeprefix("svc/")) in dev.services
    assert ports == f"{PORT_FORWARD_HOST.split(':')[1]}:8888"
