"""The workload images: `pulumi up` builds and pushes them unless the stack config names prebuilt ones, and the
servers run the build's digest reference."""

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT, program_with_stacks

from gke_tpu_serving.offline import PreviewResult, run_program
from gke_tpu_serving.offline.mocks import offline_image_digest
from stacks.config import ConfigError, parse
from stacks.images import (
    BUILD_SETTINGS,
    LLAMA,
    SAXML_HTTP_SERVER,
    STABLE_DIFFUSION,
    STABLE_DIFFUSION_CUDA,
    build_inputs_hash,
    check_prebuilt_image,
)

IMAGE = "docker-build:index:Image"
REPOSITORY = "us-central1-docker.pkg.dev/your-project-id/gke-tpu-serving-dev"
CACHE = "us-central1-docker.pkg.dev/your-project-id/gke-tpu-serving-dev-cache"
PREFIX = "gke-tpu-serving:"
DIGEST = "sha256:" + "b" * 64
PREBUILT = {
    "llama": ("image", f"us-central1-docker.pkg.dev/my-project/ci/llama@sha256:{'1' * 64}"),
    "stableDiffusion": ("image", f"us-central1-docker.pkg.dev/my-project/ci/stable-diffusion@sha256:{'2' * 64}"),
    "saxml": ("httpServerImage", f"us-central1-docker.pkg.dev/my-project/ci/saxml-http-server@sha256:{'3' * 64}"),
}
# Stable Diffusion's staging Job runs the llama image too: prebuilt, it is given once more, at stagingImage.
PREBUILT_STAGING = ("stagingImage", PREBUILT["llama"][1])


def _image(result: PreviewResult, name: str) -> dict[str, Any]:
    (image,) = [r for r in result.of_type(IMAGE) if r.name == f"image-{name}"]
    return image.inputs


def _digest_of(result: PreviewResult, name: str) -> str:
    """The digest the offline mocks give a build (a stand-in for the one `pulumi up` learns when it pushes)."""
    return offline_image_digest(_image(result, name)["tags"])


@pytest.fixture(scope="module")
def built_dev(shipped_stack: Callable[[str], PreviewResult]) -> PreviewResult:
    return shipped_stack("dev")


def _containers(result: PreviewResult, kind: str, name: str) -> list[dict[str, Any]]:
    (resource,) = [
        r
        for r in result.resources
        if r.type.startswith("kubernetes:") and r.type.endswith(f":{kind}") and r.name == name
    ]
    spec = resource.inputs["spec"]
    if kind == "RayService":
        cluster = spec["rayClusterConfig"]
        pods = [cluster["headGroupSpec"]["template"], *(g["template"] for g in cluster["workerGroupSpecs"])]
        return [c for pod in pods for c in pod["spec"]["containers"]]
    return list(spec["template"]["spec"]["containers"])


@pytest.mark.parametrize(
    ("name", "context", "dockerfile"),
    [
        ("llama", "workloads/llama", "workloads/llama/Dockerfile"),
        ("stable-diffusion", "workloads/stable_diffusion", "workloads/stable_diffusion/Dockerfile"),
        ("saxml-http-server", "workloads/saxml", "workloads/saxml/http_server/Dockerfile"),
    ],
)
def test_the_dev_stack_builds_each_workload_image_into_its_repository_with_a_registry_cache(
    shipped_stack: Callable[[str], PreviewResult], name: str, context: str, dockerfile: str
) -> None:
    inputs = dict(_image(shipped_stack("dev"), name))
    (tag,) = inputs.pop("tags")
    assert tag.startswith(f"{REPOSITORY}/{name}:build-") and len(tag.rsplit(":", 1)[1]) == len("build-") + 20
    assert inputs == {
        "context": {"location": context},
        "dockerfile": {"location": dockerfile},
        "platforms": ["linux/amd64"],
        "push": True,
        "buildOnPreview": False,
        "network": "default",
        "registries": [
            {"address": "us-central1-docker.pkg.dev", "username": "oauth2accesstoken", "password": "[secret]"}
        ],
        "cacheFrom": [{"registry": {"ref": f"{CACHE}/{name}:buildcache"}}],
        "cacheTo": [
            {
                "registry": {
                    "ref": f"{CACHE}/{name}:buildcache",
                    "mode": "max",
                    "imageManifest": True,
                    "ociMediaTypes": True,
                    "compression": "gzip",
                    "compressionLevel": 0,
                    "forceCompression": False,
                    "ignoreError": False,
                }
            }
        ],
    }


def test_the_build_cache_has_a_repository_of_its_own_with_mutable_tags(
    shipped_stack: Callable[[str], PreviewResult],
) -> None:
    (cache,) = [r for r in shipped_stack("dev").resources if r.name == "images-cache"]
    assert cache.inputs["repositoryId"] == "gke-tpu-serving-dev-cache"
    assert cache.inputs["format"] == "DOCKER"
    assert "dockerConfig" not in cache.inputs  # the image repository's tags are immutable; the cache tag moves
    assert not cache.options.get("protect")


def test_the_gpu_stack_builds_the_cuda_variant_with_the_build_args_images_yml_uses(
    shipped_stack: Callable[[str], PreviewResult],
) -> None:
    gpu = shipped_stack("gpu")
    assert [r.name for r in gpu.of_type(IMAGE)] == ["image-stable-diffusion-cuda"]
    inputs = _image(gpu, "stable-diffusion-cuda")
    variants = json.loads((ROOT / "workloads/stable_diffusion/image-variants.json").read_text())
    assert inputs["buildArgs"] == dict(arg.split("=", 1) for arg in variants[0]["build_args"])
    assert inputs["buildArgs"] == {"RAY_TAG": "2.60.0-py311-cu128", "JAX_EXTRA": "cuda12"}
    assert inputs["tags"][0].startswith("us-central1-docker.pkg.dev/your-project-id/gke-tpu-serving-gpu/")


def test_a_workload_change_retags_its_image_only(tmp_path: Path) -> None:
    """The tag (and so the digest the servers run) changes with the files of its own context, mode included."""
    shutil.copytree(ROOT / "workloads", tmp_path / "workloads", ignore=shutil.ignore_patterns("__pycache__", ".*cache"))
    builds = (LLAMA, STABLE_DIFFUSION, STABLE_DIFFUSION_CUDA, SAXML_HTTP_SERVER)
    before = [build_inputs_hash(build, BUILD_SETTINGS, root=tmp_path) for build in builds]
    launcher = tmp_path / "workloads/llama/launcher.py"
    launcher.write_text(launcher.read_text() + "\n# a code change\n")
    edited = [build_inputs_hash(build, BUILD_SETTINGS, root=tmp_path) for build in builds]
    assert edited[0] != before[0] and edited[1:] == before[1:]
    launcher.chmod(0o755)
    assert build_inputs_hash(LLAMA, BUILD_SETTINGS, root=tmp_path) != edited[0]
    assert build_inputs_hash(STABLE_DIFFUSION_CUDA, BUILD_SETTINGS, root=tmp_path) != before[1]  # its build args


def test_python_caches_beside_the_sources_do_not_retag_an_image(tmp_path: Path) -> None:
    """Running the tests or the tools leaves caches in workloads/: a later preview must not see a new image."""
    shutil.copytree(
        ROOT / "workloads/llama", tmp_path / "workloads/llama", ignore=shutil.ignore_patterns("__pycache__", ".*cache")
    )
    before = build_inputs_hash(LLAMA, BUILD_SETTINGS, root=tmp_path)
    for cache in ("__pycache__", "tests/__pycache__", ".pytest_cache", ".mypy_cache"):
        (tmp_path / "workloads/llama" / cache).mkdir(parents=True, exist_ok=True)
        (tmp_path / "workloads/llama" / cache / "launcher.cpython-311.pyc").write_bytes(b"compiled")
    assert build_inputs_hash(LLAMA, BUILD_SETTINGS, root=tmp_path) == before


@pytest.mark.parametrize(
    ("kind", "name", "image"),
    [
        ("Deployment", "vllm-llama", "llama"),
        ("RayService", "stable-diffusion", "stable-diffusion"),
        ("Deployment", "saxml-http", "saxml-http-server"),
    ],
)
def test_the_servers_run_the_digest_reference_of_their_build(
    built_dev: PreviewResult, kind: str, name: str, image: str
) -> None:
    containers = _containers(built_dev, kind, name)
    assert containers
    for container in containers:
        assert container["image"] == f"{REPOSITORY}/{image}@{_digest_of(built_dev, image)}"


def test_the_weight_staging_and_publishing_jobs_run_the_built_images_too(built_dev: PreviewResult) -> None:
    images = {
        job.name: job.inputs["spec"]["template"]["spec"]["containers"][0]["image"]
        for job in built_dev.of_type("kubernetes:batch/v1:Job")
    }
    llama = f"{REPOSITORY}/llama@{_digest_of(built_dev, 'llama')}"
    # stage_weights.py lives in the llama image, so both staging Jobs run it; the publishing Job runs the HTTP server's.
    assert images == {
        "saxml-models-sync": f"{REPOSITORY}/saxml-http-server@{_digest_of(built_dev, 'saxml-http-server')}",
        "llama-weights-staging": llama,
        "stableDiffusion-weights-staging": llama,
    }


def _dev_with(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> PreviewResult:
    stack = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    change(stack["config"])
    return run_program(program_with_stacks(tmp_path, {"ci": yaml.safe_dump(stack)}), "ci")


def test_prebuilt_images_are_used_as_they_are_and_nothing_is_built(tmp_path: Path) -> None:
    def prebuilt(config: dict[str, Any]) -> None:
        for scenario, (key, reference) in PREBUILT.items():
            config[f"{PREFIX}{scenario}"][key] = reference
        config[f"{PREFIX}stableDiffusion"][PREBUILT_STAGING[0]] = PREBUILT_STAGING[1]

    result = _dev_with(tmp_path, prebuilt)
    assert result.of_type(IMAGE) == []
    assert [r.name for r in result.resources if r.name == "images-cache"] == []
    for kind, name, scenario in (
        ("Deployment", "vllm-llama", "llama"),
        ("RayService", "stable-diffusion", "stableDiffusion"),
        ("Deployment", "saxml-http", "saxml"),
    ):
        assert {c["image"] for c in _containers(result, kind, name)} == {PREBUILT[scenario][1]}


def test_one_prebuilt_image_leaves_the_others_built(tmp_path: Path) -> None:
    def llama_prebuilt(config: dict[str, Any]) -> None:
        config[f"{PREFIX}llama"].update(image=PREBUILT["llama"][1])
        # Stable Diffusion's staging Job has a key of its own for the llama image; unset, it would build it.
        config[f"{PREFIX}stableDiffusion"][PREBUILT_STAGING[0]] = PREBUILT_STAGING[1]

    result = _dev_with(tmp_path, llama_prebuilt)
    assert sorted(r.name for r in result.of_type(IMAGE)) == ["image-saxml-http-server", "image-stable-diffusion"]


def _raw_dev() -> tuple[dict[str, Any], str]:
    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    project = config.pop("gcp:project")
    return {key.removeprefix(PREFIX): value for key, value in config.items() if key.startswith(PREFIX)}, project


@pytest.mark.parametrize(
    ("scenario", "key", "value", "message"),
    [
        (
            "llama",
            "image",
            "us-central1-docker.pkg.dev/your-project-id/gke-tpu-serving-dev/llama:set-from-images-workflow",
            "config key gke-tpu-serving:llama.image: "
            "'us-central1-docker.pkg.dev/your-project-id/gke-tpu-serving-dev/llama:set-from-images-workflow' looks "
            "like a placeholder; allowed: REPOSITORY@sha256:DIGEST (e.g. the reference images.yml prints) or "
            "REPOSITORY:TAG of an image that exists, or remove the key so that `pulumi up` builds the image",
        ),
        (
            "stableDiffusion",
            "image",
            "registry.example.com/stable-diffusion:v1",
            "config key gke-tpu-serving:stableDiffusion.image: 'registry.example.com/stable-diffusion:v1' looks like "
            "a placeholder; allowed: REPOSITORY@sha256:DIGEST (e.g. the reference images.yml prints) or "
            "REPOSITORY:TAG of an image that exists, or remove the key so that `pulumi up` builds the image",
        ),
        (
            "saxml",
            "httpServerImage",
            "REPO/saxml-http-server:CHANGEME",
            "config key gke-tpu-serving:saxml.httpServerImage: 'REPO/saxml-http-server:CHANGEME' looks like a "
            "placeholder; allowed: REPOSITORY@sha256:DIGEST (e.g. the reference images.yml prints) or REPOSITORY:TAG "
            "of an image that exists, or remove the key so that `pulumi up` builds the image",
        ),
        (
            "saxml",
            "adminServerImage",
            "my-registry/sax-admin-server:placeholder",
            "config key gke-tpu-serving:saxml.adminServerImage: 'my-registry/sax-admin-server:placeholder' looks "
            "like a placeholder; allowed: REPOSITORY@sha256:DIGEST (e.g. the reference images.yml prints) or "
            "REPOSITORY:TAG of an image that exists, or remove the key so that `pulumi up` builds the image",
        ),
        (
            "llama",
            "image",
            "us-central1-docker.pkg.dev/my-project/ci/llama:latest",
            "config key gke-tpu-serving:llama.image: image 'us-central1-docker.pkg.dev/my-project/ci/llama:latest' is "
            "not pinned; allowed: a tag other than 'latest' (REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST)",
        ),
        (
            "stableDiffusion",
            "image",
            "us-central1-docker.pkg.dev/my-project/ci/stable-diffusion",
            "config key gke-tpu-serving:stableDiffusion.image: image "
            "'us-central1-docker.pkg.dev/my-project/ci/stable-diffusion' is not pinned; allowed: a tag other than "
            "'latest' (REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST)",
        ),
    ],
)
def test_a_placeholder_or_unpinned_image_is_refused_at_its_key(
    scenario: str, key: str, value: str, message: str
) -> None:
    raw, project = _raw_dev()
    raw[scenario][key] = value
    secret_keys = frozenset({"hfToken"})  # the dev stack stages Llama's gated weights
    with pytest.raises(ConfigError) as error:
        parse(raw, project, secret_keys)
    assert str(error.value) == message


def test_no_shipped_stack_names_a_placeholder_image() -> None:
    for path in sorted(ROOT.glob("Pulumi.*.yaml")):
        config = yaml.safe_load(path.read_text())["config"]
        for scenario, (key, _) in PREBUILT.items():
            value = (config.get(f"{PREFIX}{scenario}") or {}).get(key)
            if value is not None:
                assert check_prebuilt_image(value) == value, path.name


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed (GitHub's runners have it)")
def test_the_program_names_and_builds_its_images_as_images_yml_does(tmp_path: Path) -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/images.yml").read_text())
    find = next(s for s in workflow["jobs"]["discover"]["steps"] if s.get("id") == "find")
    output = tmp_path / "github-output"
    subprocess.run(
        ["bash", "-e", "-c", find["run"]], cwd=ROOT, env={**os.environ, "GITHUB_OUTPUT": str(output)}, check=True
    )
    by_name = {image["name"]: image for image in json.loads(output.read_text().split("=", 1)[1])}
    for build in (LLAMA, STABLE_DIFFUSION, STABLE_DIFFUSION_CUDA, SAXML_HTTP_SERVER):
        workflow_image = by_name[build.name]
        assert (build.context, build.dockerfile) == (workflow_image["context"], workflow_image["dockerfile"])
        assert "\n".join(f"{k}={v}" for k, v in build.build_args.items()) == workflow_image["build_args"]
