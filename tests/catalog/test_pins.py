"""The pinned external references (catalog/versions.py): each has a reviewable form and says where it was verified,
and the shipped stacks render no external reference that is not one of them or under the stack's own Artifact
Registry repository."""

import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from helpers import SHIPPED_STACKS

from gke_tpu_serving.catalog import versions
from gke_tpu_serving.catalog.versions import PINS, Pin
from gke_tpu_serving.offline import PreviewResult
from gke_tpu_serving.offline.model import RecordedResource

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_RELEASE_TAG = re.compile(r"^v\d+\.\d+\.\d+$")
_RAW_FILE = re.compile(r"^https://raw\.githubusercontent\.com/[^/]+/[^/]+/(?P<ref>[^/]+)/.+$")
_RELEASE_ASSET = re.compile(r"^https://github\.com/[^/]+/[^/]+/releases/download/(?P<tag>[^/]+)/[^/]+$")
_IMAGE_TAG = re.compile(
    r"^(?P<repository>[a-z0-9.-]+(?::\d+)?/[a-z0-9._/-]+):(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]{0,127})$"
)
_IMAGE_DIGEST = re.compile(r"^[a-z0-9.-]+(?::\d+)?/[a-z0-9._/-]+(?::[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")

_URL_IN_TEXT = re.compile(r"https?://[^\s\"'<>]+")
_COMMIT_IN_TEXT = re.compile(r"\b[0-9a-f]{40}\b")
# Placeholders people write where a real value belongs; none may reach a cluster.
_PLACEHOLDER = re.compile(r"set-from|placeholder|changeme|todo", re.IGNORECASE)

NOT_REFERENCES = {
    "https://www.googleapis.com/auth/cloud-platform": "an OAuth scope of the node service account, not a download",
}
"""URLs the stacks render that name an API, not something fetched at a version."""


def _pin_id(pin: Pin) -> str:
    return pin.value


def _image_problem(value: str) -> str | None:
    if _IMAGE_DIGEST.match(value):
        return None
    tagged = _IMAGE_TAG.match(value)
    if tagged is None:
        return "is neither REPOSITORY:TAG nor REPOSITORY@sha256:DIGEST"
    if tagged["tag"] == "latest":
        return "uses the moving tag latest"
    return None


def pin_problem(value: str) -> str | None:
    """Why a pinned value is not reviewable, or None."""
    if _PLACEHOLDER.search(value):
        return "looks like a placeholder"
    if "latest" in value:
        return "names latest, which moves"
    raw = _RAW_FILE.match(value)
    if raw is not None:
        return None if _COMMIT.match(raw["ref"]) else f"reads a file at {raw['ref']!r}, not at a 40-hex commit"
    asset = _RELEASE_ASSET.match(value)
    if asset is not None:
        return None if _RELEASE_TAG.match(asset["tag"]) else f"downloads from release {asset['tag']!r}, not vX.Y.Z"
    if value.startswith(("https://", "http://")):
        return None if value.startswith("https://") else "is fetched over plain http"
    if _VERSION.match(value):
        return None
    return _image_problem(value)


# --- The table ----------------------------------------------------------------------------------------------------


def test_every_pin_in_versions_is_in_the_table():
    defined = [value for value in vars(versions).values() if isinstance(value, Pin)]
    assert sorted(pin.value for pin in defined) == sorted(pin.value for pin in PINS)


def test_no_value_is_pinned_twice():
    values = [pin.value for pin in PINS]
    assert len(values) == len(set(values))


@pytest.mark.parametrize("pin", PINS, ids=_pin_id)
def test_each_pin_is_reviewable(pin: Pin):
    assert pin_problem(pin.value) is None, f"{pin.value} {pin_problem(pin.value)}"


@pytest.mark.parametrize("pin", PINS, ids=_pin_id)
def test_each_pin_says_where_and_when_it_was_verified(pin: Pin):
    assert date.fromisoformat(pin.verified) <= date(2026, 12, 2)
    assert len(pin.source) > 40, pin.source


def test_the_custom_metrics_adapter_is_read_at_the_verified_commit():
    assert versions.CUSTOM_METRICS_ADAPTER_MANIFEST == (
        "https://raw.githubusercontent.com/GoogleCloudPlatform/k8s-stackdriver/"
        "af49d863755c0535f598cfde9288ae9a75251d38/custom-metrics-stackdriver-adapter/deploy/production/"
        "adapter_new_resource_model.yaml"
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            "https://raw.githubusercontent.com/o/r/master/deploy.yaml",
            "reads a file at 'master', not at a 40-hex commit",
        ),
        (
            "https://raw.githubusercontent.com/o/r/0857364d/deploy.yaml",
            "reads a file at '0857364d', not at a 40-hex commit",
        ),
        ("https://github.com/o/r/releases/download/latest/manifests.yaml", "names latest, which moves"),
        ("https://github.com/o/r/releases/download/main/manifests.yaml", "downloads from release 'main', not vX.Y.Z"),
        ("vllm/vllm-tpu:latest", "names latest, which moves"),
        ("rayproject/ray", "is neither REPOSITORY:TAG nor REPOSITORY@sha256:DIGEST"),
        ("us-docker.pkg.dev/p/r/llama:set-from-images-workflow", "looks like a placeholder"),
        ("http://charts.test/", "is fetched over plain http"),
    ],
)
def test_an_unreviewable_reference_is_named_for_what_is_wrong(value: str, problem: str):
    assert pin_problem(value) == problem


# --- What the shipped stacks render -------------------------------------------------------------------------------


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


def _cluster_internal(url: str) -> bool:
    host = url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
    return host.endswith((".svc", ".svc.cluster.local")) or host in ("localhost", "127.0.0.1")


def references(resource: RecordedResource) -> Iterator[tuple[str, str]]:
    """(input path, reference) for every external reference in a resource's inputs: container images, Ray
    versions, Helm chart versions, URLs outside the cluster and bare commits."""
    for path, text in _strings(resource.inputs, resource.name):
        key = path.rsplit(".", 1)[-1]
        if key == "image" or key == "rayVersion" or (resource.type.startswith("kubernetes:helm") and key == "version"):
            yield path, text
            continue
        urls = [url for url in _URL_IN_TEXT.findall(text) if not _cluster_internal(url)]
        yield from ((path, url) for url in urls if url not in NOT_REFERENCES)
        for commit in _COMMIT_IN_TEXT.findall(text):
            if not any(commit in url for url in urls):
                yield path, commit


def own_repository(result: PreviewResult) -> str:
    """The image prefix of the stack's own Artifact Registry image repository (not its build-cache repository)."""
    inputs = result.one("gcp:artifactregistry/repository:Repository", "images-repository").inputs
    return f"{inputs['location']}-docker.pkg.dev/{inputs['project']}/{inputs['repositoryId']}/"


def unpinned(result: PreviewResult) -> list[str]:
    pinned = {pin.value for pin in PINS}
    own = own_repository(result)
    return [
        f"{path}: {reference}"
        for resource in result.resources
        for path, reference in references(resource)
        if reference not in pinned and not reference.startswith(own)
    ]


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_shipped_stacks_render_only_pinned_references(stack: str, shipped_stack: Callable[[str], PreviewResult]):
    assert unpinned(shipped_stack(stack)) == []


def test_the_dev_stack_renders_the_pinned_adapter_jobset_and_saxml_references(
    shipped_stack: Callable[[str], PreviewResult],
):
    rendered = {reference for resource in shipped_stack("dev").resources for _, reference in references(resource)}
    assert {
        versions.CUSTOM_METRICS_ADAPTER_MANIFEST,
        versions.JOBSET_MANIFEST_PIN.value,
        versions.SAXML_ADMIN_SERVER_IMAGE,
        versions.SAXML_MODEL_SERVER_IMAGE,
        versions.RAY_VERSION,
    } <= rendered


def test_a_reference_outside_the_table_and_the_stack_repository_is_reported(
    shipped_stack: Callable[[str], PreviewResult],
):
    result = shipped_stack("dev")
    stray = RecordedResource(
        urn="urn:pulumi:dev::gke-tpu-serving::kubernetes:apps/v1:Deployment::stray",
        type="kubernetes:apps/v1:Deployment",
        name="stray",
        parent=None,
        inputs={
            "spec": {"template": {"spec": {"containers": [{"image": "vllm/vllm-tpu:v0.27.0"}]}}},
            "metadata": {"annotations": {"source": "https://raw.githubusercontent.com/o/r/" + "a" * 40 + "/x.yaml"}},
        },
        options={},
        custom=True,
    )
    with_stray = PreviewResult(result.project, result.stack, [*result.resources, stray], result.outputs)
    assert unpinned(with_stray) == [
        "stray.spec.template.spec.containers[0].image: vllm/vllm-tpu:v0.27.0",
        "stray.metadata.annotations.source: https://raw.githubusercontent.com/o/r/" + "a" * 40 + "/x.yaml",
    ]


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_shipped_stacks_render_no_placeholder_or_moving_reference(
    stack: str, shipped_stack: Callable[[str], PreviewResult]
):
    problems = [
        f"{path}: {reference} {pin_problem(reference)}"
        for resource in shipped_stack(stack).resources
        for path, reference in references(resource)
        if pin_problem(reference) is not None
    ]
    assert problems == []
