"""The Saxml scenario of the stack through the offline preview: the cell on the dev stack's two v5e 4x8 slices, the
JobSet controller, the config keys, and the plan diff when a model is removed. The other scenarios are left out of
these stacks: they have tests of their own."""

import copy
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT, program_with_stacks
from manifest_validation import validate_manifest

from gke_tpu_serving import GkeTpuCluster
from gke_tpu_serving.catalog import TpuGeneration, tpu_slice
from gke_tpu_serving.offline import PreviewResult, kubernetes_manifests, render_diff, run_program
from stacks.cluster_addons import ClusterAddons
from stacks.config import ConfigError, parse

PREFIX = "gke-tpu-serving:"
JOBSET = "kubernetes:jobset.x-k8s.io/v1alpha2:JobSet"
CONTROLLER = "gke-tpu-serving:index:JobSetController"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
JOB = "kubernetes:batch/v1:Job"
SPMD = {
    "model": "/sax/test/spmd",
    "model_path": "saxml.server.pax.lm.params.lm_cloud.LmCloudSpmd175B32Test",
    "checkpoint": "None",
    "replicas": 2,
}


PREBUILT_HTTP_SERVER = (
    f"us-central1-docker.pkg.dev/my-project/gke-tpu-serving-saxml/saxml-http-server@sha256:{'a' * 64}"
)


def saxml_stack() -> dict[str, Any]:
    """The dev stack file with Saxml as its only scenario."""
    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    stack["config"] = {
        key: value
        for key, value in stack["config"].items()
        if key not in (f"{PREFIX}stableDiffusion", f"{PREFIX}llama", f"{PREFIX}tenants", f"{PREFIX}tenancy")
    }
    return stack


def preview(tmp_path: Path, change: Callable[[dict[str, Any]], None] = lambda saxml: None) -> PreviewResult:
    """The offline preview of a copy of this project whose stack `saxml` is `saxml_stack()`, its saxml section
    changed by `change`."""
    stack = saxml_stack()
    # A prebuilt HTTP server image (as images.yml prints it): the publishing Job's name, a hash of the image among
    # others, is then known at preview; with the image `pulumi up` builds it is known once the digest is.
    stack["config"][f"{PREFIX}saxml"]["httpServerImage"] = PREBUILT_HTTP_SERVER
    change(stack["config"][f"{PREFIX}saxml"])
    return run_program(program_with_stacks(tmp_path, {"saxml": yaml.safe_dump(stack)}), "saxml")


@pytest.fixture(scope="module")
def cell(tmp_path_factory: pytest.TempPathFactory) -> PreviewResult:
    return preview(tmp_path_factory.mktemp("saxml"))


def test_dev_stack_lists_the_seed_model() -> None:
    saxml = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"][f"{PREFIX}saxml"]
    assert (saxml["cluster"], saxml["pool"]) == ("llm-us-central1", "v5e-4x8")
    assert saxml["models"] == [
        {
            "model": "/sax/test/spmd",
            "modelPath": "saxml.server.pax.lm.params.lm_cloud.LmCloudSpmd175B32Test",
            "checkpoint": "None",
            "replicas": 2,
        }
    ]


def test_one_model_server_job_per_node_pool_and_one_pod_per_host_of_the_catalog(cell: PreviewResult) -> None:
    shape = tpu_slice(TpuGeneration.V5E, "ct5lp-hightpu-4t", "4x8")
    jobset = cell.one(JOBSET, "saxml-model-server").inputs["spec"]
    (job,) = jobset["replicatedJobs"]
    assert job["replicas"] == len(cell.outputs["saxml"]["nodePools"]) == 2
    spec = job["template"]["spec"]
    assert spec["parallelism"] == spec["completions"] == shape.hosts == cell.outputs["saxml"]["hostsPerSlice"]
    pod = spec["template"]["spec"]
    assert pod["nodeSelector"] == shape.node_selector == cell.outputs["saxml"]["nodeSelector"]
    assert pod["containers"][0]["resources"]["limits"] == {"google.com/tpu": str(shape.chips_per_vm)}


def test_the_cells_pods_keep_the_workload_identity_and_stay_off_the_host_network(cell: PreviewResult) -> None:
    manifests = [m for m in kubernetes_manifests(cell) if m["metadata"].get("namespace") == "saxml"]
    pods = {}
    for manifest in manifests:
        if manifest["kind"] == "JobSet":
            pods["JobSet"] = manifest["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
        elif manifest["kind"] in ("Deployment", "Job"):
            pods[manifest["metadata"]["name"]] = manifest["spec"]["template"]["spec"]
    assert all("hostNetwork" not in pod for pod in pods.values())
    servers = {name: pod.get("serviceAccountName") for name, pod in pods.items() if not name.startswith("saxml-models")}
    assert servers == {"JobSet": "sax-sa", "saxml-admin-server": "sax-sa", "saxml-http": "sax-sa"}


def test_every_manifest_of_the_cell_passes_schema_validation(cell: PreviewResult) -> None:
    manifests = [m for m in kubernetes_manifests(cell) if m["metadata"].get("namespace") == "saxml"]
    # The cell's objects and the identity's ServiceAccount; the namespace itself is cluster-scoped.
    assert Counter(m["kind"] for m in manifests) == {
        "ServiceAccount": 1,
        "Deployment": 2,
        "Service": 2,
        "JobSet": 1,
        "ConfigMap": 1,
        "Job": 1,
        "PodDisruptionBudget": 3,
        # The admin token, which the HTTP server and the publishing Job read.
        "Secret": 1,
        # deny-ingress and allow-same-namespace (the cell's servers reach each other, nothing else reaches them).
        "NetworkPolicy": 2,
    }
    for manifest in manifests:
        validate_manifest(manifest)


def test_one_jobset_controller_on_the_cluster_before_the_cell(cell: PreviewResult) -> None:
    (controller,) = cell.of_type(CONTROLLER)
    assert controller.name == "llm-us-central1-jobset"
    manifest = cell.one("kubernetes:yaml/v2:ConfigFile", "llm-us-central1-jobset-manifest")
    assert manifest.inputs["file"] == (
        "https://github.com/kubernetes-sigs/jobset/releases/download/v0.12.0/manifests.yaml"
    )
    assert manifest.options["provider"] == cell.one("pulumi:providers:kubernetes", "llm-us-central1-k8s").urn
    # Depending on a component is depending on its children: the JobSet waits for the applied release.
    assert manifest.urn in cell.one(JOBSET, "saxml-model-server").options["dependsOn"]


def test_a_cluster_that_has_jobset_gets_no_controller(tmp_path: Path) -> None:
    result = preview(tmp_path, lambda saxml: saxml.update(installJobset=False))
    assert result.of_type(CONTROLLER) == []
    assert len(result.of_type(JOBSET)) == 1


def test_the_seed_model_is_published_by_the_stack(cell: PreviewResult) -> None:
    data = cell.one(CONFIG_MAP, "saxml-models-config").inputs["data"]["models.json"]
    assert json.loads(data) == {"cell": "/sax/test", "models": [SPMD]}
    assert cell.outputs["saxml"]["url"] == "http://saxml-http.saxml.svc:8888"
    assert cell.outputs["saxml"]["cell"] == "/sax/test"


def test_removing_a_model_unpublishes_it_in_the_plan(cell: PreviewResult, tmp_path: Path) -> None:
    without = preview(tmp_path, lambda saxml: saxml.update(models=[]))
    diff = render_diff(cell.to_json(), without.to_json())
    old_job = cell.one(JOB, "saxml-models-sync").inputs["metadata"]["name"]
    new_job = without.one(JOB, "saxml-models-sync").inputs["metadata"]["name"]
    # The desired models lose /sax/test/spmd, and the publishing Job gets a new name: the Kubernetes provider
    # replaces a Job whose name changes (create-before-delete, the names differ), so `pulumi up` runs the sync again,
    # which unpublishes the model. The ConfigMap keeps its name, so it is deleted before it is recreated.
    lines = diff.splitlines()
    assert lines[:3] == [
        "+- kubernetes:batch/v1:Job saxml-models-sync  (replace, create-before-delete: metadata.name)",
        f"    inputs.metadata.name: {json.dumps(old_job)} -> {json.dumps(new_job)}",
        "-+ kubernetes:core/v1:ConfigMap saxml-models-config  (replace, delete-before-create: "
        'data["models.json"]{json}.models, '
        + ", ".join(f'data["models.json"]{{json}}.models[0].{key}' for key in sorted(SPMD))
        + ")",
    ]
    assert '    inputs.data["models.json"]{json}.models: (absent) -> []' in lines
    assert lines[-1] == (
        f"Resources: 0 added, 0 removed, 2 changed (2 replaced, 0 update or replace), {len(cell.resources) - 2} "
        "unchanged; outputs: 1 changed"
    )
    # With no model to ask about, the outputs no longer print listcell and generate commands.
    assert set(cell.outputs["saxml"]["commands"]) - set(without.outputs["saxml"]["commands"]) == {
        "listcell",
        "generate",
    }


def test_an_unchanged_config_plans_no_change(cell: PreviewResult, tmp_path: Path) -> None:
    again = preview(tmp_path)
    assert render_diff(cell.to_json(), again.to_json()).endswith(
        f"Resources: 0 added, 0 removed, 0 changed (0 replaced, 0 update or replace), {len(cell.resources)} unchanged;"
        " outputs: 0 changed\n"
    )


def raw_config() -> tuple[dict[str, Any], str]:
    config = saxml_stack()["config"]
    raw = {key.removeprefix(PREFIX): value for key, value in config.items() if key.startswith(PREFIX)}
    return copy.deepcopy(raw), config["gcp:project"]


def _v6e_multi_host_pool(raw: dict[str, Any]) -> None:
    raw["clusters"][1]["tpuPools"].append(
        {"name": "v6e-4x4", "generation": "v6e", "machineType": "ct6e-standard-4t", "topology": "4x4"}
        | {"zone": "us-central1-b"}
    )
    raw["saxml"]["pool"] = "v6e-4x4"


BAD_CONFIGS = [
    (
        "http_server_image_not_pinned",
        lambda raw: raw["saxml"].update(httpServerImage="saxml-http-server:latest"),
        "config key gke-tpu-serving:saxml.httpServerImage: image 'saxml-http-server:latest' is not pinned; allowed: "
        "a tag other than 'latest' (REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST)",
    ),
    (
        "model_path_not_a_python_path",
        lambda raw: raw["saxml"]["models"][0].update(modelPath="LmCloudSpmd175B32Test"),
        "config key gke-tpu-serving:saxml.models[0].modelPath: 'LmCloudSpmd175B32Test' is not a registered model "
        "path; allowed: a dotted Python path such as saxml.server.pax.lm.params.lm_cloud.LmCloudSpmd175B32Test",
    ),
    (
        "more_replicas_than_slices",
        lambda raw: raw["saxml"]["models"][0].update(replicas=3),
        "config key gke-tpu-serving:saxml.models[0].replicas: 3 is more than the 2 model servers (each replica takes "
        "one); allowed: 1 to 2",
    ),
    (
        "model_key_misspelt",
        lambda raw: raw["saxml"]["models"][0].update(modelpath="a.b"),
        "config key gke-tpu-serving:saxml.models[0].modelpath: another spelling of modelPath, which is also set; "
        "allowed: modelPath alone (keys are camelCase)",
    ),
    (
        "model_outside_the_cell",
        lambda raw: raw["saxml"].update(cell="/sax/prod"),
        "config key gke-tpu-serving:saxml.models[0].model: '/sax/test/spmd' is not a model of cell /sax/prod; "
        "allowed: /sax/prod/NAME, NAME of lowercase letters, digits, '-' and '_' starting with a letter",
    ),
    (
        "install_jobset_not_boolean",
        lambda raw: raw["saxml"].update(installJobset="yes"),
        "config key gke-tpu-serving:saxml.installJobset: 'yes' is not allowed; allowed: true or false",
    ),
    (
        "max_restarts_negative",
        lambda raw: raw["saxml"].update(maxRestarts=-1),
        "config key gke-tpu-serving:saxml.maxRestarts: -1 is not allowed; allowed: an integer >= 0",
    ),
    (
        "chip_saxml_does_not_know",
        _v6e_multi_host_pool,
        "config key gke-tpu-serving:saxml.pool: TPU v6e is not a chip Saxml knows (its model server would register an "
        "unknown chip type); allowed: v4, v5e",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_saxml_config_is_rejected_with_its_key(mutate: Callable[[dict[str, Any]], None], message: str) -> None:
    raw, project = raw_config()
    mutate(raw)
    with pytest.raises(ConfigError) as error:
        parse(raw, project)
    assert str(error.value) == message


def test_the_saxml_config_without_other_scenarios_is_valid() -> None:
    raw, project = raw_config()
    assert parse(raw, project).scenario_keys == {"saxml"}


def test_scenarios_on_one_cluster_share_its_jobset_controller(pulumi_mocks: Any) -> None:
    raw, project = raw_config()
    addons = {
        c.name: ClusterAddons(GkeTpuCluster(c.name, c.args), project)  # type: ignore[arg-type]
        for c in parse(raw, project).clusters
    }
    first = addons["llm-us-central1"].jobset_controller()
    assert addons["llm-us-central1"].jobset_controller() is first
    assert addons["sd-v4"].jobset_controller() is not first
    result = pulumi_mocks.settle()
    assert sorted(c.name for c in result.of_type(CONTROLLER)) == ["llm-us-central1-jobset", "sd-v4-jobset"]
