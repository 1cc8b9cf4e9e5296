"""The follow-up commands each instance exports (`commands`): every object a command names exists in the rendered
manifests, under that name, in that namespace, so the tutorial's steps work against what the stack deploys."""

import re
from collections.abc import Callable

import pytest

from gke_tpu_serving.offline import PreviewResult, kubernetes_manifests
from gke_tpu_serving.ray.cluster_args import head_service_name
from gke_tpu_serving.ray.ray_service import serve_service_name

# kubectl's short resource names, as the commands use them, by kind.
KIND_OF = {
    "svc": "Service",
    "deployment": "Deployment",
    "job": "Job",
    "rayservice": "RayService",
    "hpa": "HorizontalPodAutoscaler",
    "secret": "Secret",
}
_OBJECT = re.compile(r"\b(svc|deployment|job)/([a-z0-9-]+)|\bget (rayservice|hpa|secret) ([a-z0-9-]+)")


def named_objects(command: str) -> list[tuple[str, str, str]]:
    """(namespace, kind, name) of every object `command` names."""
    namespace = re.search(r"kubectl -n ([a-z0-9-]+) ", command)
    found = []
    for match in _OBJECT.finditer(command):
        short, name = (match[1], match[2]) if match[1] else (match[3], match[4])
        assert namespace is not None, command
        found.append((namespace[1], KIND_OF[short], name))
    return found


@pytest.mark.parametrize("stack", ["dev", "gpu", "autopilot", "teams"])
def test_every_object_a_command_names_is_rendered(stack: str, shipped_stack: Callable[[str], PreviewResult]) -> None:
    result = shipped_stack(stack)
    manifests = kubernetes_manifests(result)
    rendered = {(m["metadata"].get("namespace"), m["kind"], m["metadata"]["name"]) for m in manifests}
    # KubeRay creates a RayService's Serve and head Services itself, under these names.
    rendered |= {
        (m["metadata"]["namespace"], "Service", service(m["metadata"]["name"]))
        for m in manifests
        if m["kind"] == "RayService"
        for service in (serve_service_name, head_service_name)
    }
    commands = [
        command
        for key in ("llama", "stableDiffusion", "saxml")
        for outputs in _instances(result.outputs.get(key))
        for command in outputs.get("commands", {}).values()
    ]
    named = [obj for command in commands for obj in named_objects(command)]
    assert [obj for obj in named if obj not in rendered] == []
    if stack == "dev":
        # The dev stack's Llama and Stable Diffusion commands name their Service, Deployment, RayService and Jobs.
        assert {kind for _, kind, _ in named} == {
            "Service",
            "Deployment",
            "Job",
            "RayService",
            "HorizontalPodAutoscaler",
            # The Ray token and the Saxml admin token, which the stack generates.
            "Secret",
        }


def _instances(outputs: object) -> list[dict]:
    if not isinstance(outputs, dict):
        return []
    return [outputs] if "commands" in outputs or "cluster" in outputs else list(outputs.values())


def test_the_dev_stacks_commands_are_the_tutorials_with_the_rendered_names(
    shipped_stack: Callable[[str], PreviewResult],
) -> None:
    outputs = shipped_stack("dev").outputs
    assert outputs["llama"]["commands"]["portForward"] == "kubectl -n llama port-forward svc/vllm-llama 8000:8000"
    assert outputs["stableDiffusion"]["commands"]["portForward"] == (
        "kubectl -n stable-diffusion port-forward svc/stable-diffusion-serve-svc 8000:8000"
    )
    # The tutorial's client, unchanged: it sends to http://localhost:8000/imagine, where the port-forward listens.
    assert outputs["stableDiffusion"]["commands"]["client"] == "python stable_diffusion_tpu_req.py --save_pictures"
    assert '"model": "meta-llama/Llama-3.1-70B"' in outputs["llama"]["commands"]["completion"]


def test_the_generated_tokens_are_one_command_away(shipped_stack: Callable[[str], PreviewResult]) -> None:
    outputs = shipped_stack("dev").outputs
    assert outputs["stableDiffusion"]["commands"]["rayToken"] == (
        "kubectl -n stable-diffusion get secret stable-diffusion-ray-auth -o jsonpath='{.data.auth_token}' | base64 -d"
    )
    assert outputs["saxml"]["commands"]["adminToken"] == (
        "kubectl -n saxml get secret saxml-admin-token -o jsonpath='{.data.SAXML_ADMIN_TOKEN}' | base64 -d"
    )


def test_a_command_naming_an_object_the_stack_does_not_render_is_caught() -> None:
    assert named_objects("kubectl -n llama port-forward svc/vllm-service 8000:8000") == [
        ("llama", "Service", "vllm-service")
    ]
