"""RayCluster under Pulumi mocks: the rendered custom resource validated strictly against the upstream CRD and pinned
field by field: worker groups (TPU slices as the KubeRay webhook wants them, GPU, CPU), autoscaling from zero,
token auth, selectors, the restricted pods; its largest requests as a quota counts them; bad args refused before
anything is registered."""

from decimal import Decimal
from typing import Any

import pulumi
import pytest
from helpers import args_factory, assert_refused_before_any_child
from manifest_validation import validate_manifest

from gke_tpu_serving import RayAuthMode, RayCluster, RayClusterArgs
from gke_tpu_serving.catalog import GpuAcceleratorType, TpuGeneration
from gke_tpu_serving.catalog.versions import RAY_IMAGE
from gke_tpu_serving.offline import kubernetes_manifests
from gke_tpu_serving.ray.cluster_args import max_requests
from gke_tpu_serving.ray.ray_cluster import check_ray_cluster_args
from gke_tpu_serving.tenancy.quota import Resources

SECRET = "kubernetes:core/v1:Secret"
RAY_CLUSTER = "kubernetes:ray.io/v1:RayCluster"

IMAGE = "us-central1-docker.pkg.dev/demo/gke-tpu-serving/ray-tpu:2.60.0-py311"
GI = Decimal(2) ** 30


BASE_TEAM_ARGS: RayClusterArgs = {
    "namespace": "team-a",
    "service_account_name": "workloads",
    "image": IMAGE,
    "tpu_worker_groups": [
        {
            "group_name": "v5e-4x4",
            "tpu_generation": TpuGeneration.V5E,
            "tpu_machine_type": "ct5lp-hightpu-4t",
            "tpu_topology": "4x4",
            "replicas": 0,
            "min_replicas": 0,
            "max_replicas": 2,
        }
    ],
    "gpu_worker_groups": [
        {"group_name": "l4", "accelerator_type": GpuAcceleratorType.NVIDIA_L4, "machine_type": "g2-standard-8"}
    ],
    "cpu_worker_groups": [{"group_name": "cpu", "max_replicas": 4}],
}
team_args = args_factory(BASE_TEAM_ARGS)


def _ray_cluster(pulumi_mocks: Any, args: RayClusterArgs, name: str = "team-a") -> dict[str, Any]:
    RayCluster(name, args)
    (manifest,) = [m for m in kubernetes_manifests(pulumi_mocks.settle()) if m["kind"] == "RayCluster"]
    validate_manifest(manifest)
    return manifest


def _groups(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["groupName"]: g for g in manifest["spec"]["workerGroupSpecs"]}


def test_every_group_scales_from_zero_under_the_in_tree_autoscaler(pulumi_mocks: Any) -> None:
    manifest = _ray_cluster(pulumi_mocks, team_args())
    bounds = {name: (g["replicas"], g["minReplicas"], g["maxReplicas"]) for name, g in _groups(manifest).items()}
    assert bounds == {"v5e-4x4": (0, 0, 2), "l4": (0, 0, 1), "cpu": (0, 0, 4)}
    assert manifest["spec"]["enableInTreeAutoscaling"] is True
    assert manifest["spec"]["autoscalerOptions"]["idleTimeoutSeconds"] == 300


def test_a_tpu_replica_is_a_whole_slice_of_hosts_with_the_slices_selectors(pulumi_mocks: Any) -> None:
    group = _groups(_ray_cluster(pulumi_mocks, team_args()))["v5e-4x4"]
    assert group["numOfHosts"] == 4
    pod = group["template"]["spec"]
    assert pod["nodeSelector"] == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice",
        "cloud.google.com/gke-tpu-topology": "4x4",
    }
    (container,) = pod["containers"]
    assert container["resources"] == {
        "requests": {"cpu": "8", "memory": "32Gi", "google.com/tpu": "4"},
        "limits": {"memory": "32Gi", "google.com/tpu": "4"},
    }
    assert group["rayStartParams"] == {"resources": "'{\"TPU\":4}'"}


def test_gpu_workers_select_their_gpu_and_tolerate_its_taint(pulumi_mocks: Any) -> None:
    pod = _groups(_ray_cluster(pulumi_mocks, team_args()))["l4"]["template"]["spec"]
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["containers"][0]["resources"]["limits"] == {"memory": "16Gi", "nvidia.com/gpu": "1"}


def test_token_auth_is_the_default_and_kuberays_secret_is_named_after_the_cluster(pulumi_mocks: Any) -> None:
    cluster = RayCluster("team-a", team_args())
    manifest = next(m for m in kubernetes_manifests(pulumi_mocks.settle()) if m["kind"] == "RayCluster")
    assert manifest["spec"]["authOptions"] == {"mode": "token"}
    assert pulumi_mocks.resolve(cluster.auth_token_secret_name) == "team-a"


def test_auth_can_be_disabled(pulumi_mocks: Any) -> None:
    cluster = RayCluster("team-a", team_args(auth=RayAuthMode.DISABLED))
    manifest = next(m for m in kubernetes_manifests(pulumi_mocks.settle()) if m["kind"] == "RayCluster")
    assert manifest["spec"]["authOptions"] == {"mode": "disabled"}
    assert pulumi_mocks.resolve(cluster.auth_token_secret_name) == ""


def _ray_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    templates = [spec["headGroupSpec"]["template"], *(group["template"] for group in spec["workerGroupSpecs"])]
    return [container for template in templates for container in template["spec"]["containers"]]


def test_a_given_token_is_kept_in_a_secret_that_every_ray_container_reads(pulumi_mocks: Any) -> None:
    # For an operator without authOptions (the GKE Ray add-on): Ray's manual way, no authOptions at all.
    cluster = RayCluster("team-a", team_args(auth_token=pulumi.Output.secret("t" * 48)))
    result = pulumi_mocks.settle()
    manifests = {m["kind"]: m for m in kubernetes_manifests(result)}
    secret, spec = manifests["Secret"], manifests["RayCluster"]["spec"]
    assert (secret["metadata"], secret["type"]) == ({"name": "team-a-ray-auth", "namespace": "team-a"}, "Opaque")
    assert list(secret["stringData"]) == ["auth_token"]
    assert "authOptions" not in spec
    token_env = [
        {"name": "RAY_AUTH_MODE", "value": "token"},
        {"name": "RAY_AUTH_TOKEN", "valueFrom": {"secretKeyRef": {"name": "team-a-ray-auth", "key": "auth_token"}}},
    ]
    containers = _ray_containers(spec)
    assert len(containers) == 1 + len(spec["workerGroupSpecs"])
    assert all(container["env"][-2:] == token_env for container in containers)
    assert spec["autoscalerOptions"]["env"] == token_env
    # The pods wait for the Secret, and clients find it through the output.
    assert result.one(SECRET, "team-a-ray-auth").urn in result.one(RAY_CLUSTER, "team-a").options["dependsOn"]
    assert pulumi_mocks.resolve(cluster.auth_token_secret_name) == "team-a-ray-auth"


def test_every_pod_passes_pod_security_restricted_as_the_images_numeric_user(pulumi_mocks: Any) -> None:
    spec = _ray_cluster(pulumi_mocks, team_args())["spec"]
    pods = [spec["headGroupSpec"]["template"]["spec"], *(g["template"]["spec"] for g in spec["workerGroupSpecs"])]
    restricted_container = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    for pod in pods:
        assert pod["securityContext"] == {
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
            "runAsUser": 1000,
        }
        assert [c["securityContext"] for c in pod["containers"]] == [restricted_container]
    assert spec["autoscalerOptions"]["securityContext"] == restricted_container


def test_head_is_cluster_ip_and_runs_as_the_given_account(pulumi_mocks: Any) -> None:
    head = _ray_cluster(pulumi_mocks, team_args())["spec"]["headGroupSpec"]
    assert head["serviceType"] == "ClusterIP"
    assert head["template"]["spec"]["serviceAccountName"] == "workloads"
    # The autoscaler beside Ray talks to the Kubernetes API with the head pod's token.
    assert head["template"]["spec"]["automountServiceAccountToken"] is True


def test_outputs_locate_the_head_service(pulumi_mocks: Any) -> None:
    cluster = RayCluster("team-a", team_args())
    pulumi_mocks.settle()
    assert pulumi_mocks.resolve(cluster.head_service_name) == "team-a-head-svc"
    assert pulumi_mocks.resolve(cluster.ray_address) == "ray://team-a-head-svc.team-a.svc:10001"
    assert pulumi_mocks.resolve(cluster.dashboard_url) == "http://team-a-head-svc.team-a.svc:8265"


def test_a_changed_pod_template_recreates_the_pods(pulumi_mocks: Any) -> None:
    assert _ray_cluster(pulumi_mocks, team_args())["spec"]["upgradeStrategy"] == {"type": "Recreate"}


def test_image_defaults_to_rays_own_at_the_pinned_version(pulumi_mocks: Any) -> None:
    args = team_args()
    del args["image"]
    spec = _ray_cluster(pulumi_mocks, args)["spec"]
    assert RAY_IMAGE == "rayproject/ray:2.60.0-py311"
    assert spec["headGroupSpec"]["template"]["spec"]["containers"][0]["image"] == RAY_IMAGE
    assert spec["rayVersion"] == "2.60.0"


def test_fixed_groups_run_without_the_autoscaler(pulumi_mocks: Any) -> None:
    spec = _ray_cluster(pulumi_mocks, team_args(gpu_worker_groups=[], cpu_worker_groups=[], tpu_worker_groups=[]))
    assert spec["spec"]["enableInTreeAutoscaling"] is False
    assert "autoscalerOptions" not in spec["spec"]


def test_largest_requests_count_head_autoscaler_and_every_host_at_max_replicas() -> None:
    settings = check_ray_cluster_args(team_args())
    # head 2 + autoscaler 0.5 + TPU 2 slices x 4 hosts x 8 + GPU 1 x 4 + CPU 4 x 2
    assert max_requests(settings.head, settings.groups) == Resources(
        cpu=Decimal("78.5"),
        memory=(8 + Decimal("0.5") + 8 * 32 + 16 + 4 * 8) * GI,
        tpu_chips=32,
        gpus=1,
    )


BAD = [
    (
        "tpu_group_of_the_wrong_size",
        team_args(
            tpu_worker_groups=[
                {
                    "group_name": "v5e",
                    "tpu_generation": TpuGeneration.V5E,
                    "tpu_machine_type": "ct5lp-hightpu-4t",
                    "tpu_topology": "4x4",
                    "num_of_hosts": 1,
                }
            ]
        ),
        "RayCluster 'team-a': tpu_worker_groups[0].num_of_hosts: 1 does not fit a 4x4 slice of ct5lp-hightpu-4t (16 "
        'chips, 4 per host), and the KubeRay TPU webhook would refuse the group: "Number of workers in worker group '
        'not equal to specified topology"; allowed: 4 (max(chips / chips per host, 1))',
    ),
    (
        "unpinned_image",
        team_args(image="rayproject/ray"),
        "RayCluster 'team-a': image: image 'rayproject/ray' is not pinned; allowed: a tag other than 'latest' "
        "(REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST)",
    ),
    (
        "ray_without_token_auth",
        team_args(ray_version="2.49.1"),
        "RayCluster 'team-a': ray_version: '2.49.1' has no token authentication (Ray 2.52.0 added it); allowed: "
        "2.52.0 or later, or auth disabled",
    ),
    (
        "group_name_used_twice",
        team_args(cpu_worker_groups=[{"group_name": "l4"}]),
        "RayCluster 'team-a': cpu_worker_groups[0].group_name: 'l4' is used twice; allowed: unique names",
    ),
    (
        "token_with_auth_disabled",
        team_args(auth=RayAuthMode.DISABLED, auth_token="t" * 48),
        "RayCluster 'team-a': auth_token: set, but auth is disabled; allowed: auth token, or no auth_token",
    ),
    (
        "root_user",
        team_args(run_as_user=0),
        "RayCluster 'team-a': run_as_user: 0 is not allowed; allowed: an integer >= 1",
    ),
]


@pytest.mark.parametrize(("args", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_args_are_refused_before_anything_is_registered(pulumi_mocks: Any, args: Any, message: str) -> None:
    reason = message.removeprefix("RayCluster 'team-a': ")
    assert_refused_before_any_child(pulumi_mocks, RayCluster, "team-a", args, reason)


def test_names_kuberay_cannot_derive_services_from_are_refused(pulumi_mocks: Any) -> None:
    with pytest.raises(ValueError) as raised:
        RayCluster("a" * 48, team_args())
    assert str(raised.value) == (
        f"RayCluster '{'a' * 48}': name: '{'a' * 48}' is not allowed; allowed: at most 47 characters starting with a "
        "letter (KubeRay derives its RayCluster and Service names from it)"
    )
