"""The model servers' JobSet as the pure builder renders it: the slice arithmetic from the catalog, the webhook's name
limits, and the upstream CRD (strict)."""

import copy
from typing import Any

import jsonschema
import pytest
from manifest_validation import validate_custom_resource

from gke_tpu_serving.catalog import TpuGeneration, TpuSlice, tpu_slice
from gke_tpu_serving.errors import ArgError
from gke_tpu_serving.k8s.accelerator_pods import tpu_pod_placement
from gke_tpu_serving.saxml.jobset_spec import ModelServers, check_jobset_names, model_server_jobset, saxml_chip

IMAGE = "us-docker.pkg.dev/cloud-tpu-images/inference/sax-model-server:v1.2.0"
V5E_4X8 = tpu_slice(TpuGeneration.V5E, "ct5lp-hightpu-4t", "4x8")


def servers(shape: TpuSlice = V5E_4X8, slices: int = 2, name: str = "saxml-model-server") -> ModelServers:
    return ModelServers(
        name=name,
        namespace="saxml",
        labels={"app.kubernetes.io/name": "saxml"},
        service_account_name="sax-sa",
        image=IMAGE,
        cell="/sax/test",
        sax_root="gs://demo-saxml-state/sax-root",
        shape=shape,
        placement=tpu_pod_placement(shape),
        slices=slices,
        max_restarts=10,
    )


def _slice_job(jobset: dict[str, Any]) -> dict[str, Any]:
    (job,) = jobset["spec"]["replicatedJobs"]
    return job


def _pod(jobset: dict[str, Any]) -> dict[str, Any]:
    return _slice_job(jobset)["template"]["spec"]["template"]


def test_the_seed_shape_validates_against_the_upstream_crd() -> None:
    jobset = model_server_jobset(servers())
    assert (jobset["apiVersion"], jobset["kind"]) == ("jobset.x-k8s.io/v1alpha2", "JobSet")
    validate_custom_resource(jobset)


def test_a_misspelt_field_fails_the_strict_crd() -> None:
    jobset = model_server_jobset(servers())
    broken = copy.deepcopy(jobset)
    _slice_job(broken)["replica"] = _slice_job(broken).pop("replicas")
    with pytest.raises(jsonschema.ValidationError, match="'replica' was unexpected"):
        validate_custom_resource(broken)


@pytest.mark.parametrize(
    ("machine_type", "topology", "hosts"),
    [("ct5lp-hightpu-4t", "4x8", 8), ("ct5lp-hightpu-4t", "2x4", 2), ("ct5lp-hightpu-4t", "8x16", 32)],
)
def test_one_job_per_slice_and_one_pod_per_host_from_the_catalog(machine_type: str, topology: str, hosts: int) -> None:
    shape = tpu_slice(TpuGeneration.V5E, machine_type, topology)
    job = _slice_job(model_server_jobset(servers(shape, slices=3)))
    assert shape.hosts == hosts
    assert job["name"] == "slice"
    assert job["replicas"] == 3
    spec = job["template"]["spec"]
    assert (spec["parallelism"], spec["completions"]) == (hosts, hosts)
    assert spec["backoffLimit"] == 0
    assert spec["completionMode"] == "Indexed"


def test_each_slice_gets_a_node_pool_of_its_own() -> None:
    metadata = model_server_jobset(servers())["metadata"]
    assert metadata["annotations"] == {"alpha.jobset.sigs.k8s.io/exclusive-topology": "cloud.google.com/gke-nodepool"}


def test_a_failed_host_restarts_the_whole_set_a_bounded_number_of_times() -> None:
    spec = model_server_jobset(servers())["spec"]
    assert spec["failurePolicy"] == {"maxRestarts": 10}
    assert spec["network"] == {"enableDNSHostnames": True}


def test_pods_land_on_the_slice_and_claim_every_chip_of_their_host() -> None:
    pod = _pod(model_server_jobset(servers()))["spec"]
    assert pod["nodeSelector"] == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice",
        "cloud.google.com/gke-tpu-topology": "4x8",
    }
    (container,) = pod["containers"]
    assert container["resources"] == {"requests": {"google.com/tpu": "4"}, "limits": {"google.com/tpu": "4"}}


def test_model_server_ports_env_and_arguments_come_from_the_slice() -> None:
    (container,) = _pod(model_server_jobset(servers()))["spec"]["containers"]
    assert container["image"] == IMAGE
    assert container["args"] == [
        "--sax_cell=/sax/test",
        "--port=10001",
        "--platform_chip=tpuv5e",
        "--platform_topology=4x8",
    ]
    assert container["env"] == [
        {"name": "SAX_ROOT", "value": "gs://demo-saxml-state/sax-root"},
        {"name": "MEGASCALE_NUM_SLICES", "value": ""},
    ]
    assert container["ports"] == [
        {"name": "model", "containerPort": 10001},
        {"name": "tpu-runtime", "containerPort": 8471},
    ]


def test_pods_keep_their_workload_identity_off_the_host_network() -> None:
    pod = _pod(model_server_jobset(servers()))["spec"]
    assert "hostNetwork" not in pod
    assert pod["serviceAccountName"] == "sax-sa"
    assert pod["automountServiceAccountToken"] is False
    assert pod["restartPolicy"] == "Never"


def test_pods_run_unprivileged() -> None:
    pod = _pod(model_server_jobset(servers()))["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    (container,) = pod["containers"]
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


@pytest.mark.parametrize(("generation", "chip"), [(TpuGeneration.V4, "tpuv4"), (TpuGeneration.V5E, "tpuv5e")])
def test_saxml_chip_names(generation: TpuGeneration, chip: str) -> None:
    shape = {TpuGeneration.V4: tpu_slice(TpuGeneration.V4, "ct4p-hightpu-4t", "2x2x2"), TpuGeneration.V5E: V5E_4X8}
    assert saxml_chip(shape[generation]) == chip


def test_a_chip_saxml_does_not_know_is_refused() -> None:
    shape = tpu_slice(TpuGeneration.V6E, "ct6e-standard-4t", "4x4")
    with pytest.raises(ArgError) as error:
        model_server_jobset(servers(shape))
    assert error.value.path == ("generation",)
    assert error.value.reason == (
        "TPU v6e is not a chip Saxml knows (its model server would register an unknown chip type); allowed: v4, v5e"
    )


def test_the_longest_pod_name_the_webhook_accepts() -> None:
    # saxml-model-server-slice-1-7-abcde: the webhook adds the pod's random suffix to the longest index.
    name = "a" * (63 - len("-slice-1-7-abcde"))
    check_jobset_names(name, "slice", 2, 8)
    with pytest.raises(ValueError) as error:
        check_jobset_names(name + "a", "slice", 2, 8)
    assert str(error.value) == (
        f"'{name}a' makes pod names such as '{name}a-slice-1-7-abcde', which are not DNS-1035 labels of at most 63 "
        "characters; allowed: at most 47 characters of lowercase letters, digits and '-', starting with a letter"
    )


def test_more_hosts_leave_less_room_for_the_name() -> None:
    with pytest.raises(ValueError, match="allowed: at most 46 characters"):
        check_jobset_names("a" * 47, "slice", 2, 32)


def test_a_name_starting_with_a_digit_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^'7saxml' makes pod names such as '7saxml-slice-1-7-abcde'"):
        check_jobset_names("7saxml", "slice", 2, 8)
