"""WeightStagingJob under Pulumi mocks: the Job's command, identity, secret and timeout; bad input pinned."""

from typing import Any

import pytest
from helpers import args_factory, assert_refused_before_any_child
from manifest_validation import validate_manifest

from gke_tpu_serving import WeightStagingJob, WeightStagingJobArgs
from gke_tpu_serving.offline import kubernetes_manifests

IMAGE = "us-central1-docker.pkg.dev/demo/gke-tpu-serving/llama:0.1.0"


BASE_ARGS: WeightStagingJobArgs = {
    "namespace": "llama",
    "service_account_name": "weights-stager",
    "image": IMAGE,
    "hf_repo": "meta-llama/Llama-3.1-70B-Instruct",
    "hf_token": "hf_secret_value",
    "bucket": "demo-llama-weights",
    "path": "models/meta-llama/Llama-3.1-70B-Instruct/",
}
args = args_factory(BASE_ARGS)


def test_job_runs_the_staging_command_as_the_writer(pulumi_mocks: Any) -> None:
    job = WeightStagingJob("stage", args(revision="v1"))
    result = pulumi_mocks.settle()
    pod = result.one("kubernetes:batch/v1:Job", "stage").inputs["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == [
        "/opt/llama-tools/bin/python",
        "/app/stage_weights.py",
        "--dest",
        "gs://demo-llama-weights/models/meta-llama/Llama-3.1-70B-Instruct",
        "--hf-repo",
        "meta-llama/Llama-3.1-70B-Instruct",
        "--revision",
        "v1",
    ]
    assert container["image"] == IMAGE
    assert pod["serviceAccountName"] == "weights-stager"
    assert pod["restartPolicy"] == "OnFailure"
    assert container["env"] == [
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "stage-hf-token", "key": "HF_TOKEN"}}}
    ]
    assert result.one("kubernetes:core/v1:Secret", "stage-hf-token").inputs["stringData"] == {"HF_TOKEN": "[secret]"}
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["automountServiceAccountToken"] is False
    # runAsNonRoot is set once for the whole pod, above.
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert pulumi_mocks.resolve(job.destination) == "gs://demo-llama-weights/models/meta-llama/Llama-3.1-70B-Instruct"
    for manifest in kubernetes_manifests(result):
        validate_manifest(manifest)


def test_without_a_token_there_is_no_secret(pulumi_mocks: Any) -> None:
    plain = args()
    del plain["hf_token"]
    WeightStagingJob("stage", plain)
    result = pulumi_mocks.settle()
    assert result.of_type("kubernetes:core/v1:Secret") == []
    assert (
        result.one("kubernetes:batch/v1:Job", "stage").inputs["spec"]["template"]["spec"]["containers"][0]["env"] == []
    )


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"hf_repo": "llama-70b"}, "hf_repo: 'llama-70b' is not a Hugging Face repository; allowed: ORG/NAME"),
        (
            {"image": "llama:latest"},
            "image: image 'llama:latest' is not pinned; allowed: a tag other than 'latest' (REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST)",
        ),
        ({"timeout_minutes": 0}, "timeout_minutes: 0 is not allowed; allowed: an integer >= 1"),
    ],
)
def test_bad_args_raise_before_any_child(pulumi_mocks: Any, extra: dict[str, Any], reason: str) -> None:
    assert_refused_before_any_child(pulumi_mocks, WeightStagingJob, "stage", args(**extra), reason)
