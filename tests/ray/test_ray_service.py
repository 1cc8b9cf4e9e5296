"""RayService under Pulumi mocks: the rendered custom resource (TPU and GPU variants) validated strictly against the
upstream CRD, and pinned field by field: numOfHosts, selectors, accelerator resources, autoscaling, upgrade
strategy, auth, Service types, volumes; bad args refused before anything is registered."""

from typing import Any

import pulumi
import pytest
import yaml
from helpers import args_factory, assert_refused_before_any_child
from manifest_validation import validate_manifest

from gke_tpu_serving import Exposure, RayAuthMode, RayService, RayServiceArgs, RayServiceUpgradeStrategy
from gke_tpu_serving.catalog import GpuAcceleratorType, TpuGeneration
from gke_tpu_serving.offline import kubernetes_manifests

RAY_SERVICE = "kubernetes:ray.io/v1:RayService"
IMAGE = "us-central1-docker.pkg.dev/demo/gke-tpu-serving/stable_diffusion@sha256:" + "b" * 64


BASE_TPU_ARGS: RayServiceArgs = {
    "namespace": "stable-diffusion",
    "service_account_name": "ray-sd",
    "image": IMAGE,
    "applications": [
        {
            "name": "stable-diffusion",
            "import_path": "sd_serve.app:build_app",
            "args": {"model": "/data/weights/models/sd"},
            "deployments": [
                {"name": "APIIngress", "num_replicas": 1},
                {"name": "StableDiffusion", "num_replicas": 1, "resources": {"TPU": 4}},
            ],
        }
    ],
    "tpu_worker_groups": [
        {
            "group_name": "tpu",
            "tpu_generation": TpuGeneration.V4,
            "tpu_machine_type": "ct4p-hightpu-4t",
            "tpu_topology": "2x2x1",
        }
    ],
    "weights_bucket": "demo-sd-weights",
    "compile_cache_path": "/var/cache/jax",
}
tpu_args = args_factory(BASE_TPU_ARGS)


def gpu_args(**extra: Any) -> RayServiceArgs:
    args = tpu_args(**extra)
    del args["tpu_worker_groups"]
    if "applications" not in extra:
        args["applications"][0]["deployments"] = [{"name": "StableDiffusion", "num_replicas": 1, "num_gpus": 1}]
    args.setdefault(
        "gpu_worker_groups",
        [
            {
                "group_name": "gpu",
                "accelerator_type": GpuAcceleratorType.NVIDIA_L4,
                "machine_type": "g2-standard-8",
                "max_replicas": 2,
            }
        ],
    )
    return args


def _ray_service(pulumi_mocks: Any, args: RayServiceArgs, name: str = "stable-diffusion") -> dict[str, Any]:
    RayService(name, args)
    (manifest,) = [m for m in kubernetes_manifests(pulumi_mocks.settle()) if m["kind"] == "RayService"]
    validate_manifest(manifest)
    return manifest


def _groups(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["groupName"]: g for g in manifest["spec"]["rayClusterConfig"]["workerGroupSpecs"]}


def test_tpu_variant_validates_against_the_crd_with_the_webhooks_num_of_hosts(pulumi_mocks: Any) -> None:
    manifest = _ray_service(pulumi_mocks, tpu_args())
    group = _groups(manifest)["tpu"]
    assert (group["numOfHosts"], group["replicas"], group["minReplicas"], group["maxReplicas"]) == (1, 1, 1, 1)
    pod = group["template"]["spec"]
    assert pod["nodeSelector"] == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v4-podslice",
        "cloud.google.com/gke-tpu-topology": "2x2x1",
    }
    assert pod["containers"][0]["resources"]["limits"]["google.com/tpu"] == "4"
    assert group["rayStartParams"] == {"resources": "'{\"TPU\":4}'"}
    assert manifest["spec"]["rayClusterConfig"]["enableInTreeAutoscaling"] is False


def test_tpu_variant_does_not_upgrade_into_a_second_slice(pulumi_mocks: Any) -> None:
    manifest = _ray_service(pulumi_mocks, tpu_args())
    assert manifest["spec"]["upgradeStrategy"] == {"type": "None"}


def test_gpu_variant_autoscales_gpu_workers_from_zero(pulumi_mocks: Any) -> None:
    manifest = _ray_service(pulumi_mocks, gpu_args())
    cluster = manifest["spec"]["rayClusterConfig"]
    assert cluster["enableInTreeAutoscaling"] is True
    group = _groups(manifest)["gpu"]
    assert (group["replicas"], group["minReplicas"], group["maxReplicas"]) == (0, 0, 2)
    (container,) = group["template"]["spec"]["containers"]
    assert container["resources"]["limits"] == {"memory": "16Gi", "nvidia.com/gpu": "1"}
    assert group["template"]["spec"]["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    (head,) = cluster["headGroupSpec"]["template"]["spec"]["containers"]
    assert head["env"] == [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"}]


def test_gpu_variant_keeps_kuberays_default_blue_green_upgrade(pulumi_mocks: Any) -> None:
    manifest = _ray_service(pulumi_mocks, gpu_args())
    assert manifest["spec"]["upgradeStrategy"] == {"type": "NewCluster"}


def test_upgrade_strategy_can_be_chosen(pulumi_mocks: Any) -> None:
    manifest = _ray_service(pulumi_mocks, gpu_args(upgrade_strategy=RayServiceUpgradeStrategy.NONE))
    assert manifest["spec"]["upgradeStrategy"] == {"type": "None"}


def test_head_and_serve_services_are_cluster_ip_by_default(pulumi_mocks: Any) -> None:
    spec = _ray_service(pulumi_mocks, tpu_args())["spec"]
    assert spec["rayClusterConfig"]["headGroupSpec"]["serviceType"] == "ClusterIP"
    assert spec["serveService"] == {"metadata": {"name": "stable-diffusion-serve-svc"}, "spec": {"type": "ClusterIP"}}


@pytest.mark.parametrize("exposure", [Exposure.INTERNAL_LOAD_BALANCER, Exposure.PUBLIC_LOAD_BALANCER])
def test_a_load_balancer_is_refused_serve_does_not_authenticate(pulumi_mocks: Any, exposure: Exposure) -> None:
    assert_refused_before_any_child(
        pulumi_mocks,
        RayService,
        "bad",
        tpu_args(exposure=exposure),
        f"exposure: {exposure.value}, but Ray Serve's HTTP proxy (Ray token authentication covers the dashboard and "
        "jobs API only) does not authenticate requests, and a load balancer would hand them to it from anywhere it is "
        "reachable; allowed: cluster-ip (to reach it from outside the cluster, route it through a Gateway with "
        "Identity-Aware Proxy (a TenantGateway route), or use kubectl port-forward)",
    )


def test_auth_disabled_with_an_exposed_serve_service_is_refused_first(pulumi_mocks: Any) -> None:
    assert_refused_before_any_child(
        pulumi_mocks,
        RayService,
        "bad",
        tpu_args(exposure=Exposure.PUBLIC_LOAD_BALANCER, auth=RayAuthMode.DISABLED),
        "auth: disabled, but exposure is public-load-balancer; allowed: token (the default)",
    )


def test_a_given_token_is_kept_in_a_secret_that_every_container_and_the_operator_read(pulumi_mocks: Any) -> None:
    RayService("stable-diffusion", gpu_args(auth_token=pulumi.Output.secret("t" * 48)))
    result = pulumi_mocks.settle()
    manifests = {m["kind"]: m for m in kubernetes_manifests(result)}
    secret, cluster = manifests["Secret"], manifests["RayService"]["spec"]["rayClusterConfig"]
    validate_manifest(manifests["RayService"])
    assert secret["metadata"] == {"name": "stable-diffusion-ray-auth", "namespace": "stable-diffusion"}
    assert list(secret["stringData"]) == ["auth_token"]
    # KubeRay >= 1.6 deploys the Serve applications with this token; older operators ignore the field.
    assert cluster["authOptions"] == {"mode": "token", "secretName": "stable-diffusion-ray-auth"}
    token_env = [
        {"name": "RAY_AUTH_MODE", "value": "token"},
        {
            "name": "RAY_AUTH_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "stable-diffusion-ray-auth", "key": "auth_token"}},
        },
    ]
    templates = [cluster["headGroupSpec"]["template"], *(g["template"] for g in cluster["workerGroupSpecs"])]
    assert [c["env"][-2:] for t in templates for c in t["spec"]["containers"]] == [token_env, token_env]
    assert cluster["autoscalerOptions"]["env"] == token_env
    service = result.one("kubernetes:ray.io/v1:RayService", "stable-diffusion")
    assert result.one("kubernetes:core/v1:Secret", "stable-diffusion-ray-auth").urn in service.options["dependsOn"]


def test_token_authentication_is_on_by_default(pulumi_mocks: Any) -> None:
    cluster = _ray_service(pulumi_mocks, tpu_args())["spec"]["rayClusterConfig"]
    assert cluster["authOptions"] == {"mode": "token"}
    assert cluster["rayVersion"] == "2.60.0"


def test_token_authentication_can_be_turned_off(pulumi_mocks: Any) -> None:
    cluster = _ray_service(pulumi_mocks, tpu_args(auth=RayAuthMode.DISABLED))["spec"]["rayClusterConfig"]
    assert cluster["authOptions"] == {"mode": "disabled"}


def test_workers_read_weights_through_gcs_fuse_and_compile_to_local_disk(pulumi_mocks: Any) -> None:
    manifest = _ray_service(pulumi_mocks, tpu_args())
    template = _groups(manifest)["tpu"]["template"]
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    assert volumes["weights"]["csi"]["readOnly"] is True
    assert volumes["weights"]["csi"]["volumeAttributes"]["bucketName"] == "demo-sd-weights"
    assert volumes["gke-gcsfuse-cache"] == {"name": "gke-gcsfuse-cache", "emptyDir": {}}
    assert volumes["compile-cache"] == {"name": "compile-cache", "emptyDir": {}}
    assert template["spec"]["containers"][0]["volumeMounts"] == [
        {"name": "weights", "mountPath": "/data/weights", "readOnly": True},
        {"name": "compile-cache", "mountPath": "/var/cache/jax"},
    ]
    assert template["metadata"]["annotations"]["gke-gcsfuse/volumes"] == "true"
    head = manifest["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]
    assert "volumes" not in head["spec"] and "annotations" not in head["metadata"]


def test_every_ray_pod_runs_as_the_workload_identity_unprivileged(pulumi_mocks: Any) -> None:
    manifest = _ray_service(pulumi_mocks, gpu_args())
    cluster = manifest["spec"]["rayClusterConfig"]
    templates = [cluster["headGroupSpec"]["template"], *[g["template"] for g in cluster["workerGroupSpecs"]]]
    for template in templates:
        assert template["spec"]["serviceAccountName"] == "ray-sd"
        assert template["spec"]["securityContext"] == {
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        assert template["spec"]["containers"][0]["image"] == IMAGE


def test_serve_config_comes_from_the_typed_applications(pulumi_mocks: Any) -> None:
    serve = yaml.safe_load(_ray_service(pulumi_mocks, tpu_args())["spec"]["serveConfigV2"])
    (app,) = serve["applications"]
    assert app["import_path"] == "sd_serve.app:build_app"
    assert app["args"] == {"model": "/data/weights/models/sd"}
    assert app["deployments"][1] == {
        "name": "StableDiffusion",
        "num_replicas": 1,
        "ray_actor_options": {"resources": {"TPU": 4}},
    }


def test_outputs_name_the_serve_and_head_services(pulumi_mocks: Any) -> None:
    service = RayService("stable-diffusion", tpu_args())
    pulumi_mocks.settle()
    assert pulumi_mocks.resolve(service.url) == "http://stable-diffusion-serve-svc.stable-diffusion.svc:8000"
    assert pulumi_mocks.resolve(service.service_name) == "stable-diffusion-serve-svc"
    assert pulumi_mocks.resolve(service.dashboard_service_name) == "stable-diffusion-head-svc"


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        (
            "stable-diffusion",
            tpu_args(
                tpu_worker_groups=[
                    {
                        "group_name": "tpu",
                        "tpu_generation": TpuGeneration.V4,
                        "tpu_machine_type": "ct4p-hightpu-4t",
                        "tpu_topology": "2x2x2",
                        "num_of_hosts": 1,
                    }
                ]
            ),
            "RayService 'stable-diffusion': tpu_worker_groups[0].num_of_hosts: 1 does not fit a 2x2x2 slice of "
            'ct4p-hightpu-4t (8 chips, 4 per host), and the KubeRay TPU webhook would refuse the group: "Number of '
            'workers in worker group not equal to specified topology"; allowed: 2 (max(chips / chips per host, 1))',
        ),
        (
            "stable-diffusion-" + "x" * 31,
            tpu_args(),
            "RayService 'stable-diffusion-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx': name: 'stable-diffusion-"
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' is not allowed; allowed: at most 47 characters starting with a letter "
            "(KubeRay derives its RayCluster and Service names from it)",
        ),
        (
            "stable-diffusion",
            tpu_args(ray_version="2.49.0"),
            "RayService 'stable-diffusion': ray_version: '2.49.0' has no token authentication (Ray 2.52.0 added it); "
            "allowed: 2.52.0 or later, or auth disabled",
        ),
        (
            "stable-diffusion",
            tpu_args(image="rayproject/ray:latest"),
            "RayService 'stable-diffusion': image: image 'rayproject/ray:latest' is not pinned; allowed: a tag other "
            "than 'latest' (REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST)",
        ),
        (
            "stable-diffusion",
            gpu_args(
                applications=[
                    {
                        "name": "sd",
                        "import_path": "sd_serve.app:build_app",
                        "deployments": [{"name": "StableDiffusion", "num_gpus": 2}],
                    }
                ]
            ),
            "RayService 'stable-diffusion': applications[0].deployments[0].num_gpus: 2 is more than the 1 GPUs of any "
            "worker; allowed: 0 to 1",
        ),
        (
            "stable-diffusion",
            tpu_args(
                cpu_worker_groups=[{"group_name": "tpu"}],
            ),
            "RayService 'stable-diffusion': cpu_worker_groups[0].group_name: 'tpu' is used twice; allowed: unique "
            "names",
        ),
        (
            "stable-diffusion",
            tpu_args(weights_mount_path="data"),
            "RayService 'stable-diffusion': weights_mount_path: 'data' is not allowed; allowed: an absolute directory "
            "path other than /",
        ),
    ],
    ids=[
        "webhook-num-of-hosts",
        "name-too-long",
        "ray-without-token-auth",
        "unpinned-image",
        "too-many-gpus",
        "duplicate-group",
        "relative-mount",
    ],
)
def test_bad_args_are_refused_before_any_resource(
    pulumi_mocks: Any, name: str, args: RayServiceArgs, message: str
) -> None:
    reason = message.removeprefix(f"RayService '{name}': ")
    assert_refused_before_any_child(pulumi_mocks, RayService, name, args, reason)
