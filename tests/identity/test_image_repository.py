"""ImageRepository under Pulumi mocks: immutable tags, cleanup, repository-level grants; bad input pinned."""

from typing import Any

import pytest
from helpers import assert_refused_before_any_child

from gke_tpu_serving import ImageRepository

REGION_RULE = "; allowed: e.g. 'us-central1': a geography (africa, asia, australia, europe, me, northamerica, southamerica, us), '-', a direction (central, east, north, northeast, south, southeast, southwest, west) and a number"


def test_readers_and_writers_are_granted_on_the_repository(pulumi_mocks: Any) -> None:
    ImageRepository(
        "images",
        {
            "project": "demo-project",
            "location": "us-central1",
            "readers": {"nodes": "serviceAccount:nodes@demo-project.iam.gserviceaccount.com"},
            "writers": {"ci": "serviceAccount:ci@demo-project.iam.gserviceaccount.com"},
        },
    )
    result = pulumi_mocks.settle()
    grants = {g.name: g.inputs for g in result.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")}
    assert grants == {
        "images-nodes-reader": {
            "project": "demo-project",
            "location": "us-central1",
            "repository": "gke-tpu-serving",
            "role": "roles/artifactregistry.reader",
            "member": "serviceAccount:nodes@demo-project.iam.gserviceaccount.com",
        },
        "images-ci-writer": {
            "project": "demo-project",
            "location": "us-central1",
            "repository": "gke-tpu-serving",
            "role": "roles/artifactregistry.writer",
            "member": "serviceAccount:ci@demo-project.iam.gserviceaccount.com",
        },
    }
    repository = result.one("gcp:artifactregistry/repository:Repository", "images-repository").inputs
    assert repository["cleanupPolicies"] == [
        {"id": "keep-recent", "action": "KEEP", "mostRecentVersions": {"keepCount": 20}},
        {
            "id": "delete-old-untagged",
            "action": "DELETE",
            "condition": {"tagState": "UNTAGGED", "olderThan": "2592000s"},
        },
    ]


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"location": "us"}, "location: 'us' is not a GCP region" + REGION_RULE),
        (
            {"repository_id": "Images"},
            "repository_id: 'Images' is not a repository id; allowed: 1-63 lowercase letters, digits and '-', starting with a letter and not ending with '-'",
        ),
        (
            {"readers": {"Nodes": "serviceAccount:x@p.iam.gserviceaccount.com"}},
            "readers.Nodes: 'Nodes' is not a valid DNS-1123 label; allowed: 1-63 characters of lowercase letters, digits and '-', starting and ending with a letter or digit",
        ),
        ({"keep_recent_versions": 0}, "keep_recent_versions: 0 is not allowed; allowed: an integer >= 1"),
    ],
)
def test_bad_args_raise_before_any_child(pulumi_mocks: Any, extra: dict[str, Any], reason: str) -> None:
    given = {"project": "demo-project", "location": "us-central1", **extra}
    assert_refused_before_any_child(pulumi_mocks, ImageRepository, "bad", given, reason)
