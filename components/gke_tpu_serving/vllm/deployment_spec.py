"""VllmDeploymentWithHpa's args and their checks (pure: the stack config runs them at load); the pod template built
from them is in pod_template.py."""

from dataclasses import dataclass
from enum import Enum
from typing import NotRequired, TypedDict

import pulumi

from gke_tpu_serving.catalog import ClusterMode, ModelArchitectureArgs, TpuGeneration, TpuSlice, tpu_slice_of_args
from gke_tpu_serving.errors import ArgError, require_enum, require_int
from gke_tpu_serving.k8s.accelerator_pods import (
    AUTOPILOT_EPHEMERAL_STORAGE,
    AcceleratorPodPlacement,
    check_capacity,
    check_cluster_mode,
    tpu_pod_placement,
)
from gke_tpu_serving.k8s.pods import (
    Exposure,
)
from gke_tpu_serving.names import check_bucket_name, check_dns_label, check_pinned_image
from gke_tpu_serving.vllm.kv_budget import KvCachePlan, check_model_fit
from gke_tpu_serving.vllm.server_limits import server_resources

PORT = 8000
WEIGHTS_MOUNT = "/data"
COMPILE_CACHE_DIR = "/var/cache/xla"
# vLLM's queue length as Managed Prometheus exports it to Cloud Monitoring; the adapter serves it to the HPA.
QUEUE_METRIC = "prometheus.googleapis.com|vllm:num_requests_waiting|gauge"
STARTUP_PROBE_PERIOD_SECONDS = 10
POD_START_ALLOWANCE_SECONDS = 15 * 60
"""What a replica may take before its startup probe's clock starts: scheduling onto a TPU host (the autoscaler adds
the host of a second replica) and pulling the server image. This project's budget, not a measured figure: raise it if
`pulumi up` times out while a pod is still Pending or ContainerCreating."""


class WeightsSource(Enum):
    """Where the server gets the weights."""

    STAGED = "staged"
    """Already in the bucket (put there by the weight-staging job): read-only mount, no Hugging Face token."""
    HUGGING_FACE = "hugging-face"
    """Downloaded from Hugging Face by vLLM into the bucket on first start: needs hf_token and a writable mount."""


class VllmDeploymentWithHpaArgs(TypedDict):
    """Arguments of VllmDeploymentWithHpa."""

    namespace: str
    """Namespace of every object (it must exist, e.g. WorkloadIdentity's)."""
    service_account_name: pulumi.Input[str]
    """Kubernetes ServiceAccount of the pods, with read access to the weights bucket (WorkloadIdentity)."""
    image: pulumi.Input[str]
    """The server image (workloads/llama, built on the pinned vllm/vllm-tpu image), pinned by tag or digest."""
    model: str
    """The model's Hugging Face id; it is also the first served model name (what responses and vLLM's metrics
    report), e.g. meta-llama/Llama-3.1-70B."""
    model_architecture: NotRequired[ModelArchitectureArgs]
    """Its layers, KV heads, head dim and parameters, to size it against HBM. Default: the catalog's, else none."""
    model_aliases: NotRequired[list[str]]
    """More names clients may put in requests' `model` field (vLLM's `--served-model-name` takes several), e.g. the
    name an existing client sends. Default: none."""
    weights_bucket: str
    """Bucket that holds the weights."""
    weights_path: NotRequired[str]
    """Folder of the weights inside the bucket (staged weights). Default: models/<model id>."""
    weights_source: NotRequired[WeightsSource]
    """staged (default) or hugging-face."""
    hf_token: NotRequired[pulumi.Input[str]]
    """Hugging Face token (a Pulumi secret); required for hugging-face, optional for staged weights."""
    compile_cache_bucket: NotRequired[str]
    """Bucket where the XLA compile cache is saved and seeded from (the pods need write access to it). The cache
    itself lives on local disk. Default: none (every new pod compiles from scratch)."""
    tpu_generation: TpuGeneration
    """TPU generation of the pool the server runs on."""
    tpu_machine_type: str
    """Its machine type, e.g. ct6e-standard-8t."""
    tpu_topology: str
    """Its single-host topology, e.g. 2x4."""
    pool_max_nodes: int
    """The TPU pool's maximum node count: every replica takes one host, so max_replicas cannot exceed it."""
    cluster_mode: NotRequired[ClusterMode]
    """The cluster's mode, standard (default) or autopilot. On Autopilot the pod's TPU selectors and request make
    GKE provision the host, tpu_spot, tpu_reservation and tpu_zone become node selectors, and the container asks
    for ephemeral storage for the compile cache."""
    tpu_spot: NotRequired[bool]
    """Autopilot: run on Spot TPU capacity. Standard ignores it (the node pool decides). Default: false."""
    tpu_reservation: NotRequired[str]
    """Autopilot: consume this specific reservation. Standard ignores it (the node pool consumes it). Default:
    none."""
    tpu_compute_class: NotRequired[str]
    """Autopilot: select this ComputeClass, which decides Spot and reservations (refused beside them). Default: none."""
    tpu_zone: NotRequired[str]
    """Autopilot: pin the pods to this zone. Standard ignores it (the node pool's zone applies). Default: a zone
    GKE chooses."""
    ephemeral_storage: NotRequired[str]
    """Ephemeral-storage request (and limit) of the server container, which keeps the XLA compile cache on local
    disk. Default: none on Standard (the node's boot disk), "50Gi" on Autopilot."""
    tensor_parallel_size: NotRequired[int]
    """Must equal the chips on the host. Default: the chips on the host."""
    max_model_len: NotRequired[int]
    """Context length in tokens. Default: 4096."""
    max_num_seqs: NotRequired[int]
    """Sequences batched together per step. Default: 256."""
    max_num_batched_tokens: NotRequired[int]
    """Tokens per engine step. Default: vLLM's."""
    min_replicas: NotRequired[int]
    """HPA lower bound. Default: 1."""
    max_replicas: NotRequired[int]
    """HPA upper bound (at most pool_max_nodes). Default: pool_max_nodes."""
    target_queue_length: NotRequired[int]
    """HPA target: average vllm:num_requests_waiting per pod. Default: 10 (the seed's)."""
    scale_down_stabilization_seconds: NotRequired[int]
    """How long load must stay low before a replica (and its TPU host) is removed. Default: 300."""
    startup_timeout_seconds: NotRequired[int]
    """How long the server may take to load weights and compile before it is restarted. Default: 1800 (the seed
    logged 203 s for decode compilation alone, and 140 GB of weights come through GCS FUSE first)."""
    exposure: NotRequired[Exposure]
    """cluster-ip (default), internal-load-balancer or public-load-balancer."""
    api_key: NotRequired[pulumi.Input[str]]
    """Require this key on every request (vLLM's --api-key), a Pulumi secret; required with a load balancer."""
    cpu: NotRequired[str]
    """CPU request of the server container. Default: a quarter of what the TPU host's allocatable CPU leaves beside a
    10% headroom for DaemonSets and the GCS FUSE sidecar (80 on ct6e-standard-8t); required on a machine type whose
    shape the catalog lacks. There is deliberately no CPU limit: CFS throttling would stall vLLM's host-side
    scheduling and tokenization while the TPU waits."""
    memory: NotRequired[str]
    """Memory request of the server container. Default: a quarter of the host's allocatable memory beside the same
    headroom (315Gi on ct6e-standard-8t); required on a machine type whose shape the catalog lacks."""
    memory_limit: NotRequired[str]
    """Memory limit of the server container (a leak then restarts the container instead of starving the TPU host's
    GCS FUSE sidecar and kubelet). Default: what the host's allocatable memory leaves beside the headroom and the
    RAM file cache (1063Gi on ct6e-standard-8t): loading the weights through the page cache counts against it.
    Default on a machine type the catalog lacks: the memory request."""
    file_cache_size: NotRequired[str]
    """Size limit of the RAM-backed GCS FUSE file cache (it counts against the host's memory). Default: "200Gi"
    (70B bf16 weights are ~140 GB)."""


def _tpu(args: VllmDeploymentWithHpaArgs) -> TpuSlice:
    shape = tpu_slice_of_args(args)
    if shape.multi_host:
        raise ArgError(
            ("tpu_topology",),
            f"{shape.topology} on {shape.machine_type} spans {shape.hosts} hosts; allowed: a single-host topology "
            "(vLLM on TPU serves from one host)",
        )
    return shape


def _positive(args: VllmDeploymentWithHpaArgs, key: str, default: int | None) -> int | None:
    value = args.get(key, default)
    return None if value is None else require_int((key,), value, minimum=1)


@dataclass(frozen=True)
class VllmSettings:
    """The args with every default resolved."""

    shape: TpuSlice
    placement: AcceleratorPodPlacement
    ephemeral_storage: str | None
    source: WeightsSource
    exposure: Exposure
    min_replicas: int
    max_replicas: int
    max_model_len: int
    max_num_seqs: int
    max_num_batched_tokens: int | None
    target_queue_length: int
    scale_down_seconds: int
    startup_timeout_seconds: int
    cpu: str
    memory: str
    memory_limit: str
    file_cache_size: str
    kv_cache: KvCachePlan | None

    @property
    def startup_probe_failure_threshold(self) -> int:
        """Failed startup probes allowed: all of startup_timeout_seconds, rounded up to whole probe periods."""
        return -(-self.startup_timeout_seconds // STARTUP_PROBE_PERIOD_SECONDS)

    @property
    def replica_start_seconds(self) -> int:
        """The longest one replica may take from creation to ready: the allowance before its container starts, then
        the startup probe's whole budget (the kubelet restarts the container after that)."""
        return POD_START_ALLOWANCE_SECONDS + self.startup_probe_failure_threshold * STARTUP_PROBE_PERIOD_SECONDS

    @property
    def await_create_minutes(self) -> int:
        """How long `pulumi up` waits for a new Deployment to be ready (pulumi-kubernetes' default is 10 minutes):
        its first replicas start side by side, so one replica's start."""
        return -(-self.replica_start_seconds // 60)

    @property
    def await_update_minutes(self) -> int:
        """How long `pulumi up` waits for a changed Deployment to roll out: with maxSurge 0 and maxUnavailable 1 the
        replicas restart one after another, up to max_replicas of them (the HPA may have scaled out)."""
        return self.max_replicas * self.await_create_minutes


def _check_model_aliases(args: VllmDeploymentWithHpaArgs) -> None:
    aliases = args.get("model_aliases", [])
    if not isinstance(aliases, list):
        raise ArgError(("model_aliases",), f"{aliases!r} is not allowed; allowed: a list of model names")
    for index, alias in enumerate(aliases):
        if not isinstance(alias, str) or not alias or any(c.isspace() for c in alias) or alias == args.get("model"):
            raise ArgError(
                ("model_aliases", index),
                f"{alias!r} is not allowed; allowed: a name without spaces, other than the model itself",
            )


def check_vllm_args(args: VllmDeploymentWithHpaArgs) -> VllmSettings:
    """Check the args (pure: the stack config calls it at load); returns them with defaults resolved. Raises
    ArgError."""
    check_dns_label(args.get("namespace"), at=("namespace",))
    check_pinned_image(args.get("image"), at=("image",))
    for key in ("weights_bucket", "compile_cache_bucket"):
        if key in args or key == "weights_bucket":
            check_bucket_name(args.get(key), at=(key,))
    _check_model_aliases(args)
    shape = _tpu(args)
    tensor_parallel = _positive(args, "tensor_parallel_size", shape.chips)
    if tensor_parallel != shape.chips:
        raise ArgError(
            ("tensor_parallel_size",),
            f"{tensor_parallel} does not match the {shape.chips} chips of {shape.machine_type}; allowed: {shape.chips}",
        )
    pool_max = _positive(args, "pool_max_nodes", None)
    if pool_max is None:
        raise ArgError(("pool_max_nodes",), "missing; required: the TPU pool's maximum node count")
    min_replicas = _positive(args, "min_replicas", 1)
    max_replicas = _positive(args, "max_replicas", pool_max)
    assert min_replicas is not None and max_replicas is not None
    if min_replicas > max_replicas:
        raise ArgError(
            ("min_replicas",),
            f"{min_replicas} is more than the maximum replica count, {max_replicas}; allowed: 1 to {max_replicas}",
        )
    if max_replicas > pool_max:
        raise ArgError(
            ("max_replicas",),
            f"{max_replicas} is more than the TPU pool's maximum of {pool_max} nodes (each replica takes one "
            f"{shape.machine_type} host); allowed: 1 to {pool_max}",
        )
    source = require_enum(("weights_source",), args.get("weights_source", WeightsSource.STAGED), WeightsSource)
    exposure = require_enum(("exposure",), args.get("exposure", Exposure.CLUSTER_IP), Exposure)
    if exposure is not Exposure.CLUSTER_IP and args.get("api_key") is None:
        reason = "vLLM would answer whoever reaches the load balancer; allowed: cluster-ip, or set api_key (--api-key)"
        raise ArgError(("exposure",), f"{exposure.value}, but api_key is not set: {reason}")
    mode = check_cluster_mode(args)
    capacity = check_capacity(
        args, spot="tpu_spot", reservation="tpu_reservation", zone="tpu_zone", compute_class="tpu_compute_class"
    )
    autopilot = mode is ClusterMode.AUTOPILOT
    if source is WeightsSource.HUGGING_FACE and args.get("hf_token") is None:
        raise ArgError(("hf_token",), "missing; required with weights_source hugging-face (the download needs it)")
    max_model_len = _positive(args, "max_model_len", 4096) or 4096
    max_num_seqs = _positive(args, "max_num_seqs", 256) or 256
    max_num_batched_tokens = _positive(args, "max_num_batched_tokens", None)
    target_queue_length = _positive(args, "target_queue_length", 10) or 10
    resources = server_resources(args, shape)
    return VllmSettings(
        shape=shape,
        placement=tpu_pod_placement(shape, mode, **capacity),
        ephemeral_storage=args.get("ephemeral_storage", AUTOPILOT_EPHEMERAL_STORAGE if autopilot else None),
        source=source,
        exposure=exposure,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        max_model_len=max_model_len,
        max_num_seqs=max_num_seqs,
        max_num_batched_tokens=max_num_batched_tokens,
        target_queue_length=target_queue_length,
        scale_down_seconds=_positive(args, "scale_down_stabilization_seconds", 300) or 300,
        startup_timeout_seconds=_positive(args, "startup_timeout_seconds", 1800) or 1800,
        kv_cache=check_model_fit(args, shape, max_model_len, max_num_seqs, max_num_batched_tokens, target_queue_length),
        **resources,
    )
