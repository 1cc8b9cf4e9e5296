"""The workload images: built from workloads/ and pushed by `pulumi up`, or prebuilt ones the stack config names.

A scenario's image key (llama.image, stableDiffusion.image, saxml.httpServerImage) is optional. Unset, `pulumi up`
builds the image from its Dockerfile with pulumi-docker-build (BuildKit, linux/amd64), pushes it to the stack's
Artifact Registry repository and hands the servers its digest reference (REPOSITORY/NAME@sha256:...): a change to
the workload's files makes a new digest, which rolls the pods; an unchanged folder is not rebuilt, so nothing rolls.
Set, it names an image CI built (images.yml prints the line to set), pinned by digest or a tag, used as it is.

Images are named as .github/workflows/images.yml names them (a test runs its discovery script and compares):
workloads/<workload>/Dockerfile is image <workload>, workloads/<workload>/<image>/Dockerfile is <workload>-<image>,
"_" written "-", built with the workload's folder as the context; image-variants.json adds variants of a Dockerfile
with other build args (stable-diffusion-cuda for GPU pools).
"""

import hashlib
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_docker_build as docker_build
import pulumi_gcp as gcp

from gke_tpu_serving import ImageRepository
from gke_tpu_serving.names import check_pinned_image

ROOT = Path(__file__).resolve().parent.parent
"""The project's root: the Pulumi program runs from it, so the build paths below are relative to it (relative paths
keep the build's inputs the same on every machine that runs `pulumi up`)."""
WORKLOADS = "workloads"
PLATFORM = docker_build.Platform.LINUX_AMD64
"""TPU VMs and GPU nodes are x86_64 machines."""
CACHE_TAG = "buildcache"
# Artifact Registry accepts a short-lived OAuth access token as the password of the user `oauth2accesstoken` (Google's
# "Advanced authentication" page for Container Registry, https://cloud.google.com/container-registry/docs/advanced-
# authentication, "Using an access token"; the same scheme as `gcloud auth print-access-token | docker login -u
# oauth2accesstoken`; read 2026-12-02).
ACCESS_TOKEN_USER = "oauth2accesstoken"
TAG_PREFIX = "build-"
"""Tags of built images: `build-<hash of the build's inputs>`; the image repository's tags are immutable."""

BUILD_SETTINGS = {"platforms": [PLATFORM.value], "cache": {"mode": "max", "imageManifest": True}}
"""The build settings below that are not in ImageBuild: part of the tag's hash, so changing them pushes a new tag."""
_PLACEHOLDER_WORDS = re.compile(r"placeholder|set-from|changeme|change-me|example|your-project", re.IGNORECASE)


@dataclass(frozen=True)
class ImageBuild:
    """An image `pulumi up` builds from workloads/ and pushes to the stack's repository."""

    name: str
    """The image's name in the repository, as images.yml names it (e.g. saxml-http-server)."""
    context: str
    """The build context, relative to the project's root: the workload's folder."""
    dockerfile: str
    """The Dockerfile, relative to the project's root."""
    build_args: Mapping[str, str] = field(default_factory=dict)
    """Docker build args (ARG values), e.g. the CUDA variant's."""

    def stand_in_reference(self) -> str:
        """What the components' checks see at config load, before the build has a digest: a digest reference of
        this image's shape. It never reaches a resource."""
        return f"{self.name}@sha256:{'0' * 64}"


def workload_image(dockerfile: str, variant: str | None = None) -> ImageBuild:
    """The image built from `dockerfile` (relative to the project's root), or its variant with that suffix in the
    folder's image-variants.json (images.yml's naming rule and build args)."""
    path = Path(dockerfile).parent.relative_to(WORKLOADS).parts
    name = "-".join(path).replace("_", "-")
    build = ImageBuild(name=name, context=f"{WORKLOADS}/{path[0]}", dockerfile=dockerfile)
    if variant is None:
        return build
    variants = json.loads((ROOT / Path(dockerfile).parent / "image-variants.json").read_text())
    entry = next(v for v in variants if v["suffix"] == variant)
    args = dict(arg.split("=", 1) for arg in entry["build_args"])
    return ImageBuild(name=f"{name}-{variant}", context=build.context, dockerfile=dockerfile, build_args=args)


LLAMA = workload_image("workloads/llama/Dockerfile")
STABLE_DIFFUSION = workload_image("workloads/stable_diffusion/Dockerfile")
STABLE_DIFFUSION_CUDA = workload_image("workloads/stable_diffusion/Dockerfile", variant="cuda")
SAXML_HTTP_SERVER = workload_image("workloads/saxml/http_server/Dockerfile")
# Saxml's admin and model servers are not built here: a Bazel build of Saxml takes hours. They default to Google's
# published images (gke_tpu_serving.catalog.versions); saxml.adminServerImage/modelServerImage name others.


def check_prebuilt_image(value: object) -> str:
    """A prebuilt image the stack config names: pinned by digest, or by a tag other than 'latest', and not a
    placeholder left in a stack file. ValueError (the reason) otherwise."""
    allowed = "allowed: REPOSITORY@sha256:DIGEST (e.g. the reference images.yml prints) or REPOSITORY:TAG"
    if isinstance(value, str) and _PLACEHOLDER_WORDS.search(value.split("@", 1)[0]):
        raise ValueError(
            f"{value!r} looks like a placeholder; {allowed} of an image that exists, or remove the key so that "
            "`pulumi up` builds the image"
        )
    check_pinned_image(value)
    assert isinstance(value, str)
    return value


_GENERATED_DIRECTORIES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"})


def build_inputs_hash(build: ImageBuild, settings: Mapping[str, Any], root: Path = ROOT) -> str:
    """A hash of everything the build reads: every file of the context (with its mode) and the Dockerfile, the build
    args and the build settings. It names the pushed tag; the repository's tags are immutable, so whenever the
    provider rebuilds (its own hash of the context, after .dockerignore, changed) this hash has changed too."""
    digest = hashlib.sha256(json.dumps({"build": build.__dict__, "settings": settings}, sort_keys=True).encode())
    paths = [root / build.dockerfile]
    for directory, subdirectories, files in os.walk(root / build.context):
        # Caches that running Python or its tools leaves beside the sources: never part of an image, and they
        # appear and vanish with every test run, which would re-tag and rebuild the image each time.
        subdirectories[:] = [name for name in subdirectories if name not in _GENERATED_DIRECTORIES]
        paths.extend(Path(directory) / name for name in files if not name.endswith((".pyc", ".pyo")))
    for path in sorted(set(paths)):
        info = path.lstat()
        content = os.readlink(path).encode() if stat.S_ISLNK(info.st_mode) else path.read_bytes()
        digest.update(f"{path.relative_to(root)}\0{stat.S_IMODE(info.st_mode):o}\0".encode())
        digest.update(hashlib.sha256(content).digest())
    return digest.hexdigest()


@dataclass
class StackImages:
    """The stack's image builds, each registered once, on first use (two instances share an image)."""

    project: str
    location: str
    repository: ImageRepository
    cache_repository_id: str
    """The build cache's repository (mutable tags: the cache tag moves with every build)."""
    _built: dict[str, pulumi.Output[str]] = field(default_factory=dict, init=False)
    _cache_url: pulumi.Output[str] | None = field(default=None, init=False)
    _credentials: docker_build.RegistryArgs | None = field(default=None, init=False)

    @property
    def registry(self) -> str:
        """The Artifact Registry host of the stack's repositories."""
        return f"{self.location}-docker.pkg.dev"

    def _registry_credentials(self) -> docker_build.RegistryArgs:
        # The caller's Google credentials (the ones pulumi-gcp uses) as a short-lived token: nothing to set up.
        # docker-build ignores a changed password when it diffs, so a new token each run rebuilds nothing.
        if self._credentials is None:
            token = gcp.organizations.get_client_config_output().access_token
            self._credentials = docker_build.RegistryArgs(
                address=self.registry, username=ACCESS_TOKEN_USER, password=pulumi.Output.secret(token)
            )
        return self._credentials

    def _cache(self) -> pulumi.Output[str]:
        if self._cache_url is None:
            cache = gcp.artifactregistry.Repository(
                "images-cache",
                gcp.artifactregistry.RepositoryArgs(
                    project=self.project,
                    location=self.location,
                    repository_id=self.cache_repository_id,
                    format="DOCKER",
                    description="BuildKit cache of the images `pulumi up` builds from workloads/ (regenerable)",
                    cleanup_policies=[
                        # A build moves the cache tag; the manifests it leaves untagged are not needed again.
                        gcp.artifactregistry.RepositoryCleanupPolicyArgs(
                            id="delete-untagged",
                            action="DELETE",
                            condition=gcp.artifactregistry.RepositoryCleanupPolicyConditionArgs(
                                tag_state="UNTAGGED", older_than="604800s"
                            ),
                        )
                    ],
                ),
            )
            self._cache_url = pulumi.Output.concat(self.registry, "/", self.project, "/", cache.repository_id)
        return self._cache_url

    def reference(self, build: ImageBuild) -> pulumi.Output[str]:
        """The digest reference (REPOSITORY/NAME@sha256:...) of `build`, built and pushed by `pulumi up`."""
        if build.name not in self._built:
            cache = pulumi.Output.concat(self._cache(), "/", build.name, ":", CACHE_TAG)
            settings = BUILD_SETTINGS
            tag = f"{TAG_PREFIX}{build_inputs_hash(build, settings)[:20]}"
            image = docker_build.Image(
                f"image-{build.name}",
                docker_build.ImageArgs(
                    context=docker_build.BuildContextArgs(location=build.context),
                    dockerfile=docker_build.DockerfileArgs(location=build.dockerfile),
                    build_args=dict(build.build_args) or None,
                    platforms=[PLATFORM],
                    push=True,
                    tags=[pulumi.Output.concat(self.repository.url, "/", build.name, ":", tag)],
                    registries=[self._registry_credentials()],
                    cache_from=[docker_build.CacheFromArgs(registry=docker_build.CacheFromRegistryArgs(ref=cache))],
                    cache_to=[
                        docker_build.CacheToArgs(
                            registry=docker_build.CacheToRegistryArgs(
                                ref=cache,
                                mode=docker_build.CacheMode.MAX,
                                image_manifest=True,
                                oci_media_types=True,
                            )
                        )
                    ],
                    # A preview neither builds nor pushes: it needs no Docker and no write access (the PR preview runs
                    # as a read-only service account); the image's digest is unknown until `pulumi up`.
                    build_on_preview=False,
                ),
            )
            self._built[build.name] = pulumi.Output.concat(self.repository.url, "/", build.name, "@", image.digest)
        return self._built[build.name]
