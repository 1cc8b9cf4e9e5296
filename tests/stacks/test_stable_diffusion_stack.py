"""The Stable Diffusion scenario through the offline preview: the dev stack's TPU v4 variant, the gpu stack's L4
variant, the KubeRay Helm chart for clusters without the Ray add-on, and its config errors."""

import copy
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT
from manifest_validation import validate_manifest

from gke_tpu_serving.offline import PreviewResult, input_error_message, kubernetes_manifests, run_program
from stacks.config import ConfigError, parse
from stacks.scenarios.stable_diffusion_shapes import APP_BATCH_SIZES, APP_RESOLUTION, APP_STEPS

PREFIX = "gke-tpu-serving:"
RAY_SERVICE = "kubernetes:ray.io/v1:RayService"
BUCKET = "gcp:storage/bucket:Bucket"


@pytest.fixture(scope="module")
def dev(shipped_stack: Callable[[str], PreviewResult]) -> PreviewResult:
    return shipped_stack("dev")


@pytest.fixture(scope="module")
def gpu(shipped_stack: Callable[[str], PreviewResult]) -> PreviewResult:
    return shipped_stack("gpu")


def _ray_service(result: PreviewResult) -> dict[str, Any]:
    (manifest,) = [m for m in kubernetes_manifests(result) if m["kind"] == "RayService"]
    return manifest


def _app(manifest: dict[str, Any]) -> dict[str, Any]:
    (app,) = yaml.safe_load(manifest["spec"]["serveConfigV2"])["applications"]
    return app


def _worker_group(manifest: dict[str, Any]) -> dict[str, Any]:
    (group,) = manifest["spec"]["rayClusterConfig"]["workerGroupSpecs"]
    return group


@pytest.mark.parametrize("stack", ["dev", "gpu"])
def test_every_scenario_object_validates_against_its_schema(stack: str, dev: PreviewResult, gpu: PreviewResult) -> None:
    result = {"dev": dev, "gpu": gpu}[stack]
    manifests = [m for m in kubernetes_manifests(result) if m["metadata"].get("namespace") == "stable-diffusion"]
    # dev also stages the tutorial's weights: a Job and its writer ServiceAccount.
    staging = ["Job", "ServiceAccount"] if stack == "dev" else []
    # On the Ray add-on (both stacks) the stack gives the Ray cluster its token, in a Secret; deny-ingress, and
    # allow-same-namespace and allow-kuberay-operator, and the add-on's Ray monitoring too.
    policies = ["NetworkPolicy"] * 4
    assert sorted(m["kind"] for m in manifests) == sorted(
        ["RayService", "PodDisruptionBudget", "Secret", "ServiceAccount", *staging, *policies]
    )
    for manifest in manifests:
        validate_manifest(manifest)


def test_dev_runs_one_replica_on_the_v4_host_without_a_second_slice_for_upgrades(dev: PreviewResult) -> None:
    manifest = _ray_service(dev)
    group = _worker_group(manifest)
    assert (group["numOfHosts"], group["replicas"], group["minReplicas"], group["maxReplicas"]) == (1, 1, 1, 1)
    pod = group["template"]["spec"]
    assert pod["nodeSelector"] == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v4-podslice",
        "cloud.google.com/gke-tpu-topology": "2x2x1",
    }
    assert pod["containers"][0]["resources"] == {
        "requests": {"cpu": "32", "memory": "128Gi", "google.com/tpu": "4"},
        "limits": {"memory": "128Gi", "google.com/tpu": "4"},
    }
    assert manifest["spec"]["upgradeStrategy"] == {"type": "None"}
    assert manifest["spec"]["rayClusterConfig"]["enableInTreeAutoscaling"] is False


def test_dev_application_follows_the_workload_contract(dev: PreviewResult) -> None:
    app = _app(_ray_service(dev))
    assert app["import_path"] == "sd_serve.app:build_app"
    assert app["args"] == {
        "model": "/data/weights/models/CompVis/stable-diffusion-v1-4",
        "compile_cache_dir": "/var/cache/jax",
        "compile_cache_bucket": "your-project-id-dev-stablediffusion-xla-cache",
        "compile_cache_prefix": "jax-cache/stable-diffusion/tpu-v4-podslice-2x2x1",
        "batch_sizes": [1, 2, 4, 8],
    }
    assert app["deployments"] == [
        {"name": "APIIngress", "num_replicas": 1},
        {"name": "StableDiffusion", "num_replicas": 1, "ray_actor_options": {"resources": {"TPU": 4}}},
    ]
    assert "runtime_env" not in app  # nothing is installed at run time


def test_dev_pods_run_as_the_scenarios_identity_with_token_auth(dev: PreviewResult) -> None:
    cluster = _ray_service(dev)["spec"]["rayClusterConfig"]
    # The Ray add-on's KubeRay version is not documented: the stack's own token, which KubeRay >= 1.6 also reads.
    assert cluster["authOptions"] == {"mode": "token", "secretName": "stable-diffusion-ray-auth"}
    assert cluster["headGroupSpec"]["template"]["spec"]["serviceAccountName"] == "ray-sd"
    assert cluster["workerGroupSpecs"][0]["template"]["spec"]["serviceAccountName"] == "ray-sd"
    ksa = dev.one("kubernetes:core/v1:ServiceAccount", "stableDiffusion-identity-ksa").inputs
    assert ksa["metadata"]["name"] == "ray-sd"


def test_weights_bucket_is_protected_and_read_only_and_the_cache_bucket_writable(dev: PreviewResult) -> None:
    weights = dev.one(BUCKET, "stableDiffusion-weights-bucket")
    assert weights.inputs["name"] == "your-project-id-dev-stablediffusion-weights"
    assert weights.options == {"protect": True, "retainOnDelete": True}
    cache = dev.one(BUCKET, "stableDiffusion-xla-cache-bucket")
    assert cache.inputs["name"] == "your-project-id-dev-stablediffusion-xla-cache"
    assert cache.options == {}
    assert cache.inputs["labels"] == {"gke-tpu-serving-contents": "regenerable-cache"}
    roles = {
        g.name: g.inputs["role"]
        for g in dev.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
        if g.name.startswith("stableDiffusion")
    }
    assert roles == {
        "stableDiffusion-weights-ray-sd-read": "roles/storage.objectViewer",
        # Only the staging Job's own ServiceAccount writes the weights.
        "stableDiffusion-weights-weights-stager-write": "roles/storage.objectUser",
        "stableDiffusion-xla-cache-ray-sd-write": "roles/storage.objectUser",
    }


def test_serve_and_dashboard_stay_inside_the_cluster(dev: PreviewResult) -> None:
    spec = _ray_service(dev)["spec"]
    assert spec["serveService"]["spec"] == {"type": "ClusterIP"}
    assert spec["rayClusterConfig"]["headGroupSpec"]["serviceType"] == "ClusterIP"
    assert dev.outputs["stableDiffusion"]["url"] == "http://stable-diffusion-serve-svc.stable-diffusion.svc:8000"
    assert dev.outputs["stableDiffusion"]["dashboardService"] == "stable-diffusion-head-svc"


def test_ray_service_goes_to_the_sd_cluster_after_its_identity_and_buckets(dev: PreviewResult) -> None:
    service = dev.one(RAY_SERVICE, "stable-diffusion")
    assert service.options["provider"] == dev.one("pulumi:providers:kubernetes", "sd-v4-k8s").urn
    component = dev.one("gke-tpu-serving:index:RayService", "stable-diffusion")
    needed = {
        dev.one("kubernetes:core/v1:ServiceAccount", "stableDiffusion-identity-ksa").urn,
        dev.one(BUCKET, "stableDiffusion-weights-bucket").urn,
        dev.one(BUCKET, "stableDiffusion-xla-cache-bucket").urn,
    }
    assert needed <= set(component.options["dependsOn"])
    # The custom resource itself waits for the buckets explicitly and for the ServiceAccount through its name.
    assert needed - {dev.one("kubernetes:core/v1:ServiceAccount", "stableDiffusion-identity-ksa").urn} <= set(
        service.options["dependsOn"]
    )


def test_gpu_variant_scales_l4_workers_from_zero_to_the_pools_max(gpu: PreviewResult) -> None:
    manifest = _ray_service(gpu)
    cluster = manifest["spec"]["rayClusterConfig"]
    assert cluster["enableInTreeAutoscaling"] is True
    group = _worker_group(manifest)
    assert (group["replicas"], group["minReplicas"], group["maxReplicas"]) == (0, 0, 2)
    pod = group["template"]["spec"]
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert pod["containers"][0]["resources"]["limits"] == {"memory": "25Gi", "nvidia.com/gpu": "1"}
    head = cluster["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"} in head["env"]
    assert manifest["spec"]["upgradeStrategy"] == {"type": "NewCluster"}


def test_gpu_variant_gives_each_model_replica_a_gpu_and_its_own_cache_folder(gpu: PreviewResult) -> None:
    app = _app(_ray_service(gpu))
    assert app["deployments"][1] == {"name": "StableDiffusion", "num_replicas": 1, "ray_actor_options": {"num_gpus": 1}}
    assert app["args"]["compile_cache_prefix"] == "jax-cache/stable-diffusion/nvidia-l4"
    assert app["args"]["batch_sizes"] == [1, 2, 4]


def test_gpu_stack_has_an_l4_pool_that_scales_from_zero(gpu: PreviewResult) -> None:
    pool = gpu.one("gcp:container/nodePool:NodePool", "sd-l4-gpu-l4").inputs
    assert pool["nodeConfig"]["guestAccelerators"][0]["type"] == "nvidia-l4"
    assert pool["autoscaling"] == {"minNodeCount": 0, "maxNodeCount": 2}
    cluster = gpu.one("gcp:container/cluster:Cluster", "sd-l4-cluster").inputs
    assert cluster["addonsConfig"]["rayOperatorConfigs"][0]["enabled"] is True


def _project_with(tmp_path: Path, stack: str, edit: Callable[[dict[str, Any]], None]) -> Path:
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    edit(document["config"])
    (tmp_path / "Pulumi.variant.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


def _helm(config: dict[str, Any]) -> None:
    config[f"{PREFIX}clusters"][0]["rayOperator"] = False
    config[f"{PREFIX}stableDiffusion"]["operator"] = "helm"


def _more_shapes(config: dict[str, Any]) -> None:
    config[f"{PREFIX}stableDiffusion"] |= {"extraSizes": [768], "extraSteps": [50], "maxCompiledShapes": 12}


def test_extra_sizes_and_steps_reach_the_application_under_a_raised_cap(tmp_path: Path) -> None:
    result = run_program(_project_with(tmp_path, "gpu", _more_shapes), "variant")
    app_args = _app(_ray_service(result))["args"]
    assert (app_args["extra_sizes"], app_args["extra_steps"]) == ([768], [50])
    assert result.outputs["stableDiffusion"]["startupCompile"]["shapes"] == 3 * 2 * 2


def test_helm_operator_is_installed_where_the_cluster_has_no_ray_addon(tmp_path: Path) -> None:
    result = run_program(_project_with(tmp_path, "gpu", _helm), "variant")
    chart = result.one("kubernetes:helm.sh/v4:Chart", "sd-l4-kuberay-chart")
    assert (chart.inputs["chart"], chart.inputs["version"]) == ("kuberay-operator", "1.7.0")
    assert chart.options["provider"] == result.one("pulumi:providers:kubernetes", "sd-l4-k8s").urn
    # The RayService waits for the operator (and its CRDs).
    assert chart.urn in result.one(RAY_SERVICE, "stable-diffusion").options["dependsOn"]
    assert result.outputs["stableDiffusion"]["operator"] == "helm"
    # The pinned chart's KubeRay (1.7.0) has authOptions: it generates the token, and the stack renders none.
    cluster = _ray_service(result)["spec"]["rayClusterConfig"]
    assert cluster["authOptions"] == {"mode": "token"}
    assert result.of_type("random:index/randomPassword:RandomPassword") == []
    assert result.of_type("kubernetes:core/v1:Secret") == []
    assert not [e for e in cluster["headGroupSpec"]["template"]["spec"]["containers"][0]["env"] if "AUTH" in e["name"]]


def test_on_the_ray_addon_the_stack_generates_the_token_and_every_ray_container_reads_it(dev: PreviewResult) -> None:
    password = dev.one("random:index/randomPassword:RandomPassword", "stableDiffusion-ray-auth-token")
    assert password.inputs == {"length": 48, "special": False}
    secret = dev.one("kubernetes:core/v1:Secret", "stable-diffusion-ray-auth").inputs
    assert secret["metadata"] == {"name": "stable-diffusion-ray-auth", "namespace": "stable-diffusion"}
    assert secret["stringData"] == {"auth_token": "[secret]"}
    cluster = _ray_service(dev)["spec"]["rayClusterConfig"]
    token_env = [
        {"name": "RAY_AUTH_MODE", "value": "token"},
        {
            "name": "RAY_AUTH_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "stable-diffusion-ray-auth", "key": "auth_token"}},
        },
    ]
    templates = [cluster["headGroupSpec"]["template"], *(g["template"] for g in cluster["workerGroupSpecs"])]
    assert [c["env"][-2:] for t in templates for c in t["spec"]["containers"]] == [token_env] * len(templates)


def test_a_public_serve_endpoint_with_ray_auth_disabled_is_refused_before_anything_registers(tmp_path: Path) -> None:
    def public_without_auth(config: dict[str, Any]) -> None:
        config[f"{PREFIX}stableDiffusion"].update(exposure="public-load-balancer", rayAuth="disabled")

    with pytest.raises(Exception) as raised:
        run_program(_project_with(tmp_path, "gpu", public_without_auth), "variant")
    assert input_error_message(raised.value) == (
        "config key gke-tpu-serving:stableDiffusion.rayAuth: disabled, but exposure is public-load-balancer: the Ray "
        "cluster would be reachable beyond the cluster without Ray's token authentication; allowed: token (the "
        "default)"
    )


def _raw(stack: str) -> tuple[dict[str, Any], str]:
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    raw = {key.removeprefix(PREFIX): value for key, value in config.items() if key.startswith(PREFIX)}
    return copy.deepcopy(raw), config["gcp:project"]


def _dev_multi_host(raw: dict[str, Any]) -> None:
    raw["stableDiffusion"] = {**raw["stableDiffusion"], "cluster": "llm-us-central1", "pool": "v5e-4x8"}


BAD_CONFIGS: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    (
        # Unset, stagingImage is the llama image `pulumi up` builds; set, it is checked like every prebuilt image.
        "staging_with_a_placeholder_image",
        "gpu",
        lambda raw: raw["stableDiffusion"].update(
            stageWeights=True, stagingImage="us-central1-docker.pkg.dev/p/r/llama:set-from-images-workflow"
        ),
        "config key gke-tpu-serving:stableDiffusion.stagingImage: 'us-central1-docker.pkg.dev/p/r/llama:"
        "set-from-images-workflow' looks like a placeholder; allowed: REPOSITORY@sha256:DIGEST (e.g. the reference "
        "images.yml prints) or REPOSITORY:TAG of an image that exists, or remove the key so that `pulumi up` builds "
        "the image",
    ),
    (
        "helm_beside_the_addon",
        "gpu",
        lambda raw: raw["stableDiffusion"].__setitem__("operator", "helm"),
        "config key gke-tpu-serving:clusters[0].rayOperator: true, but stableDiffusion.operator is helm, which would "
        "install a second KubeRay operator on cluster 'sd-l4'; allowed: false, or stableDiffusion.operator add-on",
    ),
    (
        "operator_unknown",
        "gpu",
        lambda raw: raw["stableDiffusion"].__setitem__("operator", "kuberay"),
        "config key gke-tpu-serving:stableDiffusion.operator: 'kuberay' is not allowed; allowed: add-on, helm",
    ),
    (
        "multi_host_pool",
        "dev",
        _dev_multi_host,
        "config key gke-tpu-serving:stableDiffusion.pool: 'v5e-4x8' is a multi-host TPU pool; allowed: a single-host "
        "tpuPools entry or a gpuPools entry (one Stable Diffusion replica runs on one host)",
    ),
    (
        "more_replicas_than_hosts",
        "dev",
        lambda raw: raw["stableDiffusion"].__setitem__("replicas", 2),
        "config key gke-tpu-serving:stableDiffusion.replicas: 2 is more than the 1 hosts of pool 'tpu-v4' (each "
        "replica takes one host); allowed: 1 to 1",
    ),
    (
        "more_replicas_than_gpu_workers",
        "gpu",
        lambda raw: raw["stableDiffusion"].__setitem__("replicas", 3),
        "config key gke-tpu-serving:stableDiffusion.replicas: 3 is more than pool 'gpu-l4''s maxNodes (each replica "
        "takes one host); allowed: 1 to 2",
    ),
    (
        "without_gcs_fuse",
        "gpu",
        lambda raw: raw["clusters"][0].__setitem__("gcsFuseCsi", False),
        "config key gke-tpu-serving:clusters[0].gcsFuseCsi: false, but stableDiffusion reads its weights through GCS "
        "FUSE on cluster 'sd-l4'; allowed: true",
    ),
    (
        "image_unpinned",
        "dev",
        lambda raw: raw["stableDiffusion"].__setitem__("image", "rayproject/ray"),
        "config key gke-tpu-serving:stableDiffusion.image: image 'rayproject/ray' is not pinned; allowed: a tag "
        "other than 'latest' (REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST)",
    ),
    (
        "ray_too_old_for_token_auth",
        "dev",
        lambda raw: raw["stableDiffusion"].__setitem__("rayVersion", "2.46.0"),
        "config key gke-tpu-serving:stableDiffusion.rayVersion: '2.46.0' has no token authentication (Ray 2.52.0 "
        "added it); allowed: 2.52.0 or later, or auth disabled",
    ),
    (
        "empty_batch_sizes",
        "dev",
        lambda raw: raw["stableDiffusion"].__setitem__("batchSizes", []),
        "config key gke-tpu-serving:stableDiffusion.batchSizes: [] is not allowed; allowed: 1 to 8 batch sizes (each "
        "compiles before the server is ready)",
    ),
    (
        "resolution_not_a_multiple_of_8",
        "dev",
        lambda raw: raw["stableDiffusion"].__setitem__("resolution", 500),
        "config key gke-tpu-serving:stableDiffusion.resolution: 500 is not allowed; allowed: a multiple of 8, e.g. "
        "512 or 768",
    ),
    (
        "more_shapes_than_the_default_cap",
        "dev",
        lambda raw: raw["stableDiffusion"].update(extraSizes=[768], extraSteps=[50]),
        "config key gke-tpu-serving:stableDiffusion.maxCompiledShapes: 8 (the default), but 4 batch sizes x 2 sizes x "
        "2 step counts = 16 shapes compile before each replica is ready (~11.7-13.6 min on one nvidia-h100-80gb); "
        "allowed: fewer batchSizes, extraSizes or extraSteps, or maxCompiledShapes 16 or more",
    ),
    (
        "more_shapes_than_a_set_cap",
        "gpu",
        lambda raw: raw["stableDiffusion"].update(maxCompiledShapes=2),
        "config key gke-tpu-serving:stableDiffusion.maxCompiledShapes: 2, but 3 batch sizes x 1 size x 1 step count "
        "= 3 shapes compile before each replica is ready (~2.2-2.5 min on one nvidia-h100-80gb); allowed: fewer "
        "batchSizes, extraSizes or extraSteps, or maxCompiledShapes 3 or more",
    ),
    (
        "cap_not_positive",
        "gpu",
        lambda raw: raw["stableDiffusion"].update(maxCompiledShapes=0),
        "config key gke-tpu-serving:stableDiffusion.maxCompiledShapes: 0 is not allowed; allowed: an integer >= 1",
    ),
    (
        "extra_size_not_a_multiple_of_8",
        "gpu",
        lambda raw: raw["stableDiffusion"].update(extraSizes=[500]),
        "config key gke-tpu-serving:stableDiffusion.extraSizes[0]: 500 is not allowed; allowed: a multiple of 8, e.g. "
        "512 or 768",
    ),
    (
        "extra_steps_repeated",
        "gpu",
        lambda raw: raw["stableDiffusion"].update(extraSteps=[50, 50]),
        "config key gke-tpu-serving:stableDiffusion.extraSteps[1]: 50 is listed twice; allowed: distinct values",
    ),
    (
        "cache_bucket_name",
        "dev",
        lambda raw: raw["stableDiffusion"].__setitem__("cacheBucket", "Cache"),
        "config key gke-tpu-serving:stableDiffusion.cacheBucket: 'Cache' is not a valid bucket name; allowed: 3-63 "
        "characters of lowercase letters, digits, '-' and '_', starting and ending with a letter or digit, without "
        "a 'goog' prefix or 'google' inside",
    ),
]


@pytest.mark.parametrize(("stack", "mutate", "message"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_is_rejected_with_its_key(
    stack: str, mutate: Callable[[dict[str, Any]], None], message: str
) -> None:
    raw, project = _raw(stack)
    mutate(raw)
    with pytest.raises(ConfigError) as error:
        parse(raw, project)
    assert str(error.value) == message


# The workload's own environment (its pins clash with this one's): `ray[serve]` and sd_serve's dependencies.
SD_PYTHON = ROOT / ".venv-sd" / "bin" / "python"
_CHECK_IN_WORKLOAD = """
import json, sys
import yaml
from ray.serve.schema import ServeDeploySchema
from sd_serve.app import AppArgs, parse_args
config = yaml.safe_load(sys.stdin.read())
ServeDeploySchema.model_validate(config)
(app,) = config["applications"]
defaults = {key: AppArgs.model_fields[key].default for key in ("resolution", "default_steps", "batch_sizes")}
print(json.dumps({"args": parse_args(app["args"]).model_dump(include=set(app["args"])), "defaults": defaults}))
"""


@pytest.mark.skipif(not SD_PYTHON.exists(), reason=".venv-sd is absent: it is built from workloads/stable_diffusion")
@pytest.mark.parametrize("stack", ["dev", "gpu"])
def test_serve_config_is_what_ray_serve_and_the_workloads_builder_accept(
    stack: str, dev: PreviewResult, gpu: PreviewResult
) -> None:
    # Ray Serve's own schema and the application's argument model (extra keys forbidden), in the workload's venv.
    serve_config = _ray_service({"dev": dev, "gpu": gpu}[stack])["spec"]["serveConfigV2"]
    done = subprocess.run(
        [str(SD_PYTHON), "-c", _CHECK_IN_WORKLOAD],
        input=serve_config,
        cwd=ROOT / "workloads" / "stable_diffusion",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    accepted = json.loads(done.stdout)
    assert accepted["args"] == _app(_ray_service({"dev": dev, "gpu": gpu}[stack]))["args"]
    # The defaults the scenario counts compiled shapes with are the application's.
    assert accepted["defaults"] == {
        "resolution": APP_RESOLUTION,
        "default_steps": APP_STEPS,
        "batch_sizes": list(APP_BATCH_SIZES),
    }


def test_dev_and_gpu_stack_configs_are_valid() -> None:
    for stack in ("dev", "gpu"):
        raw, project = _raw(stack)
        # dev stages Llama's gated weights: with the hfToken secret set, as `pulumi up` needs it.
        assert "stableDiffusion" in parse(raw, project, frozenset({"hfToken"})).scenario_keys
