"""JobSetController under Pulumi mocks: the pinned release manifest, applied provider-side."""

from typing import Any

import pytest
from helpers import assert_refused_before_any_child

from gke_tpu_serving import JobSetController

COMPONENT = "gke-tpu-serving:index:JobSetController"
CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile"


def test_the_pinned_release_manifest_is_applied_provider_side(pulumi_mocks: Any) -> None:
    JobSetController("llm-jobset", {})
    result = pulumi_mocks.settle()
    manifest = result.one(CONFIG_FILE, "llm-jobset-manifest")
    assert manifest.inputs == {
        "file": "https://github.com/kubernetes-sigs/jobset/releases/download/v0.12.0/manifests.yaml"
    }
    assert manifest.parent == result.one(COMPONENT, "llm-jobset").urn
    assert [r.type for r in result.resources if r.type not in ("pulumi:pulumi:Stack", COMPONENT)] == [CONFIG_FILE]


def test_the_installed_version_is_an_output(pulumi_mocks: Any) -> None:
    controller = JobSetController("llm-jobset", {"version": "v0.2.3"})
    result = pulumi_mocks.settle()
    assert pulumi_mocks.resolve(controller.version) == "v0.2.3"
    assert result.one(CONFIG_FILE, "llm-jobset-manifest").inputs["file"] == (
        "https://github.com/kubernetes-sigs/jobset/releases/download/v0.2.3/manifests.yaml"
    )


@pytest.mark.parametrize("version", ["v0.2.2", "0.12.0", "v0.12", "latest", "v1.0.0-rc.1", 12])
def test_versions_before_v0_2_3_or_not_release_tags_are_refused(pulumi_mocks: Any, version: Any) -> None:
    reason = f"version: {version!r} is not allowed; allowed: a release tag vMAJOR.MINOR.PATCH of at least v0.2.3"
    assert_refused_before_any_child(pulumi_mocks, JobSetController, "bad", {"version": version}, reason)
