"""VllmDeploymentWithHpa and CustomMetricsAdapter under Pulumi mocks: server arguments, probes, volumes,
annotations, Service, PodMonitoring, HPA and the adapter's grant; every object validated against real schemas."""

import re
from typing import Any

import pulumi
import pytest
from helpers import VLLM_BASE_ARGS, VLLM_IMAGE, allowed, args_factory, assert_refused_before_any_child
from manifest_validation import validate_manifest

from gke_tpu_serving import (
    ClusterMode,
    CustomMetricsAdapter,
    Exposure,
    VllmDeploymentWithHpa,
    WeightsSource,
)
from gke_tpu_serving.catalog import TpuGeneration
from gke_tpu_serving.offline import kubernetes_manifests

COMPONENT = "gke-tpu-serving:index:VllmDeploymentWithHpa"
IMAGE = VLLM_IMAGE
BASE_ARGS = VLLM_BASE_ARGS
args = args_factory(BASE_ARGS)


def _manifests(result: Any) -> dict[str, dict[str, Any]]:
    return {m["kind"]: m for m in kubernetes_manifests(result)}


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_server_arguments_come_from_typed_config_and_the_catalog(pulumi_mocks: Any) -> None:
    VllmDeploymentWithHpa("vllm-llama", args(max_num_batched_tokens=512))
    pod = _manifests(pulumi_mocks.settle())["Deployment"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert _env(container) == {
        "MODEL": "/data/models/meta-llama/Llama-3.1-70B-Instruct",
        "SERVED_MODEL_NAME": "meta-llama/Llama-3.1-70B-Instruct",
        "TENSOR_PARALLEL_SIZE": "8",
        "MAX_MODEL_LEN": "4096",
        "MAX_NUM_SEQS": "256",
        "MAX_NUM_BATCHED_TOKENS": "512",
        "PORT": "8000",
        "COMPILE_CACHE_DIR": "/var/cache/xla",
        "COMPILE_CACHE_BUCKET": "demo-llama-xla-cache",
        "COMPILE_CACHE_PREFIX": "xla-cache/vllm-llama/ct6e-standard-8t-tp8-len4096",
    }
    assert container["image"] == IMAGE
    assert pod["spec"]["nodeSelector"] == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v6e-slice",
        "cloud.google.com/gke-tpu-topology": "2x4",
    }
    # Derived from a ct6e-standard-8t node (360 vCPUs, 1440 GiB; GKE leaves 359.03 CPU and 1438046Mi): a quarter of
    # nine tenths as requests, and the limit is what the 200Gi RAM file cache leaves of those nine tenths.
    assert container["resources"]["limits"] == {"memory": "1063Gi", "google.com/tpu": "8"}
    assert container["resources"]["requests"] == {"cpu": "80", "memory": "315Gi", "google.com/tpu": "8"}
    assert pod["spec"]["serviceAccountName"] == "vllm"


def test_requests_that_fit_a_small_host_render(pulumi_mocks: Any) -> None:
    VllmDeploymentWithHpa(
        "vllm-llama",
        args(
            # A model small enough for one 16 GB chip (70B is refused there: test_kv_budget.py).
            model="example/small-model",
            model_architecture={"layers": 16, "kv_heads": 8, "head_dim": 64, "parameters": 1.2e9},
            tpu_generation=TpuGeneration.V5E,
            tpu_machine_type="ct5lp-hightpu-1t",
            tpu_topology="1x1",
            file_cache_size="20Gi",
            memory="8Gi",
        ),
    )
    pod = _manifests(pulumi_mocks.settle())["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    # 24 vCPUs and 48 GiB: GKE leaves 23.87 CPU and 44423Mi; the limit is what nine tenths leave beside the cache.
    assert container["resources"]["requests"] == {"cpu": "5", "memory": "8Gi", "google.com/tpu": "1"}
    assert container["resources"]["limits"] == {"memory": "19Gi", "google.com/tpu": "1"}


def test_memory_is_limited_and_cpu_is_not(pulumi_mocks: Any) -> None:
    VllmDeploymentWithHpa("vllm-llama", args(memory="300Gi", memory_limit="400Gi"))
    (container,) = _manifests(pulumi_mocks.settle())["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"] == {"memory": "400Gi", "google.com/tpu": "8"}
    assert container["resources"]["requests"]["memory"] == "300Gi"


def test_pod_runs_unprivileged_without_capabilities_or_a_token(pulumi_mocks: Any) -> None:
    VllmDeploymentWithHpa("vllm-llama", args())
    pod = _manifests(pulumi_mocks.settle())["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def test_probes_allow_for_weight_loading_and_compilation(pulumi_mocks: Any) -> None:
    VllmDeploymentWithHpa("vllm-llama", args())
    (container,) = _manifests(pulumi_mocks.settle())["Deployment"]["spec"]["template"]["spec"]["containers"]
    health = {"path": "/health", "port": "http"}
    assert container["startupProbe"] == {"httpGet": health, "periodSeconds": 10, "failureThreshold": 180}
    assert container["readinessProbe"] == {
        "httpGet": health,
        "periodSeconds": 5,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }
    assert container["livenessProbe"] == {
        "httpGet": health,
        "periodSeconds": 15,
        "timeoutSeconds": 5,
        "failureThreshold": 4,
    }


def test_weights_come_read_only_through_gcs_fuse_with_a_ram_cache(pulumi_mocks: Any) -> None:
    VllmDeploymentWithHpa("vllm-llama", args())
    pod = _manifests(pulumi_mocks.settle())["Deployment"]["spec"]["template"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["weights"]["csi"]["driver"] == "gcsfuse.csi.storage.gke.io"
    assert volumes["weights"]["csi"]["readOnly"] is True
    assert volumes["weights"]["csi"]["volumeAttributes"]["bucketName"] == "demo-llama-weights"
    assert "file-cache:enable-parallel-downloads:true" in volumes["weights"]["csi"]["volumeAttributes"]["mountOptions"]
    assert volumes["gke-gcsfuse-cache"] == {
        "name": "gke-gcsfuse-cache",
        "emptyDir": {"medium": "Memory", "sizeLimit": "200Gi"},
    }
    assert volumes["dshm"] == {"name": "dshm", "emptyDir": {"medium": "Memory"}}
    assert volumes["compile-cache"] == {"name": "compile-cache", "emptyDir": {}}
    assert pod["metadata"]["annotations"]["gke-gcsfuse/volumes"] == "true"
    (container,) = pod["spec"]["containers"]
    assert container["volumeMounts"] == [
        {"name": "weights", "mountPath": "/data", "readOnly": True},
        {"name": "dshm", "mountPath": "/dev/shm"},
        {"name": "compile-cache", "mountPath": "/var/cache/xla"},
    ]


def test_service_is_cluster_ip_on_8000_by_default(pulumi_mocks: Any) -> None:
    VllmDeploymentWithHpa("vllm-llama", args())
    service = _manifests(pulumi_mocks.settle())["Service"]
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}]
    assert "annotations" not in service["metadata"]


@pytest.mark.parametrize(
    ("exposure", "annotations"),
    [
        (Exposure.INTERNAL_LOAD_BALANCER, {"networking.gke.io/load-balancer-type": "Internal"}),
        (Exposure.PUBLIC_LOAD_BALANCER, {"gke-tpu-serving/public-exposure": "true"}),
    ],
)
def test_load_balancers_only_when_asked(pulumi_mocks: Any, exposure: Exposure, annotations: dict[str, str]) -> None:
    VllmDeploymentWithHpa("vllm-llama", args(exposure=exposure, api_key=pulumi.Output.secret("k" * 32)))
    manifests = _manifests(pulumi_mocks.settle())
    service = manifests["Service"]
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["metadata"]["annotations"] == annotations
    # Whatever reaches the load balancer needs the key: the server gets it from the Secret, by reference.
    (container,) = manifests["Deployment"]["spec"]["template"]["spec"]["containers"]
    key = next(e for e in container["env"] if e["name"] == "VLLM_API_KEY")
    assert key["valueFrom"] == {"secretKeyRef": {"name": "vllm-llama-secrets", "key": "VLLM_API_KEY"}}
    assert manifests["Secret"]["metadata"]["name"] == "vllm-llama-secrets"


@pytest.mark.parametrize("exposure", [Exposure.INTERNAL_LOAD_BALANCER, Exposure.PUBLIC_LOAD_BALANCER])
def test_a_load_balancer_without_an_api_key_is_refused(pulumi_mocks: Any, exposure: Exposure) -> None:
    assert_refused_before_any_child(
        pulumi_mocks,
        VllmDeploymentWithHpa,
        "bad",
        args(exposure=exposure),
        f"exposure: {exposure.value}, but api_key is not set: vLLM would answer whoever reaches the load balancer; "
        "allowed: cluster-ip, or set api_key (--api-key)",
    )


def test_pod_monitoring_scrapes_metrics(pulumi_mocks: Any) -> None:
    VllmDeploymentWithHpa("vllm-llama", args())
    monitoring = _manifests(pulumi_mocks.settle())["PodMonitoring"]
    assert monitoring["apiVersion"] == "monitoring.googleapis.com/v1"
    assert monitoring["spec"] == {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "vllm-llama"}},
        "endpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}],
    }


def test_hpa_scales_on_the_queue_metric(pulumi_mocks: Any) -> None:
    VllmDeploymentWithHpa("vllm-llama", args(target_queue_length=5, scale_down_stabilization_seconds=600))
    hpa = _manifests(pulumi_mocks.settle())["HorizontalPodAutoscaler"]["spec"]
    assert hpa["minReplicas"] == 1 and hpa["maxReplicas"] == 2
    assert hpa["metrics"] == [
        {
            "type": "Pods",
            "pods": {
                "metric": {"name": "prometheus.googleapis.com|vllm:num_requests_waiting|gauge"},
                "target": {"type": "AverageValue", "averageValue": "5"},
            },
        }
    ]
    assert hpa["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 600
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm-llama"}


def test_secrets_reach_the_pod_only_through_a_kubernetes_secret(pulumi_mocks: Any) -> None:
    VllmDeploymentWithHpa("vllm-llama", args(hf_token="hf_abc", api_key="sk-123"))
    result = pulumi_mocks.settle()
    secret = result.one("kubernetes:core/v1:Secret", "vllm-llama-secrets").inputs
    assert secret["stringData"] == {"HF_TOKEN": "[secret]", "VLLM_API_KEY": "[secret]"}
    (container,) = _manifests(result)["Deployment"]["spec"]["template"]["spec"]["containers"]
    env = _env(container)
    assert env["HF_TOKEN"] == {"secretKeyRef": {"name": "vllm-llama-secrets", "key": "HF_TOKEN"}}
    assert env["VLLM_API_KEY"] == {"secretKeyRef": {"name": "vllm-llama-secrets", "key": "VLLM_API_KEY"}}
    assert "hf_abc" not in str(result.to_json()) and "sk-123" not in str(result.to_json())


def test_pdb_keeps_at_most_one_replica_down(pulumi_mocks: Any) -> None:
    VllmDeploymentWithHpa("vllm-llama", args())
    pdb = _manifests(pulumi_mocks.settle())["PodDisruptionBudget"]["spec"]
    assert pdb == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "vllm-llama"}},
        # A replica still loading or crash-looping never holds a node drain.
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }


def test_every_object_passes_schema_validation(pulumi_mocks: Any) -> None:
    VllmDeploymentWithHpa("vllm-llama", args(hf_token="t", api_key="k", exposure=Exposure.INTERNAL_LOAD_BALANCER))
    manifests = kubernetes_manifests(pulumi_mocks.settle())
    assert sorted(m["kind"] for m in manifests) == [
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "PodMonitoring",
        "Secret",
        "Service",
    ]
    for manifest in manifests:
        validate_manifest(manifest)


def test_adapter_is_pinned_and_granted_monitoring_viewer_through_workload_identity(pulumi_mocks: Any) -> None:
    CustomMetricsAdapter("metrics", {"project": "demo-project"})
    result = pulumi_mocks.settle()
    grant = result.one("gcp:projects/iAMMember:IAMMember", "metrics-monitoring-viewer").inputs
    assert grant == {
        "project": "demo-project",
        "role": "roles/monitoring.viewer",
        "member": "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/"
        "demo-project.svc.id.goog/subject/ns/custom-metrics/sa/custom-metrics-stackdriver-adapter",
    }
    manifest = result.one("kubernetes:yaml/v2:ConfigFile", "metrics-manifest").inputs["file"]
    assert re.fullmatch(
        r"https://raw\.githubusercontent\.com/GoogleCloudPlatform/k8s-stackdriver/[0-9a-f]{40}/"
        r"custom-metrics-stackdriver-adapter/deploy/production/adapter_new_resource_model\.yaml",
        manifest,
    )


BAD_ARGS = [
    (
        {"tensor_parallel_size": 4},
        "tensor_parallel_size: 4 does not match the 8 chips of ct6e-standard-8t; allowed: 8",
    ),
    (
        {"max_replicas": 3},
        "max_replicas: 3 is more than the TPU pool's maximum of 2 nodes (each replica takes one ct6e-standard-8t host); allowed: 1 to 2",
    ),
    (
        {"min_replicas": 2, "max_replicas": 1},
        "min_replicas: 2 is more than the maximum replica count, 1; allowed: 1 to 1",
    ),
    (
        {"image": "vllm/vllm-tpu:latest"},
        "image: image 'vllm/vllm-tpu:latest' is not pinned; allowed: a tag other than 'latest' (REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST)",
    ),
    (
        {"image": "us-docker.pkg.dev/p/r/llama"},
        "image: image 'us-docker.pkg.dev/p/r/llama' is not pinned; allowed: a tag other than 'latest' (REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST)",
    ),
    (
        {"tpu_machine_type": "ct6e-standard-4t", "tpu_topology": "4x4"},
        "tpu_topology: 4x4 on ct6e-standard-4t spans 4 hosts; allowed: a single-host topology (vLLM on TPU serves from one host)",
    ),
    (
        {"tpu_topology": "2x2"},
        "tpu_topology: topology '2x2' is not valid for TPU v6e on ct6e-standard-8t; allowed: 2x4 (single-host)",
    ),
    (
        # The catalog's complaint lands on the field it judges: an unknown generation is not the topology's fault.
        {"tpu_generation": "v7"},
        f"tpu_generation: unknown TPU generation 'v7'; allowed: {allowed(TpuGeneration)}",
    ),
    (
        {"tpu_machine_type": "ct5lp-hightpu-8t"},
        "tpu_machine_type: machine type 'ct5lp-hightpu-8t' is not a TPU v6e machine type; allowed: ct6e-standard-1t, "
        "ct6e-standard-4t, ct6e-standard-8t",
    ),
    (
        {"weights_source": "hugging-face"},
        f"weights_source: 'hugging-face' is not allowed; allowed: {allowed(WeightsSource)}",
    ),
    (
        {"max_model_len": 0},
        "max_model_len: 0 is not allowed; allowed: an integer >= 1",
    ),
    (
        {"max_model_len": 1000000000},
        "max_model_len: 1000000000 is more than meta-llama/Llama-3.1-70B-Instruct's context of 131072 tokens; "
        "allowed: 1 to 131072",
    ),
    (
        {"max_num_batched_tokens": 100},
        "max_num_batched_tokens: 100 is not allowed with max_num_seqs 256 and max_model_len 4096; allowed: 256 "
        "(max_num_seqs) to 1048576 (max_num_seqs x max_model_len)",
    ),
    (
        {"max_num_batched_tokens": 1000000000},
        "max_num_batched_tokens: 1000000000 is not allowed with max_num_seqs 256 and max_model_len 4096; allowed: 256 "
        "(max_num_seqs) to 1048576 (max_num_seqs x max_model_len)",
    ),
    (
        {"target_queue_length": 1000000000},
        "target_queue_length: 1000000000 is more than max_num_seqs 256; allowed: 1 to 256 (a waiting queue longer "
        "than one batch means the HPA scales too late)",
    ),
    (
        # The default 200Gi RAM file cache is sized for 70B weights; a one-chip v5e host has 48 GiB.
        {
            "tpu_generation": TpuGeneration.V5E,
            "tpu_machine_type": "ct5lp-hightpu-1t",
            "tpu_topology": "1x1",
            "tensor_parallel_size": 1,
        },
        "file_cache_size: 200Gi (RAM-backed, counted as memory) leaves no memory for the server: a ct5lp-hightpu-1t "
        "node leaves 23870m CPU and 44423Mi memory allocatable; allowed: less than 44423Mi",
    ),
    (
        {"cpu": "400"},
        "cpu: 400 CPU does not fit: a ct6e-standard-8t node leaves 359030m CPU and 1438046Mi memory allocatable; "
        "allowed: at most 359030m",
    ),
    (
        {"memory": "1500Gi"},
        "memory: 1500Gi of memory beside 200Gi of RAM-backed volumes does not fit: a ct6e-standard-8t node leaves "
        "359030m CPU and 1438046Mi memory allocatable; allowed: at most 1233246Mi",
    ),
    (
        {"memory_limit": "1300Gi"},
        "memory_limit: 1300Gi of memory beside 200Gi of RAM-backed volumes does not fit: a ct6e-standard-8t node "
        "leaves 359030m CPU and 1438046Mi memory allocatable; allowed: at most 1233246Mi",
    ),
    (
        {"memory": "500Gi", "memory_limit": "400Gi"},
        "memory: 500Gi is more than memory_limit 400Gi; allowed: at most the limit",
    ),
    (
        # No sourced shape for the v4 VM: nothing to derive requests from, so they must be given.
        {"tpu_generation": TpuGeneration.V4, "tpu_machine_type": "ct4p-hightpu-4t", "tpu_topology": "2x2x1"},
        "cpu: missing; required on ct4p-hightpu-4t, whose vCPUs and memory the catalog does not have (no default can "
        "be derived); allowed: a Kubernetes quantity that fits the host",
    ),
    (
        {"namespace": "Llama"},
        "namespace: 'Llama' is not a valid DNS-1123 label; allowed: 1-63 characters of lowercase letters, digits and '-', starting and ending with a letter or digit",
    ),
    (
        {"cluster_mode": "autopilot"},
        f"cluster_mode: 'autopilot' is not allowed; allowed: {allowed(ClusterMode)}",
    ),
    (
        {"tpu_zone": "us-central1"},
        "tpu_zone: 'us-central1' is not a GCP zone; allowed: e.g. 'us-central1-b'",
    ),
]


@pytest.mark.parametrize(("extra", "reason"), BAD_ARGS)
def test_bad_args_raise_before_any_child(pulumi_mocks: Any, extra: dict[str, Any], reason: str) -> None:
    assert_refused_before_any_child(pulumi_mocks, VllmDeploymentWithHpa, "bad", args(**extra), reason)


def test_hugging_face_download_needs_a_token(pulumi_mocks: Any) -> None:
    with pytest.raises(
        ValueError,
        match=re.escape(
            "VllmDeploymentWithHpa 'bad': hf_token: missing; required with weights_source hugging-face (the download needs it)"
        ),
    ):
        VllmDeploymentWithHpa("bad", args(weights_source=WeightsSource.HUGGING_FACE))


@pytest.mark.parametrize("mode", list(ClusterMode))
def test_spot_beside_a_reservation_is_refused(pulumi_mocks: Any, mode: ClusterMode) -> None:
    assert_refused_before_any_child(
        pulumi_mocks,
        VllmDeploymentWithHpa,
        "bad",
        args(cluster_mode=mode, tpu_spot=True, tpu_reservation="v6e-res"),
        "tpu_reservation: 'v6e-res', but tpu_spot is also true: Compute Engine cannot create Spot VMs from a "
        "reservation; allowed: one of them",
    )


def test_autopilot_pod_selects_spot_and_zone_and_asks_for_local_disk(pulumi_mocks: Any) -> None:
    VllmDeploymentWithHpa(
        "vllm-llama", args(cluster_mode=ClusterMode.AUTOPILOT, tpu_spot=True, tpu_zone="us-central1-b")
    )
    pod = _manifests(pulumi_mocks.settle())["Deployment"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v6e-slice",
        "cloud.google.com/gke-tpu-topology": "2x4",
        "cloud.google.com/gke-spot": "true",
        "topology.kubernetes.io/zone": "us-central1-b",
    }
    assert pod["tolerations"] == [
        {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    (container,) = pod["containers"]
    assert container["resources"]["requests"] == {
        "cpu": "80",
        "memory": "315Gi",
        "ephemeral-storage": "50Gi",
        "google.com/tpu": "8",
    }
    assert container["resources"]["limits"] == {"memory": "1063Gi", "ephemeral-storage": "50Gi", "google.com/tpu": "8"}


@pytest.mark.parametrize("capacity", [{"tpu_spot": True}, {"tpu_reservation": "v6e-res"}], ids=["spot", "reservation"])
def test_standard_pod_leaves_spot_reservation_and_zone_to_the_node_pool(
    pulumi_mocks: Any, capacity: dict[str, Any]
) -> None:
    VllmDeploymentWithHpa("vllm-llama", args(**capacity, tpu_zone="us-central1-b"))
    pod = _manifests(pulumi_mocks.settle())["Deployment"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v6e-slice",
        "cloud.google.com/gke-tpu-topology": "2x4",
    }
    assert "tolerations" not in pod
    assert "ephemeral-storage" not in pod["containers"][0]["resources"]["requests"]


def test_ephemeral_storage_can_be_sized_in_either_mode(pulumi_mocks: Any) -> None:
    VllmDeploymentWithHpa("vllm-llama", args(ephemeral_storage="80Gi"))
    (container,) = _manifests(pulumi_mocks.settle())["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["requests"]["ephemeral-storage"] == "80Gi"
    assert container["resources"]["limits"]["ephemeral-storage"] == "80Gi"


def test_autopilot_objects_pass_schema_validation(pulumi_mocks: Any) -> None:
    VllmDeploymentWithHpa("vllm-llama", args(cluster_mode=ClusterMode.AUTOPILOT, tpu_spot=True))
    manifests = kubernetes_manifests(pulumi_mocks.settle())
    assert len(manifests) == 5
    for manifest in manifests:
        validate_manifest(manifest)
