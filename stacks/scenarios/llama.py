"""Llama 3.1 70B on TPU v6e through vLLM, weights from GCS FUSE, an HPA on vLLM metrics.

The namespace and the `vllm` Kubernetes ServiceAccount with direct Workload Identity Federation (the seed's setup),
the weights bucket it reads, a compile-cache bucket it writes, the Custom Metrics Stackdriver Adapter, and the vLLM
server with its Service, PodMonitoring and HPA.
"""

from typing import Any, NotRequired, cast

import pulumi

from gke_tpu_serving import (
    BucketAccess,
    Exposure,
    IngressAllowArgs,
    VllmDeploymentWithHpa,
    VllmDeploymentWithHpaArgs,
    WorkloadIdentityMode,
)
from gke_tpu_serving.catalog import ModelArchitectureArgs
from gke_tpu_serving.cluster.control_plane import credentials_command
from gke_tpu_serving.errors import ArgError
from gke_tpu_serving.k8s.ingress import MANAGED_PROMETHEUS_NAMESPACE
from gke_tpu_serving.tenancy.quota import Resources
from gke_tpu_serving.vllm.deployment_spec import PORT
from gke_tpu_serving.vllm.vllm_deployment_with_hpa import check_vllm_args

from ..images import LLAMA
from ..ingress import deploy_ingress_policy
from ..model import DeployContext, Placement, Scenario, StackInfo, StorageScenarioConfig, StorageSpec, config_error
from ..placement import autopilot_args, check_image, deployed_image, placement_outputs, tpu_capacity_args
from ..storage import (
    bucket_name,
    cache_bucket_name,
    check_storage,
    deploy_bucket,
    deploy_cache_bucket,
    deploy_identity,
    deploy_stager,
    deploy_weight_staging,
    grant_for,
    stager_grant,
    storage_outputs,
)
from ..typed import passed_through

STORAGE = StorageSpec(
    default_namespace="llama",
    service_account="vllm",
    mode=WorkloadIdentityMode.FEDERATED,
    access=BucketAccess.READ,  # serving pods only load weights; the staging job writes them
    bucket_role="weights",
)
DEFAULT_MODEL = "meta-llama/Llama-3.1-70B"
"""The model of GKE's "Serve an LLM using TPU Trillium on GKE with vLLM" tutorial, whose curl and load.sh send this
name (GoogleCloudPlatform/kubernetes-engine-samples ai-ml/vllm-tpu/vllm-llama3-70b.yaml, `--model=` with no
`--served-model-name`, commit 64dcc999a5b2a04f899f87ddeb65099f888076d7, checked 2026-12-02)."""
SERVER_NAME = "vllm-llama"
"""The Deployment, Service and HPA of the unnamed instance; a named instance appends `-<name>`."""


class Config(StorageScenarioConfig):
    """gke-tpu-serving:llama: the cluster and single-host TPU pool, the namespace, the buckets and the server."""

    image: NotRequired[str]
    """A prebuilt server image (workloads/llama, e.g. the reference images.yml prints), pinned by digest or tag.
    Default: `pulumi up` builds workloads/llama and pushes it to the stack's repository."""
    model: NotRequired[str]
    """Hugging Face id of the model, and the first name it is served under. Default: meta-llama/Llama-3.1-70B (the
    tutorial's)."""
    model_architecture: NotRequired[ModelArchitectureArgs]
    """For a model the catalog lacks: `{layers, kvHeads, headDim, parameters}` (and optionally attentionHeads,
    contextLength, weightsDtype, kvCacheDtype) from its config.json, to size its weights and KV cache against the
    pool's HBM. Default: the catalog's (Llama 3.1); without either the preview warns that it cannot size the model."""
    model_aliases: NotRequired[list[str]]
    """More names requests may use for the model (vLLM's --served-model-name takes several). Default: none."""
    cache_bucket: NotRequired[str]
    """Bucket for the XLA compile cache. Default: `<gcp:project>-<stack>-llama[-<name>]-xla-cache`."""
    max_model_len: NotRequired[int]
    """vLLM --max-model-len. Default: 4096."""
    max_num_seqs: NotRequired[int]
    """vLLM --max-num-seqs. Default: 256."""
    max_num_batched_tokens: NotRequired[int]
    """vLLM --max-num-batched-tokens. Default: vLLM's."""
    min_replicas: NotRequired[int]
    """HPA lower bound. Default: 1."""
    max_replicas: NotRequired[int]
    """HPA upper bound. Default: the pool's maximum node count."""
    target_queue_length: NotRequired[int]
    """HPA target, average vllm:num_requests_waiting per pod. Default: 10."""
    exposure: NotRequired[Exposure]
    """cluster-ip (default), internal-load-balancer or public-load-balancer; a load balancer needs the apiKey secret
    (every request then carries `Authorization: Bearer <key>`)."""
    cpu: NotRequired[str]
    """CPU request of the server. Default: derived from the pool's machine type (a quarter of what GKE leaves
    allocatable, less a tenth of headroom); required where the catalog has no shape for it."""
    memory: NotRequired[str]
    """Memory request of the server. Default: derived from the pool's machine type, as cpu."""
    memory_limit: NotRequired[str]
    """Memory limit of the server. Default: what the host's allocatable memory leaves beside the file cache."""
    file_cache_size: NotRequired[str]
    """Size of the RAM-backed GCS FUSE file cache (it counts against the host's memory). Default: 200Gi (70B
    weights)."""
    stage_weights: NotRequired[bool]
    """Copy `model` from Hugging Face into the bucket with a Job (needs the hfToken secret) before the server starts.
    Default: false (the weights are staged already)."""


# The server's own knobs that the config takes as they are (maxModelLen, ..., exposure): every key the two types
# share except those _server_args sets itself (image, model, and namespace with its default).
_PASSED_THROUGH = passed_through(Config, VllmDeploymentWithHpaArgs, set_by_scenario=("image", "model", "namespace"))

# Server args that have no config key of their own point at the key that decides them.
_CONFIG_KEY_OF_ARG = {
    "tpu_generation": "pool",
    "tpu_machine_type": "pool",
    "tpu_topology": "pool",
    "tensor_parallel_size": "pool",
    "pool_max_nodes": "pool",
    "tpu_spot": "pool",
    "tpu_reservation": "pool",
    "tpu_compute_class": "pool",
    "tpu_zone": "pool",
    "weights_bucket": "bucket",
    "compile_cache_bucket": "cache_bucket",
}


def _server_args(placement: Placement, stack: StackInfo, image: pulumi.Input[str]) -> VllmDeploymentWithHpaArgs:
    pool = placement.tpu_pools[0]
    shape = pool.tpu_slice
    settings = placement.settings
    # Assembled from config keys the Config type has already checked.
    args: dict[str, Any] = {
        "namespace": placement.namespace,
        "service_account_name": STORAGE.service_account,
        "image": image,
        "model": settings.get("model", DEFAULT_MODEL),
        "weights_bucket": bucket_name(placement, stack),
        "compile_cache_bucket": cache_bucket_name(placement, stack),
        "tpu_generation": shape.generation,
        "tpu_machine_type": shape.machine_type,
        "tpu_topology": shape.topology,
        "pool_max_nodes": pool.max_size,
    }
    args.update(autopilot_args(placement) | tpu_capacity_args(placement))
    for key in _PASSED_THROUGH:
        if key in settings:
            args[key] = settings[key]
    return cast(VllmDeploymentWithHpaArgs, args)


def check(placement: Placement, stack: StackInfo, secret_keys: frozenset[str]) -> None:
    """vLLM's tensor parallelism spans the chips of one host, and its weights come through GCS FUSE."""
    cluster = placement.cluster
    if not placement.tpu_pools or placement.tpu_pools[0].tpu_slice.multi_host:
        raise config_error(
            placement.at("pool"),
            f"{placement.pool!r} is not a single-host TPU pool; allowed: a tpuPools entry with a single-host "
            "topology (vLLM's tensor parallelism spans the chips of one host)",
        )
    if not cluster.plan.gcs_fuse_csi:
        raise config_error(
            ("clusters", cluster.index, "gcs_fuse_csi"),
            f"false, but llama reads its weights through GCS FUSE on cluster {cluster.name!r}; allowed: true",
        )
    check_storage(placement, stack, cache=True)
    if placement.settings.get("stage_weights") and "hfToken" not in secret_keys:
        raise config_error(
            placement.at("stage_weights"),
            "true, but the hfToken secret is not set; allowed: false, or set it with "
            "`pulumi config set --secret hfToken ...` (Llama's weights are gated)",
        )
    exposure = placement.settings.get("exposure", Exposure.CLUSTER_IP)
    if exposure is not Exposure.CLUSTER_IP and "apiKey" not in secret_keys:
        raise config_error(
            placement.at("exposure"),
            f"{exposure.value}, but the apiKey secret is not set: vLLM would answer whoever reaches the load "
            "balancer; allowed: cluster-ip, or set it with `pulumi config set --secret apiKey ...`",
        )
    args = _server_args(placement, stack, check_image(placement, "image", LLAMA))
    if "apiKey" in secret_keys:
        args["api_key"] = "checked-at-deploy"  # the secret's value reaches only the deployed server
    try:
        check_vllm_args(args)
    except ArgError as error:
        key = str(error.path[0])
        raise config_error(placement.at(_CONFIG_KEY_OF_ARG.get(key, key), *error.path[1:]), error.reason) from None


def demand(placement: Placement, stack: StackInfo) -> Resources:
    """Every replica the HPA may add takes a whole host's chips."""
    pool = placement.tpu_pools[0]
    replicas = int(placement.settings.get("max_replicas", pool.max_size))
    return Resources(tpu_chips=pool.tpu_slice.chips_per_vm * replicas)


def deploy(placement: Placement, context: DeployContext) -> dict[str, Any]:
    """Deploy the instance onto its cluster; returns its stack outputs."""
    stack, secrets = context.stack, context.secrets
    identity = deploy_identity(placement, context)
    # Managed Prometheus scrapes /metrics on the serving port (the PodMonitoring); the Custom Metrics Stackdriver
    # Adapter that feeds the HPA reads those metrics back from Cloud Monitoring (hence its roles/monitoring.viewer),
    # never from the pods, so its namespace gets no way in.
    monitoring: IngressAllowArgs = {
        "name": "monitoring",
        "ports": [PORT],
        "from_namespaces": [MANAGED_PROMETHEUS_NAMESPACE],
    }
    deploy_ingress_policy(placement, context, serving_port=PORT, allows=[monitoring], after=identity)
    grants = [grant_for(identity, placement)]
    # Its own ServiceAccount: only the staging Job may write the weights; the servers only read them.
    stager = deploy_stager(placement, context, identity) if placement.settings.get("stage_weights") else None
    if stager is not None:
        grants.append(stager_grant(stager))
    bucket = deploy_bucket(placement, stack, grants)
    deploy_cache_bucket(placement, stack, identity)
    args = _server_args(placement, stack, deployed_image(placement, context, "image", LLAMA))
    server_needs: list[pulumi.Resource] = [identity, bucket, context.addons.metrics_adapter()]
    if stager is not None:
        staging = deploy_weight_staging(
            placement,
            context,
            stager,
            bucket,
            {
                "image": args["image"],
                "hf_repo": args["model"],
                "hf_token": secrets["hfToken"],
                "path": f"models/{args['model']}",
            },
        )
        server_needs.append(staging)
    args["service_account_name"] = identity.service_account_name
    if "hfToken" in secrets and not placement.settings.get("stage_weights"):
        args["hf_token"] = secrets["hfToken"]
    if "apiKey" in secrets:
        args["api_key"] = secrets["apiKey"]
    server = VllmDeploymentWithHpa(
        placement.physical(SERVER_NAME),
        args,
        opts=pulumi.ResourceOptions(provider=context.cluster.kubernetes_provider, depends_on=server_needs),
    )
    return (
        placement_outputs(placement)
        | storage_outputs(identity, bucket)
        | {"url": server.url, "commands": commands(placement, stack, secret_keys=frozenset(secrets))}
    )


# The tutorial's request, with its own model name; only the host differs (a port-forward to localhost).
_COMPLETION_BODY = '{"model": "%s", "prompt": "San Francisco is a", "max_tokens": 100, "temperature": 0}'


def commands(placement: Placement, stack: StackInfo, secret_keys: frozenset[str]) -> dict[str, str]:
    """The follow-up commands of the tutorial, with this instance's names: credentials, port-forward, the curl to
    /v1/completions, the server's logs and the staging Job's."""
    namespace, server = placement.namespace, placement.physical(SERVER_NAME)
    model = placement.settings.get("model", DEFAULT_MODEL)
    auth = ' -H "Authorization: Bearer $VLLM_API_KEY"' if "apiKey" in secret_keys else ""
    cluster = placement.cluster
    result = {
        "credentials": credentials_command(cluster.name, cluster.plan.location),
        "portForward": f"kubectl -n {namespace} port-forward svc/{server} 8000:8000",
        "completion": (
            f"curl http://localhost:8000/v1/completions -H 'Content-Type: application/json'{auth} "
            f"-d '{_COMPLETION_BODY % model}'"
        ),
        "logs": f"kubectl -n {namespace} logs -f deployment/{server}",
        "hpa": f"kubectl -n {namespace} get hpa {server} --watch",
    }
    if placement.settings.get("stage_weights"):
        result["stagingLogs"] = f"kubectl -n {namespace} logs -f job/{placement.resource_prefix}-weights-staging"
    return result


SCENARIO = Scenario(key="llama", config_type=Config, storage=STORAGE, check=check, demand=demand, deploy=deploy)
