"""How long `pulumi up` waits for the vLLM server and the weight-staging Job: pulumi-kubernetes waits 10 minutes for
a Deployment or Job by default, so each gets custom timeouts that fit its start-up budget."""

from typing import Any

import pytest
from helpers import args_factory

from gke_tpu_serving import VllmDeploymentWithHpa, VllmDeploymentWithHpaArgs, WeightStagingJob, WeightStagingJobArgs
from gke_tpu_serving.catalog import TpuGeneration
from gke_tpu_serving.vllm.deployment_spec import POD_START_ALLOWANCE_SECONDS

IMAGE = "us-central1-docker.pkg.dev/demo-project/gke-tpu-serving/llama@sha256:" + "a" * 64

args = args_factory(
    VllmDeploymentWithHpaArgs(
        namespace="llama",
        service_account_name="vllm",
        image=IMAGE,
        model="meta-llama/Llama-3.1-70B",
        weights_bucket="demo-llama-weights",
        tpu_generation=TpuGeneration.V6E,
        tpu_machine_type="ct6e-standard-8t",
        tpu_topology="2x4",
        pool_max_nodes=2,
    )
)
staging_args = args_factory(
    WeightStagingJobArgs(
        namespace="llama",
        service_account_name="weights-stager",
        image=IMAGE,
        hf_repo="meta-llama/Llama-3.1-70B",
        hf_token="hf_secret_value",
        bucket="demo-llama-weights",
        path="models/meta-llama/Llama-3.1-70B/",
    )
)


def _deployment(pulumi_mocks: Any) -> Any:
    return pulumi_mocks.settle().one("kubernetes:apps/v1:Deployment", "vllm-llama")


def _startup_budget_seconds(deployment: Any) -> int:
    (container,) = deployment.inputs["spec"]["template"]["spec"]["containers"]
    probe = container["startupProbe"]
    return probe["periodSeconds"] * probe["failureThreshold"]


def _minutes(timeout: str) -> int:
    assert timeout.endswith("m"), timeout
    return int(timeout[:-1])


def test_the_default_budget_gets_45_minutes_to_start_and_90_to_roll_two_replicas(pulumi_mocks: Any) -> None:
    VllmDeploymentWithHpa("vllm-llama", args())
    deployment = _deployment(pulumi_mocks)
    assert _startup_budget_seconds(deployment) == 1800
    assert deployment.options["customTimeouts"] == {"create": "45m", "update": "90m"}


@pytest.mark.parametrize(
    ("startup_timeout_seconds", "max_replicas", "create", "update"),
    [(600, 1, "25m", "25m"), (1805, 2, "46m", "92m"), (3600, 2, "75m", "150m")],
)
def test_timeouts_follow_the_startup_probe_and_the_replicas_rolled_one_at_a_time(
    pulumi_mocks: Any, startup_timeout_seconds: int, max_replicas: int, create: str, update: str
) -> None:
    VllmDeploymentWithHpa(
        "vllm-llama", args(startup_timeout_seconds=startup_timeout_seconds, max_replicas=max_replicas)
    )
    deployment = _deployment(pulumi_mocks)
    timeouts = deployment.options["customTimeouts"]
    assert timeouts == {"create": create, "update": update}
    budget = _startup_budget_seconds(deployment)
    assert budget >= startup_timeout_seconds
    assert _minutes(timeouts["create"]) * 60 >= budget + POD_START_ALLOWANCE_SECONDS
    assert _minutes(timeouts["update"]) >= max_replicas * _minutes(timeouts["create"])


def test_the_staging_job_waits_its_own_timeout(pulumi_mocks: Any) -> None:
    WeightStagingJob("stage", staging_args(timeout_minutes=240))
    job = pulumi_mocks.settle().one("kubernetes:batch/v1:Job", "stage")
    assert job.options["customTimeouts"] == {"create": "240m", "update": "240m"}
