"""The Saxml and Stable Diffusion scenarios on GKE Autopilot: each stack rendered twice, the only config difference
being `mode: autopilot` on its cluster; the pod differences pinned, every manifest validated, every pod admitted by
Autopilot's rules, and the refusals (a pod Autopilot would not admit) pinned with their messages."""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import program_with_stacks
from manifest_validation import validate_manifest
from tree_leaves import leaves

from gke_tpu_serving.catalog import ClusterMode, TpuGeneration
from gke_tpu_serving.errors import ArgError
from gke_tpu_serving.k8s.accelerator_pods import check_autopilot_pod
from gke_tpu_serving.offline import PreviewResult, kubernetes_manifests, run_program
from gke_tpu_serving.ray.spec import check_autopilot_ray_cluster
from gke_tpu_serving.saxml import saxml_jobset
from stacks.config import ConfigError, parse

PREFIX = "gke-tpu-serving:"
POOL = "gcp:container/nodePool:NodePool"
MODE = "      mode: autopilot\n"
SPOT = {"cloud.google.com/gke-spot": "true"}
SPOT_TOLERATION = {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
HOST_NETWORK_REFUSAL = (
    "true, but Autopilot admits no pod in the node's Network namespace; allowed: false (on Autopilot a pod reaches "
    "others through its own IP or a Service)"
)

# `{mode}` is where the Autopilot variant says `mode: autopilot`; the Standard variant leaves it out.
SAXML_STACK = """config:
  gcp:project: demo-project
  gke-tpu-serving:clusters:
    - name: llm
      location: us-central1
{mode}      tpuPools:
        - name: v5e-4x8
          generation: v5e
          machineType: ct5lp-hightpu-4t
          topology: 4x8
          zone: us-central1-a
          slices: 2
  gke-tpu-serving:saxml:
    cluster: llm
    pool: v5e-4x8
    httpServerImage: us-central1-docker.pkg.dev/demo-project/gke-tpu-serving/saxml-http-server:1.0
    models:
      - model: /sax/test/spmd
        modelPath: saxml.server.pax.lm.params.lm_cloud.LmCloudSpmd175B32Test
        checkpoint: None
        replicas: 2
"""
SD_TPU_STACK = """config:
  gcp:project: demo-project
  gke-tpu-serving:clusters:
    - name: sd
      location: us-central2
      rayOperator: true
{mode}      tpuPools:
        - name: tpu-v4
          generation: v4
          machineType: ct4p-hightpu-4t
          topology: 2x2x1
          spot: true
  gke-tpu-serving:stableDiffusion:
    cluster: sd
    pool: tpu-v4
    image: us-central1-docker.pkg.dev/demo-project/gke-tpu-serving/stable_diffusion:1.0
"""
SD_GPU_STACK = """config:
  gcp:project: demo-project
  gke-tpu-serving:clusters:
    - name: sd
      location: us-central1
      rayOperator: true
{mode}      gpuPools:
        - name: gpu-l4
          acceleratorType: nvidia-l4
          machineType: g2-standard-8
          maxNodes: 2
          spot: true
          zone: us-central1-a
  gke-tpu-serving:stableDiffusion:
    cluster: sd
    pool: gpu-l4
    image: us-central1-docker.pkg.dev/demo-project/gke-tpu-serving/stable_diffusion:cuda-1.0
"""
STACKS = {"saxml": SAXML_STACK, "sd-tpu": SD_TPU_STACK, "sd-gpu": SD_GPU_STACK}


def _project(tmp_path: Path, mode: str) -> Path:
    """One program per mode, whose stacks have the same names in both (derived names include the stack's)."""
    text_of_mode = {"standard": "", "autopilot": MODE}[mode]
    return program_with_stacks(
        tmp_path, {scenario: text.format(mode=text_of_mode) for scenario, text in STACKS.items()}
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PreviewResult]:
    projects = {mode: _project(tmp_path_factory.mktemp(mode), mode) for mode in ("standard", "autopilot")}
    return {
        f"{scenario}-{mode}": run_program(project, scenario)
        for scenario in STACKS
        for mode, project in projects.items()
    }


def _manifest(result: PreviewResult, kind: str, name: str) -> dict[str, Any]:
    (manifest,) = [m for m in kubernetes_manifests(result) if (m["kind"], m["metadata"]["name"]) == (kind, name)]
    return manifest


def _jobset_pod(jobset: dict[str, Any]) -> dict[str, Any]:
    return jobset["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]


def _model_server_pod(result: PreviewResult) -> dict[str, Any]:
    return _jobset_pod(_manifest(result, "JobSet", "saxml-model-server"))


def _ray_cluster(result: PreviewResult) -> dict[str, Any]:
    return _manifest(result, "RayService", "stable-diffusion")["spec"]["rayClusterConfig"]


def _changes(standard: Any, autopilot: Any) -> dict[str, tuple[Any, Any]]:
    """Every leaf that differs between the two renderings: path -> (standard, autopilot)."""
    old, new = leaves(standard), leaves(autopilot)
    return {path: (old.get(path), new.get(path)) for path in old.keys() | new.keys() if old.get(path) != new.get(path)}


def _pod_specs(manifest: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every pod spec a manifest renders, named by where it sits."""
    spec = manifest.get("spec") or {}
    if manifest["kind"] in ("Deployment", "Job"):
        return [("template", spec["template"]["spec"])]
    if manifest["kind"] == "JobSet":
        return [(job["name"], job["template"]["spec"]["template"]["spec"]) for job in spec["replicatedJobs"]]
    if manifest["kind"] == "RayService":
        cluster = spec["rayClusterConfig"]
        groups = [(g["groupName"], g["template"]["spec"]) for g in cluster["workerGroupSpecs"]]
        return [("head", cluster["headGroupSpec"]["template"]["spec"]), *groups]
    return []


# Both modes: the same objects, all valid, all admitted by Autopilot


@pytest.mark.parametrize("scenario", list(STACKS))
def test_both_modes_render_the_same_kubernetes_objects_and_every_one_validates(
    rendered: dict[str, PreviewResult], scenario: str
) -> None:
    standard = kubernetes_manifests(rendered[f"{scenario}-standard"])
    autopilot = kubernetes_manifests(rendered[f"{scenario}-autopilot"])
    assert sorted((m["kind"], m["metadata"]["name"]) for m in autopilot) == sorted(
        (m["kind"], m["metadata"]["name"]) for m in standard
    )
    for manifest in standard + autopilot:
        validate_manifest(manifest)


@pytest.mark.parametrize("scenario", list(STACKS))
def test_autopilot_admits_every_pod_the_scenario_renders(rendered: dict[str, PreviewResult], scenario: str) -> None:
    pods = [
        (manifest["kind"], where, pod)
        for manifest in kubernetes_manifests(rendered[f"{scenario}-autopilot"])
        for where, pod in _pod_specs(manifest)
    ]
    assert pods
    for _, _, pod in pods:
        check_autopilot_pod(pod)


@pytest.mark.parametrize("scenario", list(STACKS))
def test_only_the_standard_cluster_has_node_pools(rendered: dict[str, PreviewResult], scenario: str) -> None:
    assert rendered[f"{scenario}-autopilot"].of_type(POOL) == []
    assert rendered[f"{scenario}-standard"].of_type(POOL) != []


# Saxml


def test_saxml_model_servers_differ_between_modes_only_by_the_pinned_zone(rendered: dict[str, PreviewResult]) -> None:
    # On Standard the zone is the node pools'; on Autopilot the pool entry's zone becomes the pods' selector.
    standard = _model_server_pod(rendered["saxml-standard"])
    autopilot = _model_server_pod(rendered["saxml-autopilot"])
    assert _changes(standard, autopilot) == {".nodeSelector.topology.kubernetes.io/zone": (None, "us-central1-a")}
    assert autopilot["nodeSelector"] == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice",
        "cloud.google.com/gke-tpu-topology": "4x8",
        "topology.kubernetes.io/zone": "us-central1-a",
    }
    assert autopilot["containers"][0]["resources"] == {
        "requests": {"google.com/tpu": "4"},
        "limits": {"google.com/tpu": "4"},
    }
    assert "hostNetwork" not in autopilot


def test_saxml_jobset_keeps_one_slice_per_job_on_autopilot(rendered: dict[str, PreviewResult]) -> None:
    jobset = _manifest(rendered["saxml-autopilot"], "JobSet", "saxml-model-server")
    assert jobset["metadata"]["annotations"] == {
        "alpha.jobset.sigs.k8s.io/exclusive-topology": "cloud.google.com/gke-nodepool"
    }
    (job,) = jobset["spec"]["replicatedJobs"]
    assert (job["replicas"], job["template"]["spec"]["parallelism"], job["template"]["spec"]["completions"]) == (
        2,
        8,
        8,
    )


@pytest.mark.parametrize("name", ["saxml-admin-server", "saxml-http"])
def test_saxml_cpu_servers_are_the_same_in_both_modes(rendered: dict[str, PreviewResult], name: str) -> None:
    standard = _manifest(rendered["saxml-standard"], "Deployment", name)
    autopilot = _manifest(rendered["saxml-autopilot"], "Deployment", name)
    assert _changes(standard, autopilot) == {}


# Stable Diffusion


def test_sd_tpu_worker_selects_spot_and_asks_for_local_disk_only_on_autopilot(
    rendered: dict[str, PreviewResult],
) -> None:
    standard = _ray_cluster(rendered["sd-tpu-standard"])["workerGroupSpecs"][0]["template"]["spec"]
    autopilot = _ray_cluster(rendered["sd-tpu-autopilot"])["workerGroupSpecs"][0]["template"]["spec"]
    assert _changes(standard, autopilot) == {
        ".nodeSelector.cloud.google.com/gke-spot": (None, "true"),
        ".tolerations[0].key": (None, "cloud.google.com/gke-spot"),
        ".tolerations[0].operator": (None, "Equal"),
        ".tolerations[0].value": (None, "true"),
        ".tolerations[0].effect": (None, "NoSchedule"),
        ".containers[0].resources.requests.ephemeral-storage": (None, "50Gi"),
        ".containers[0].resources.limits.ephemeral-storage": (None, "50Gi"),
    }
    assert autopilot["nodeSelector"] == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v4-podslice",
        "cloud.google.com/gke-tpu-topology": "2x2x1",
        **SPOT,
    }
    assert autopilot["containers"][0]["resources"]["limits"] == {
        "memory": "128Gi",
        "google.com/tpu": "4",
        "ephemeral-storage": "50Gi",
    }


@pytest.mark.parametrize("scenario", ["sd-tpu", "sd-gpu"])
def test_sd_head_is_the_same_in_both_modes(rendered: dict[str, PreviewResult], scenario: str) -> None:
    standard = _ray_cluster(rendered[f"{scenario}-standard"])["headGroupSpec"]
    autopilot = _ray_cluster(rendered[f"{scenario}-autopilot"])["headGroupSpec"]
    assert _changes(standard, autopilot) == {}


def test_sd_gpu_worker_on_autopilot_selects_type_spot_and_zone(rendered: dict[str, PreviewResult]) -> None:
    standard = _ray_cluster(rendered["sd-gpu-standard"])["workerGroupSpecs"][0]
    autopilot = _ray_cluster(rendered["sd-gpu-autopilot"])["workerGroupSpecs"][0]
    assert standard["template"]["spec"]["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert standard["template"]["spec"]["tolerations"] == [GPU_TOLERATION]
    pod = autopilot["template"]["spec"]
    assert pod["nodeSelector"] == {
        "cloud.google.com/gke-accelerator": "nvidia-l4",
        **SPOT,
        "topology.kubernetes.io/zone": "us-central1-a",
    }
    assert pod["tolerations"] == [SPOT_TOLERATION, GPU_TOLERATION]
    # Derived from the pool entry's g2-standard-8 in both modes (Autopilot sizes the node it creates from them).
    assert pod["containers"][0]["resources"]["requests"] == {
        "cpu": "1",
        "memory": "25Gi",
        "nvidia.com/gpu": "1",
        "ephemeral-storage": "50Gi",
    }
    # Autoscaled from zero in both modes: Autopilot creates a node for each pending worker.
    assert (autopilot["minReplicas"], autopilot["maxReplicas"]) == (standard["minReplicas"], standard["maxReplicas"])
    assert (autopilot["minReplicas"], autopilot["maxReplicas"]) == (0, 2)


# Refusals: a pod Autopilot would not admit, reported at the one config key that chose Autopilot


def _raw(text: str, mode: str = MODE) -> tuple[dict[str, Any], str]:
    config = yaml.safe_load(text.format(mode=mode))["config"]
    raw = {key.removeprefix(PREFIX): value for key, value in config.items() if key.startswith(PREFIX)}
    return raw, config["gcp:project"]


def _on_host_network(
    render: Callable[..., dict[str, Any]], pod_of: Callable[[dict[str, Any]], dict[str, Any]]
) -> Callable[..., dict[str, Any]]:
    """`render`, but its pod in the node's network, as the seed's Saxml model servers were."""

    def rendered_on_host_network(*args: Any, **kwargs: Any) -> dict[str, Any]:
        result = render(*args, **kwargs)
        pod_of(result)["hostNetwork"] = True
        return result

    return rendered_on_host_network


@pytest.fixture
def host_network_model_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Saxml's model servers rendered in the node's network, as GKE's tutorial runs them."""
    monkeypatch.setattr(
        saxml_jobset, "model_server_jobset", _on_host_network(saxml_jobset.model_server_jobset, _jobset_pod)
    )


@pytest.mark.usefixtures("host_network_model_servers")
def test_saxml_model_servers_on_the_host_network_are_refused_at_the_clusters_mode() -> None:
    raw, project = _raw(SAXML_STACK)
    message = (
        "config key gke-tpu-serving:clusters[0].mode: autopilot, but Autopilot would refuse saxml's pods: "
        f"model_servers.hostNetwork: {HOST_NETWORK_REFUSAL}"
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        parse(raw, project)


@pytest.mark.usefixtures("host_network_model_servers")
def test_the_same_host_network_model_servers_pass_on_standard() -> None:
    assert "saxml" in parse(*_raw(SAXML_STACK, mode="")).scenario_keys


def test_sd_ray_head_on_the_host_network_is_refused_at_the_clusters_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    from gke_tpu_serving.ray import cluster_args as _ray_cluster_args

    monkeypatch.setattr(
        _ray_cluster_args,
        "ray_cluster_spec",
        _on_host_network(_ray_cluster_args.ray_cluster_spec, lambda spec: spec["headGroupSpec"]["template"]["spec"]),
    )
    raw, project = _raw(SD_TPU_STACK)
    message = (
        "config key gke-tpu-serving:clusters[0].mode: autopilot, but Autopilot would refuse stableDiffusion's pods: "
        f"ray_cluster_config.headGroupSpec.template.spec.hostNetwork: {HOST_NETWORK_REFUSAL}"
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        parse(raw, project)


def test_a_privileged_ray_worker_is_refused_where_it_sits() -> None:
    spec = {
        "headGroupSpec": {"template": {"spec": {"containers": [{"name": "ray-head"}]}}},
        "workerGroupSpecs": [
            {"template": {"spec": {"containers": [{"name": "ray-worker", "securityContext": {"privileged": True}}]}}}
        ],
    }
    with pytest.raises(ArgError) as raised:
        check_autopilot_ray_cluster(spec)
    assert (raised.value.path, raised.value.reason) == (
        ("workerGroupSpecs", 0, "template", "spec", "containers", 0, "securityContext", "privileged"),
        "true, but Autopilot admits no privileged container; allowed: false (TPUs and GPUs are claimed as "
        "resources, without privileges)",
    )


@pytest.mark.usefixtures("host_network_model_servers")
def test_the_component_refuses_host_network_model_servers_on_autopilot_before_any_child(pulumi_mocks: Any) -> None:
    args: saxml_jobset.SaxmlJobSetArgs = {
        "namespace": "saxml",
        "service_account_name": "sax-sa",
        "bucket": "demo-saxml-state",
        "tpu_generation": TpuGeneration.V5E,
        "tpu_machine_type": "ct5lp-hightpu-4t",
        "tpu_topology": "4x8",
        "slices": 2,
        "http_server_image": "us-central1-docker.pkg.dev/demo-project/gke-tpu-serving/saxml-http-server:1.0",
        "cluster_mode": ClusterMode.AUTOPILOT,
    }
    message = f"SaxmlJobSet 'saxml': model_servers.hostNetwork: {HOST_NETWORK_REFUSAL}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        saxml_jobset.SaxmlJobSet("saxml", args)
    assert [r.type for r in pulumi_mocks.settle().resources if r.type.startswith("kubernetes:")] == []
