"""The pure KubeRay spec builders: worker groups checked as the KubeRay TPU webhook checks them, GPU and CPU groups
from the catalog, the head, the auth block and serveConfigV2; a cluster built from them validates strictly against
both upstream CRDs (RayCluster's spec and RayService's rayClusterConfig are one code path)."""

from typing import Any

import pytest
import yaml
from helpers import allowed
from manifest_validation import validate_custom_resource
from pulumi import _types

from gke_tpu_serving.catalog import GpuAcceleratorType, TpuGeneration, TpuSlice, tpu_slices
from gke_tpu_serving.errors import ArgError
from gke_tpu_serving.k8s.pod_security import restricted_container_security_context, restricted_pod_security_context
from gke_tpu_serving.ray.groups import (
    TPU_WEBHOOK_REASON,
    TpuWorkerGroupArgs,
    check_head,
    cpu_worker_group,
    gpu_worker_group,
    tpu_worker_group,
)
from gke_tpu_serving.ray.serve import ServeApplicationArgs, check_serve_applications, serve_config_v2
from gke_tpu_serving.ray.spec import (
    RayAuth,
    RayAuthMode,
    RayPod,
    check_ray_name,
    head_group_spec,
    ray_cluster_spec,
    worker_group_spec,
)

POD = RayPod(image="repo/sd:1.0", service_account_name="ray-sd")
ALL_SLICES = [s for generation in TpuGeneration for s in tpu_slices(generation)]


def tpu_args(shape: TpuSlice, **extra: Any) -> TpuWorkerGroupArgs:
    args: TpuWorkerGroupArgs = {
        "group_name": "tpu",
        "tpu_generation": shape.generation,
        "tpu_machine_type": shape.machine_type,
        "tpu_topology": shape.topology,
    }
    args.update(extra)  # type: ignore[typeddict-item]
    return args


def v4(**extra: Any) -> TpuWorkerGroupArgs:
    (shape,) = [s for s in ALL_SLICES if (s.machine_type, s.topology) == ("ct4p-hightpu-4t", "2x2x1")]
    return tpu_args(shape, **extra)


def _plain(value: Any) -> Any:
    """A pulumi_kubernetes *Args object as Kubernetes JSON."""
    if _types.is_input_type(type(value)):
        return {key: _plain(item) for key, item in _types.input_type_to_dict(value).items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


@pytest.mark.parametrize("shape", ALL_SLICES, ids=lambda s: f"{s.machine_type}-{s.topology}")
def test_tpu_group_num_of_hosts_is_what_the_webhook_demands(shape: TpuSlice) -> None:
    group = tpu_worker_group(tpu_args(shape))
    assert group.num_of_hosts == max(shape.chips // shape.chips_per_vm, 1) == shape.hosts


@pytest.mark.parametrize(
    "shape", [s for s in ALL_SLICES if s.multi_host][:6], ids=lambda s: f"{s.machine_type}-{s.topology}"
)
def test_tpu_group_with_one_host_per_multi_host_slice_fails_with_the_webhooks_reason(shape: TpuSlice) -> None:
    with pytest.raises(ArgError) as error:
        tpu_worker_group(tpu_args(shape, num_of_hosts=1))
    assert error.value.path == ("num_of_hosts",)
    assert f'"{TPU_WEBHOOK_REASON}"' in error.value.reason
    assert error.value.reason.endswith(f"allowed: {shape.hosts} (max(chips / chips per host, 1))")


def test_wrong_num_of_hosts_message_names_the_slice_and_the_allowed_value() -> None:
    (shape,) = [s for s in ALL_SLICES if (s.machine_type, s.topology) == ("ct5lp-hightpu-4t", "4x8")]
    with pytest.raises(ArgError) as error:
        tpu_worker_group(tpu_args(shape, num_of_hosts=4))
    assert str(error.value) == (
        "num_of_hosts: 4 does not fit a 4x8 slice of ct5lp-hightpu-4t (32 chips, 4 per host), and the KubeRay TPU "
        'webhook would refuse the group: "Number of workers in worker group not equal to specified topology"; '
        "allowed: 8 (max(chips / chips per host, 1))"
    )


def test_unknown_tpu_generation_is_blamed_on_the_generation_not_the_topology() -> None:
    (shape,) = [s for s in ALL_SLICES if s.machine_type == "ct5lp-hightpu-1t"]
    with pytest.raises(ArgError) as error:
        tpu_worker_group(tpu_args(shape, tpu_generation="v7"))
    assert str(error.value) == f"tpu_generation: unknown TPU generation 'v7'; allowed: {allowed(TpuGeneration)}"


def test_machine_type_of_another_generation_is_blamed_on_the_machine_type() -> None:
    (shape,) = [s for s in ALL_SLICES if s.machine_type == "ct5lp-hightpu-1t"]
    with pytest.raises(ArgError) as error:
        tpu_worker_group(tpu_args(shape, tpu_machine_type="ct6e-standard-1t"))
    assert error.value.path == ("tpu_machine_type",)


def test_tpu_topology_outside_the_catalog_is_refused() -> None:
    (shape,) = [s for s in ALL_SLICES if s.machine_type == "ct5lp-hightpu-1t"]
    with pytest.raises(ArgError) as error:
        tpu_worker_group(tpu_args(shape, tpu_topology="2x2"))
    assert str(error.value) == (
        "tpu_topology: topology '2x2' is not valid for TPU v5e on ct5lp-hightpu-1t; allowed: 1x1 (single-host)"
    )


def test_tpu_group_selects_the_slice_claims_every_chip_and_advertises_them_to_ray() -> None:
    spec = worker_group_spec(tpu_worker_group(v4()), POD)
    pod = spec["template"]["spec"]
    assert pod["nodeSelector"] == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v4-podslice",
        "cloud.google.com/gke-tpu-topology": "2x2x1",
    }
    (container,) = pod["containers"]
    assert container["resources"] == {
        "requests": {"cpu": "8", "memory": "32Gi", "google.com/tpu": "4"},
        "limits": {"memory": "32Gi", "google.com/tpu": "4"},
    }
    # KubeRay's own quoting: a JSON object in single quotes, handed to `ray start --resources` as is.
    assert spec["rayStartParams"] == {"resources": "'{\"TPU\":4}'"}
    assert (spec["numOfHosts"], spec["replicas"], spec["minReplicas"], spec["maxReplicas"]) == (1, 1, 1, 1)


def test_tpu_group_replicas_are_slices_fixed_unless_bounds_are_given() -> None:
    group = tpu_worker_group(v4(replicas=2))
    assert (group.replicas, group.min_replicas, group.max_replicas, group.autoscaled) == (2, 2, 2, False)
    scaling = tpu_worker_group(v4(min_replicas=0, max_replicas=3))
    assert (scaling.replicas, scaling.min_replicas, scaling.max_replicas, scaling.autoscaled) == (1, 0, 3, True)


def test_more_slices_than_max_replicas_are_refused() -> None:
    with pytest.raises(ArgError) as error:
        tpu_worker_group(v4(replicas=3, max_replicas=2))
    assert str(error.value) == "replicas: 3 is more than the maximum replica count, 2; allowed: 0 to 2"


def test_replicas_below_min_replicas_are_refused() -> None:
    with pytest.raises(ArgError) as error:
        cpu_worker_group({"group_name": "cpu", "replicas": 0, "min_replicas": 1, "max_replicas": 2})
    assert str(error.value) == "replicas: 0 is not allowed; allowed: 1 to 2 (the minimum to the maximum replica count)"


def test_min_replicas_above_max_replicas_is_refused() -> None:
    with pytest.raises(ArgError) as error:
        cpu_worker_group({"group_name": "cpu", "min_replicas": 3, "max_replicas": 2})
    assert str(error.value) == "min_replicas: 3 is more than the maximum replica count, 2; allowed: 0 to 2"


def test_gpu_group_scales_from_zero_with_gpu_limits_selector_and_toleration() -> None:
    group = gpu_worker_group(
        {
            "group_name": "gpu",
            "accelerator_type": GpuAcceleratorType.NVIDIA_L4,
            "machine_type": "g2-standard-8",
            "max_replicas": 4,
        }
    )
    spec = worker_group_spec(group, POD)
    assert (spec["replicas"], spec["minReplicas"], spec["maxReplicas"]) == (0, 0, 4)
    pod = spec["template"]["spec"]
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    (container,) = pod["containers"]
    assert container["resources"]["limits"] == {"memory": "16Gi", "nvidia.com/gpu": "1"}
    assert container["resources"]["requests"] == {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}
    # A pod with GPUs keeps NVIDIA_VISIBLE_DEVICES as the device plugin sets it.
    assert container["env"] == []


def test_gpu_group_cannot_ask_for_more_gpus_than_its_machine_has() -> None:
    with pytest.raises(ArgError) as error:
        gpu_worker_group(
            {
                "group_name": "gpu",
                "accelerator_type": GpuAcceleratorType.NVIDIA_L4,
                "machine_type": "g2-standard-24",
                "gpus": 4,
            }
        )
    assert str(error.value) == "gpus: 4 is more than the 2 GPUs of g2-standard-24; allowed: 1 to 2"


def test_gpu_machine_must_carry_the_gpu_type() -> None:
    with pytest.raises(ArgError) as error:
        gpu_worker_group(
            {"group_name": "gpu", "accelerator_type": GpuAcceleratorType.NVIDIA_L4, "machine_type": "a2-highgpu-1g"}
        )
    assert error.value.path == ("machine_type",)
    assert error.value.reason.startswith("machine type 'a2-highgpu-1g' does not carry nvidia-l4 GPUs; allowed: ")


def test_pods_without_gpus_hide_the_nodes_gpus() -> None:
    head = head_group_spec(check_head({}), POD, autoscaling=False)
    cpu = worker_group_spec(cpu_worker_group({"group_name": "cpu"}), POD)
    tpu = worker_group_spec(tpu_worker_group(v4()), POD)
    for spec in (head, cpu, tpu):
        (container,) = spec["template"]["spec"]["containers"]
        assert {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"} in container["env"]


def test_head_service_is_cluster_ip_with_the_ports_kuberay_looks_up() -> None:
    head = head_group_spec(check_head({"cpu": "4", "memory": "16Gi"}), POD, autoscaling=False)
    assert head["serviceType"] == "ClusterIP"
    (container,) = head["template"]["spec"]["containers"]
    assert container["ports"] == [
        {"name": "gcs-server", "containerPort": 6379},
        {"name": "dashboard", "containerPort": 8265},
        {"name": "client", "containerPort": 10001},
        {"name": "serve", "containerPort": 8000},
    ]
    assert container["resources"] == {"requests": {"cpu": "4", "memory": "16Gi"}, "limits": {"memory": "16Gi"}}


def test_only_an_autoscaled_head_mounts_its_service_account_token() -> None:
    # The autoscaler runs beside Ray in the head pod and calls the Kubernetes API; nothing else does.
    assert head_group_spec(check_head({}), POD, autoscaling=True)["template"]["spec"]["automountServiceAccountToken"]
    assert not head_group_spec(check_head({}), POD, autoscaling=False)["template"]["spec"][
        "automountServiceAccountToken"
    ]
    worker = worker_group_spec(cpu_worker_group({"group_name": "cpu"}), POD)
    assert worker["template"]["spec"]["automountServiceAccountToken"] is False


def test_head_quantity_is_checked() -> None:
    with pytest.raises(ArgError) as error:
        check_head({"memory": "8 GB"})
    assert str(error.value) == (
        'memory: \'8 GB\' is not allowed; allowed: a Kubernetes quantity such as "4", "500m" or "16Gi"'
    )


def test_security_contexts_are_the_shared_restricted_ones() -> None:
    spec = worker_group_spec(cpu_worker_group({"group_name": "cpu"}), POD)["template"]["spec"]
    assert spec["securityContext"] == restricted_pod_security_context()
    assert spec["containers"][0]["securityContext"] == restricted_container_security_context()


def _cluster(**groups: Any) -> dict[str, Any]:
    workers = [(tpu_worker_group(v4()), POD)] if groups.get("tpu", True) else []
    if groups.get("gpu"):
        workers.append(
            (
                gpu_worker_group(
                    {
                        "group_name": "gpu",
                        "accelerator_type": GpuAcceleratorType.NVIDIA_L4,
                        "machine_type": "g2-standard-8",
                    }
                ),
                POD,
            )
        )
    return ray_cluster_spec(
        ray_version="2.60.0",
        head=check_head({}),
        head_pod=POD,
        groups=workers,
        auth=groups.get("auth", RayAuth(RayAuthMode.TOKEN)),
    )


def test_fixed_groups_run_without_the_autoscaler() -> None:
    spec = _cluster()
    assert spec["enableInTreeAutoscaling"] is False
    assert "autoscalerOptions" not in spec


def test_a_group_that_scales_turns_on_in_tree_autoscaling_with_a_restricted_autoscaler() -> None:
    spec = _cluster(gpu=True)
    assert spec["enableInTreeAutoscaling"] is True
    assert spec["autoscalerOptions"] == {
        "idleTimeoutSeconds": 300,
        "upscalingMode": "Default",
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "512Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }


def test_auth_block_is_token_or_disabled() -> None:
    assert _cluster()["authOptions"] == {"mode": "token"}
    assert _cluster(auth=RayAuth(RayAuthMode.DISABLED))["authOptions"] == {"mode": "disabled"}


TOKEN_ENV = [
    {"name": "RAY_AUTH_MODE", "value": "token"},
    {"name": "RAY_AUTH_TOKEN", "valueFrom": {"secretKeyRef": {"name": "sd-ray-auth", "key": "auth_token"}}},
]


def _ray_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    templates = [spec["headGroupSpec"]["template"], *(group["template"] for group in spec["workerGroupSpecs"])]
    return [container for template in templates for container in template["spec"]["containers"]]


def test_a_token_from_the_callers_secret_reaches_every_ray_container_without_auth_options() -> None:
    # Ray's KubeRay auth guide for operators older than v1.5.1: the env on every Ray container, no authOptions.
    spec = _cluster(gpu=True, auth=RayAuth(RayAuthMode.TOKEN, token_secret="sd-ray-auth"))
    assert "authOptions" not in spec
    containers = _ray_containers(spec)
    assert len(containers) == 3  # the head, the TPU worker and the GPU worker
    assert all(container["env"][-2:] == TOKEN_ENV for container in containers)
    # The autoscaler KubeRay adds beside the head talks to Ray too.
    assert spec["autoscalerOptions"]["env"] == TOKEN_ENV
    validate_custom_resource({"apiVersion": "ray.io/v1", "kind": "RayCluster", "spec": spec})


def test_an_operator_that_reads_the_secret_is_told_its_name() -> None:
    auth = RayAuth(RayAuthMode.TOKEN, token_secret="sd-ray-auth", operator_reads_secret=True)
    spec = _cluster(auth=auth)
    assert spec["authOptions"] == {"mode": "token", "secretName": "sd-ray-auth"}
    assert all(container["env"][-2:] == TOKEN_ENV for container in _ray_containers(spec))


def test_with_auth_disabled_no_token_reaches_the_containers() -> None:
    spec = _cluster(auth=RayAuth(RayAuthMode.DISABLED, token_secret="sd-ray-auth"))
    assert spec["authOptions"] == {"mode": "disabled"}
    assert not [e for c in _ray_containers(spec) for e in c["env"] if e["name"].startswith("RAY_AUTH")]


@pytest.mark.parametrize("gpu", [False, True], ids=["tpu", "tpu-and-gpu"])
def test_the_same_spec_is_a_valid_ray_cluster_and_ray_service_cluster_config(gpu: bool) -> None:
    spec = _cluster(gpu=gpu)
    validate_custom_resource({"apiVersion": "ray.io/v1", "kind": "RayCluster", "spec": spec})
    validate_custom_resource(
        {
            "apiVersion": "ray.io/v1",
            "kind": "RayService",
            "spec": {"serveConfigV2": serve_config_v2(APPS), "rayClusterConfig": spec},
        }
    )


APPS: list[ServeApplicationArgs] = [
    {
        "name": "stable-diffusion",
        "import_path": "sd_serve.app:build_app",
        "args": {"model": "/data/weights/models/sd", "batch_sizes": [1, 2, 4, 8], "compile_cache_bucket": None},
        "env": {"JAX_PLATFORMS": "tpu"},
        "deployments": [
            {"name": "APIIngress", "num_replicas": 1},
            {"name": "StableDiffusion", "num_replicas": 2, "resources": {"TPU": 4}, "max_ongoing_requests": 8},
        ],
    }
]


def test_serve_config_is_generated_from_the_typed_applications() -> None:
    assert yaml.safe_load(serve_config_v2(APPS)) == {
        "http_options": {"host": "0.0.0.0", "port": 8000},
        "applications": [
            {
                "name": "stable-diffusion",
                "route_prefix": "/",
                "import_path": "sd_serve.app:build_app",
                "args": {"model": "/data/weights/models/sd", "batch_sizes": [1, 2, 4, 8], "compile_cache_bucket": None},
                "runtime_env": {"env_vars": {"JAX_PLATFORMS": "tpu"}},
                "deployments": [
                    {"name": "APIIngress", "num_replicas": 1},
                    {
                        "name": "StableDiffusion",
                        "num_replicas": 2,
                        "max_ongoing_requests": 8,
                        "ray_actor_options": {"resources": {"TPU": 4}},
                    },
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("applications", "message"),
    [
        ([], "applications: [] is not allowed; allowed: a non-empty list of applications"),
        (
            [{"name": "a", "import_path": "sd_serve/app.py"}],
            "applications[0].import_path: 'sd_serve/app.py' is not allowed; allowed: module:attribute, e.g. "
            "sd_serve.app:build_app",
        ),
        (
            [{"name": "a", "import_path": "m:x"}, {"name": "b", "import_path": "m:y"}],
            "applications[1].route_prefix: '/' is not allowed; allowed: a unique path starting with '/'",
        ),
        (
            [{"name": "a", "import_path": "m:x", "args": {"when": object}}],
            "applications[0].args.when: <class 'object'> is not allowed; allowed: JSON values (strings, numbers, "
            "booleans, lists, maps)",
        ),
        (
            [{"name": "a", "import_path": "m:x", "deployments": [{"name": "D", "num_gpus": -1}]}],
            "applications[0].deployments[0].num_gpus: -1 is not allowed; allowed: a number >= 0",
        ),
        (
            [{"name": "a", "import_path": "m:x", "deployments": [{"name": "D"}, {"name": "D"}]}],
            "applications[0].deployments[1].name: 'D' is used twice; allowed: unique names",
        ),
    ],
    ids=["none", "file-path", "same-route", "not-json", "negative-gpus", "same-deployment"],
)
def test_bad_applications_are_refused(applications: Any, message: str) -> None:
    with pytest.raises(ArgError) as error:
        check_serve_applications(applications)
    assert str(error.value) == message


def test_ray_names_are_dns_1035_labels_of_at_most_47_characters() -> None:
    assert check_ray_name(("name",), "s" * 47) == "s" * 47
    with pytest.raises(ArgError) as error:
        check_ray_name(("name",), "s" * 48)
    assert str(error.value) == (
        "name: 'ssssssssssssssssssssssssssssssssssssssssssssssss' is not allowed; allowed: at most 47 characters "
        "starting with a letter (KubeRay derives its RayCluster and Service names from it)"
    )
    with pytest.raises(ArgError):
        check_ray_name(("name",), "1-sd")
