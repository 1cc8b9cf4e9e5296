"""Notebook under Pulumi mocks: JupyterLab as the team's ServiceAccount with token auth and the Ray client address,
a workspace volume and a ClusterIP Service; the Ray version check at preview; every object schema-validated."""

from typing import Any

import pytest
from helpers import args_factory, assert_refused_before_any_child
from manifest_validation import validate_manifest

from gke_tpu_serving import Notebook, NotebookArgs
from gke_tpu_serving.offline import kubernetes_manifests
from gke_tpu_serving.tenancy.notebook import image_ray_version

IMAGE = "us-central1-docker.pkg.dev/demo-project/gke-tpu-serving/notebook:2.49.1-py311"


BASE_ARGS: NotebookArgs = {
    "namespace": "team-a",
    "service_account_name": "workloads",
    "image": IMAGE,
    "ray_cluster": "team-a",
    "ray_version": "2.49.1",
    "token": "not-a-real-token",
}
args = args_factory(BASE_ARGS)


def _manifests(result: Any) -> dict[str, dict[str, Any]]:
    return {m["kind"]: m for m in kubernetes_manifests(result)}


def test_jupyterlab_runs_as_the_teams_account_with_the_ray_client_address(pulumi_mocks: Any) -> None:
    Notebook("notebook", args())
    pod = _manifests(pulumi_mocks.settle())["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["serviceAccountName"] == "workloads"
    assert container["image"] == IMAGE
    assert container["command"] == [
        "jupyter",
        "lab",
        "--ip=0.0.0.0",
        "--port=8888",
        "--no-browser",
        "--ServerApp.base_url=/notebook/",
        "--ServerApp.root_dir=/workspace",
    ]
    assert container["env"] == [
        {"name": "RAY_ADDRESS", "value": "ray://team-a-head-svc:10001"},
        {"name": "HOME", "value": "/workspace"},
        {"name": "JUPYTER_TOKEN", "valueFrom": {"secretKeyRef": {"name": "notebook-token", "key": "JUPYTER_TOKEN"}}},
    ]


def test_the_token_is_kept_in_a_secret(pulumi_mocks: Any) -> None:
    Notebook("notebook", args())
    secret = _manifests(pulumi_mocks.settle())["Secret"]
    assert secret["metadata"] == {"name": "notebook-token", "namespace": "team-a"}
    assert secret["stringData"] == {"JUPYTER_TOKEN": "[secret]"}


def test_pod_is_restricted_and_sized(pulumi_mocks: Any) -> None:
    Notebook("notebook", args(memory="16Gi", memory_limit="32Gi"))
    pod = _manifests(pulumi_mocks.settle())["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "fsGroup": 100,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert container["resources"] == {"requests": {"cpu": "2", "memory": "16Gi"}, "limits": {"memory": "32Gi"}}
    assert container["readinessProbe"]["httpGet"] == {"path": "/notebook/api", "port": "http"}


def test_service_is_cluster_ip_and_the_workspace_persists(pulumi_mocks: Any) -> None:
    Notebook("notebook", args(storage="100Gi"))
    objects = _manifests(pulumi_mocks.settle())
    assert objects["Service"]["spec"]["type"] == "ClusterIP"
    assert objects["Service"]["spec"]["ports"] == [
        {"name": "http", "port": 8888, "targetPort": "http", "protocol": "TCP"}
    ]
    claim = objects["PersistentVolumeClaim"]
    assert claim["metadata"]["name"] == "notebook-workspace"
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "100Gi"}}}
    deployment = objects["Deployment"]["spec"]
    assert deployment["strategy"] == {"type": "Recreate"}
    assert deployment["template"]["spec"]["volumes"] == [
        {"name": "workspace", "persistentVolumeClaim": {"claimName": "notebook-workspace"}}
    ]


def test_every_object_passes_schema_validation(pulumi_mocks: Any) -> None:
    Notebook("notebook", args())
    manifests = kubernetes_manifests(pulumi_mocks.settle())
    assert sorted(m["kind"] for m in manifests) == [
        "Deployment",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "Secret",
        "Service",
    ]
    for manifest in manifests:
        validate_manifest(manifest)


@pytest.mark.parametrize(
    ("image", "version"),
    [
        ("rayproject/ray:2.49.1-py311", "2.49.1"),
        ("registry.example.com:5000/team/notebook:2.49.1", "2.49.1"),
        ("rayproject/ray:2.49.1-py311@sha256:" + "a" * 64, "2.49.1"),
        ("team/notebook:v3", None),
        ("team/notebook@sha256:" + "a" * 64, None),
    ],
)
def test_the_images_ray_version_is_read_from_its_tag(image: str, version: str | None) -> None:
    assert image_ray_version(image) == version


def test_a_digest_image_needs_its_ray_version_stated(pulumi_mocks: Any) -> None:
    Notebook("notebook", args(image="team/notebook@sha256:" + "a" * 64, image_ray_version="2.49.1"))
    assert _manifests(pulumi_mocks.settle())["Deployment"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"ray_version": "2.48.0"},
            "image_ray_version: Ray 2.49.1 in image "
            "'us-central1-docker.pkg.dev/demo-project/gke-tpu-serving/notebook:2.49.1-py311' does not match Ray 2.48.0 "
            "of RayCluster 'team-a'; allowed: 2.48.0 (the Ray client needs the same version)",
        ),
        (
            {"image": "team/notebook@sha256:" + "a" * 64},
            "image_ray_version: missing, and the tag of image 'team/notebook@sha256:" + "a" * 64 + "' names no Ray "
            "version; required: the Ray version installed in the image",
        ),
        (
            {"image": "team/notebook:latest"},
            "image: image 'team/notebook:latest' is not pinned; allowed: a tag other than 'latest' (REPOSITORY:TAG) or "
            "a digest (REPOSITORY@sha256:DIGEST)",
        ),
        ({"ray_version": "latest"}, "ray_version: 'latest' is not a Ray version; allowed: e.g. '2.49.1'"),
        (
            {"base_url": "/notebook"},
            "base_url: '/notebook' is not allowed; allowed: a path such as /notebook/ ending in /",
        ),
        (
            {"memory": "8 GB"},
            "memory: '8 GB' is not a Kubernetes quantity; allowed: e.g. '500m', '4', '16Gi', '1G'",
        ),
    ],
)
def test_bad_args_are_refused_at_preview(pulumi_mocks: Any, extra: dict[str, Any], message: str) -> None:
    assert_refused_before_any_child(pulumi_mocks, Notebook, "notebook", args(**extra), message)
