"""What `pulumi up` waits for in the shipped stacks: every Deployment and Job whose start-up may outlast
pulumi-kubernetes' 10-minute default carries custom timeouts that cover it; custom resources (RayService, JobSet),
which pulumi-kubernetes does not wait for, come with a `watch` command in the stack outputs."""

from collections.abc import Callable
from typing import Any

import pytest
from helpers import SHIPPED_STACKS

from gke_tpu_serving.offline import PreviewResult

DEFAULT_AWAIT_SECONDS = 10 * 60
"""pulumi-kubernetes' wait for a Deployment or Job (its API docs for apps/v1 Deployment and batch/v1 Job, 4.34)."""


def _seconds(timeout: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(timeout[:-1]) * units[timeout[-1]]


def _start_budget_seconds(inputs: dict[str, Any]) -> int:
    """The longest a workload may legitimately take before it is ready or done, from its own spec."""
    spec = inputs["spec"]
    pod = spec["template"]["spec"]
    probes = [c["startupProbe"] for c in pod["containers"] if "startupProbe" in c]
    probe_budget = max((p.get("periodSeconds", 10) * p.get("failureThreshold", 3) for p in probes), default=0)
    return max(probe_budget, spec.get("activeDeadlineSeconds", 0))


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_workload_pulumi_waits_for_has_time_to_start(
    stack: str, shipped_stack: Callable[[str], PreviewResult]
) -> None:
    short = []
    for resource in shipped_stack(stack).resources:
        if resource.type not in ("kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:Job"):
            continue
        budget = _start_budget_seconds(resource.inputs)
        timeouts = resource.options.get("customTimeouts", {})
        for operation in ("create", "update"):
            waits = _seconds(timeouts[operation]) if operation in timeouts else DEFAULT_AWAIT_SECONDS
            if waits < budget:
                short.append(f"{resource.name}: {operation} waits {waits} s, start-up may take {budget} s")
    assert short == []


def test_the_dev_vllm_deployment_waits_longer_than_its_startup_probe(
    shipped_stack: Callable[[str], PreviewResult],
) -> None:
    deployment = shipped_stack("dev").one("kubernetes:apps/v1:Deployment", "vllm-llama")
    assert _start_budget_seconds(deployment.inputs) == 1800
    assert deployment.options["customTimeouts"] == {"create": "45m", "update": "90m"}


def test_custom_resources_come_with_a_watch_command_named_as_rendered(
    shipped_stack: Callable[[str], PreviewResult],
) -> None:
    result = shipped_stack("dev")
    (ray_service,) = result.of_type("kubernetes:ray.io/v1:RayService")
    (jobset,) = result.of_type("kubernetes:jobset.x-k8s.io/v1alpha2:JobSet")
    ray_meta, jobset_meta = ray_service.inputs["metadata"], jobset.inputs["metadata"]
    assert result.outputs["stableDiffusion"]["watch"] == (
        f"kubectl -n {ray_meta['namespace']} get rayservice {ray_meta['name']} -w"
    )
    assert result.outputs["saxml"]["watch"] == (
        f"kubectl -n {jobset_meta['namespace']} get jobset {jobset_meta['name']} -w"
    )
    assert (
        result.outputs["stableDiffusion"]["watch"] == "kubectl -n stable-diffusion get rayservice stable-diffusion -w"
    )
    assert result.outputs["saxml"]["watch"] == "kubectl -n saxml get jobset saxml-model-server -w"
