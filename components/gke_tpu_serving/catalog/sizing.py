"""The sizing planner: the smallest TPU slice whose HBM holds a model's weights with headroom, and, for vLLM, what its
KV cache holds beside the weights. Pure and stdlib-only.

Two estimates, each explained in one sentence that shows its arithmetic so a person can check it:
- `plan_tpu_slice`: weights (parameters x bytes per parameter) times a headroom factor that stands in for the KV cache,
  activations and runtime buffers; it answers "which slice is the first worth trying" for any server.
- `plan_kv_cache` and `recommend_vllm_slice`, for vLLM: the HBM vLLM may use (the slice's HBM x its
  gpu_memory_utilization) less the weights is the KV cache; divided by the KV bytes of one token it gives the tokens
  the cache holds, hence how many sequences of a length run at once.
HBM is counted in GB (10^9 bytes), the unit Google documents it in (v4's 32 GiB is shown as 34.4 GB).
"""

import math
from dataclasses import dataclass

from gke_tpu_serving.catalog.models import ModelArchitecture
from gke_tpu_serving.catalog.tpu import GB, TpuGeneration, TpuSlice, tpu_generation, tpu_slices
from gke_tpu_serving.errors import ArgError

__all__ = [
    "DEFAULT_HEADROOM",
    "GPU_MEMORY_UTILIZATION",
    "KvCachePlan",
    "SizingPlan",
    "format_gb",
    "plan_kv_cache",
    "plan_tpu_slice",
    "recommend_vllm_slice",
]

DEFAULT_HEADROOM = 1.2
"""Memory beyond the weights, as a factor: 20% covers the KV cache and activations of modest batches."""

GPU_MEMORY_UTILIZATION = 0.9
"""The share of HBM vLLM takes for weights, activations and KV cache: vLLM's `--gpu-memory-utilization` default
(`gpu_memory_utilization: float = Field(default=0.9, ...)`, vllm-project/vllm@c1d86421 vllm/config/cache.py, read
2026-12-07). Its TPU backend caps HBM at total x this share and gives the KV cache what the loaded model leaves of it
(`determine_available_memory`, vllm-project/tpu-inference@b8692ff0 tpu_inference/worker/tpu_worker.py, read
2026-12-07): the other 10% is the runtime reserve."""


def format_gb(size_bytes: float) -> str:
    """Bytes as GB the way the docs write them: ``32 GB``, ``141.1 GB``, ``1,024 GB``."""
    value = size_bytes / GB
    return f"{value:,.0f} GB" if value == round(value) else f"{value:,.1f} GB"


def _count(value: float) -> str:
    """A parameter count the way model cards write it: 175B, 70.55B, 350M."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= scale:
            return f"{round(value / scale, 2):g}{suffix}"
    return f"{value:g}"


def _plural(count: float, noun: str) -> str:
    return f"{count:g} {noun}" if count == 1 else f"{count:g} {noun}s"


def describe_slice(tpu_slice: TpuSlice) -> str:
    """``TPU v6e 2x4 on ct6e-standard-8t (8 chips x 32 GB = 256 GB, 1 host)``."""
    return (
        f"TPU {tpu_slice.generation.value} {tpu_slice.topology} on {tpu_slice.machine_type} "
        f"({_plural(tpu_slice.chips, 'chip')} x {format_gb(tpu_slice.hbm_bytes_per_chip)} = "
        f"{format_gb(tpu_slice.hbm_bytes)}, {_plural(tpu_slice.hosts, 'host')})"
    )


@dataclass(frozen=True)
class SizingPlan:
    """The slice the planner chose, the memory it had to hold, and why that slice."""

    tpu_slice: TpuSlice
    required_bytes: float
    """Weights x headroom, in bytes."""
    reason: str
    """One sentence showing the arithmetic and the choice."""

    def __post_init__(self) -> None:
        # A plan whose slice cannot hold the model is a planner bug, not a user error.
        if not self.required_bytes > 0:
            raise ArgError(
                ("required_bytes",), f"a sizing plan needs positive required_bytes; got {self.required_bytes}"
            )
        if self.tpu_slice.hbm_bytes < self.required_bytes:
            raise ArgError(
                ("tpu_slice",),
                f"a {self.tpu_slice.topology} slice ({format_gb(self.tpu_slice.hbm_bytes)}) does not hold "
                f"{format_gb(self.required_bytes)}",
            )


def _check_positive_finite(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ArgError((name,), f"{name} must be a positive finite number; got {value}")


def _smallest_first(tpu_slice: TpuSlice) -> tuple[int, int, str]:
    # Fewer chips first; among equal chips a single host beats several (no placement policy, no atomic
    # multi-node scaling, no cross-host collectives); the machine-type name only makes the order total.
    return (tpu_slice.chips, tpu_slice.hosts, tpu_slice.machine_type)


def plan_tpu_slice(
    parameters: float,
    bytes_per_parameter: float,
    generation: str | TpuGeneration,
    headroom: float = DEFAULT_HEADROOM,
) -> SizingPlan:
    """The smallest slice of `generation` whose HBM holds `parameters` x `bytes_per_parameter` x `headroom`.

    `parameters` is the parameter count (175e9 for a 175B model); `bytes_per_parameter` is 2 for bf16,
    1 for int8, 0.5 for int4; `headroom` (at least 1) covers the KV cache and activations.

    Slices are ordered by chips, then hosts (a single-host 2x4 beats a 2-host 2x4), then machine type.
    Raises `ArgError` (a `ValueError`, located at the argument it judges) for non-positive inputs, headroom below 1,
    an unknown generation, or a model larger than the generation's largest slice.
    """
    _check_positive_finite("parameters", parameters)
    _check_positive_finite("bytes_per_parameter", bytes_per_parameter)
    if not (math.isfinite(headroom) and headroom >= 1):
        raise ArgError(
            ("headroom",), f"headroom must be at least 1 (it covers the KV cache and activations); got {headroom}"
        )
    spec = tpu_generation(generation)
    required = parameters * bytes_per_parameter * headroom
    arithmetic = (
        f"{_count(parameters)} parameters x {_plural(bytes_per_parameter, 'byte')} x {headroom:g} headroom "
        f"= {format_gb(required)}"
    )
    candidates = sorted(tpu_slices(spec.generation), key=_smallest_first)
    for index, candidate in enumerate(candidates):
        if candidate.hbm_bytes < required:
            continue
        if index == 0:
            verdict = f"{describe_slice(candidate)} is the smallest slice there is, and it fits."
        else:
            # Equal-chip candidates have equal HBM, so the one before the first fit has fewer chips.
            next_smaller = candidates[index - 1]
            verdict = (
                f"{describe_slice(candidate)} is the smallest slice that fits; the next smaller, "
                f"{next_smaller.topology} ({format_gb(next_smaller.hbm_bytes)}), does not."
            )
        return SizingPlan(tpu_slice=candidate, required_bytes=required, reason=f"{arithmetic}; {verdict}")
    largest = max(candidates, key=lambda candidate: candidate.hbm_bytes)
    raise ArgError(
        ("parameters",),
        f"{arithmetic}, more than the largest {spec.display_name} slice, {describe_slice(largest)}; "
        "use a larger generation, fewer bytes per parameter, or several slices",
    )


def tensor_parallel_kv_heads(architecture: ModelArchitecture, tensor_parallel_size: int) -> int | None:
    """KV heads the whole slice holds at a tensor-parallel size, or None where vLLM cannot shard the model so.

    vLLM's QKVParallelLinear splits the query heads evenly across the ranks (`divide(total_num_heads, tp_size)`), and
    the KV heads too; with more ranks than KV heads each rank holds one, replicated (`num_kv_head_replicas =
    divide(tp_size, total_num_kv_heads)`): vllm-project/vllm@0036d38d vllm/model_executor/layers/linear.py, read
    2026-12-07. `divide` refuses a remainder."""
    heads, kv_heads = architecture.attention_heads, architecture.kv_heads
    if heads is not None and heads % tensor_parallel_size != 0:
        return None
    if tensor_parallel_size >= kv_heads:
        return tensor_parallel_size if tensor_parallel_size % kv_heads == 0 else None
    return kv_heads if kv_heads % tensor_parallel_size == 0 else None


@dataclass(frozen=True)
class KvCachePlan:
    """One vLLM instance of a model on a slice: its weights, the HBM it may use, and the KV cache that leaves."""

    architecture: ModelArchitecture
    tpu_slice: TpuSlice
    tensor_parallel_size: int
    kv_heads_held: int
    """KV heads across the slice: the model's, or the tensor-parallel size where that replicates them."""
    memory_utilization: float = GPU_MEMORY_UTILIZATION

    @property
    def usable_bytes(self) -> float:
        """The HBM vLLM may use: the slice's HBM x gpu_memory_utilization."""
        return self.tpu_slice.hbm_bytes * self.memory_utilization

    @property
    def kv_budget_bytes(self) -> float:
        """What the weights leave of the usable HBM for the KV cache (negative: the weights do not load)."""
        return self.usable_bytes - self.architecture.weights_bytes

    @property
    def kv_bytes_per_token(self) -> int:
        return self.architecture.kv_bytes_per_token(self.kv_heads_held)

    @property
    def loads(self) -> bool:
        """Whether the weights fit the usable HBM with room for a KV cache at all."""
        return self.kv_budget_bytes > 0

    @property
    def tokens(self) -> int:
        """Tokens the KV cache holds, across every running sequence."""
        return max(int(self.kv_budget_bytes // self.kv_bytes_per_token), 0)

    def sequences(self, max_model_len: int) -> int:
        """Sequences of `max_model_len` tokens that run at once."""
        return self.tokens // max_model_len

    def mean_length(self, max_num_seqs: int) -> int:
        """The longest sequences `max_num_seqs` of them can average while all run at once."""
        return self.tokens // max_num_seqs

    @property
    def weights(self) -> str:
        """``70.55B parameters x 2 bytes = 141.1 GB of weights``."""
        architecture = self.architecture
        return (
            f"{_count(architecture.parameters)} parameters x {_plural(architecture.weights_dtype.bytes, 'byte')} "
            f"= {format_gb(architecture.weights_bytes)} of weights"
        )

    @property
    def usable(self) -> str:
        """``TPU v6e 2x4 on ... (8 chips x 32 GB = 256 GB, 1 host) x 0.9 (...) = 230.4 GB usable``."""
        return (
            f"{describe_slice(self.tpu_slice)} x {self.memory_utilization:g} (vLLM's gpu_memory_utilization) = "
            f"{format_gb(self.usable_bytes)} usable"
        )

    @property
    def arithmetic(self) -> str:
        """The whole computation in one sentence, from the weights to the tokens the KV cache holds."""
        architecture = self.architecture
        replicated = (
            f" (tensor parallelism {self.tensor_parallel_size} holds {self.kv_heads_held})"
            if self.kv_heads_held != architecture.kv_heads
            else ""
        )
        element = _plural(architecture.kv_cache_dtype.bytes, "byte")
        return (
            f"{self.usable} - {self.weights} = {format_gb(self.kv_budget_bytes)} of KV cache; at "
            f"{self.kv_bytes_per_token:,} bytes a token (2 x {architecture.layers} layers x {architecture.kv_heads} KV "
            f"heads{replicated} x {architecture.head_dim} head dim x {element}) it holds {self.tokens:,} tokens"
        )


def plan_kv_cache(
    architecture: ModelArchitecture,
    tpu_slice: TpuSlice,
    tensor_parallel_size: int | None = None,
    memory_utilization: float = GPU_MEMORY_UTILIZATION,
) -> KvCachePlan:
    """The KV cache of one vLLM instance of `architecture` on `tpu_slice`, sharded `tensor_parallel_size` ways (default:
    every chip). `ArgError` at ``tensor_parallel_size`` where vLLM cannot shard the model so; whether the weights load
    is the plan's `loads`, for the caller to judge."""
    tensor_parallel = tpu_slice.chips if tensor_parallel_size is None else tensor_parallel_size
    kv_heads_held = tensor_parallel_kv_heads(architecture, tensor_parallel)
    if kv_heads_held is None:
        raise ArgError(
            ("tensor_parallel_size",),
            f"{tensor_parallel} does not divide the model's {architecture.attention_heads} attention heads, or its "
            f"{architecture.kv_heads} KV heads and {tensor_parallel} are not multiples of one another; allowed: a "
            "size vLLM can shard the heads across",
        )
    return KvCachePlan(architecture, tpu_slice, tensor_parallel, kv_heads_held, memory_utilization)


def recommend_vllm_slice(
    architecture: ModelArchitecture,
    generation: str | TpuGeneration,
    concurrency: int,
    context: int,
    memory_utilization: float = GPU_MEMORY_UTILIZATION,
) -> tuple[KvCachePlan, str]:
    """The smallest single-host slice of `generation` (vLLM on TPU serves from one host, on every chip of it) whose KV
    cache holds `concurrency` sequences of `context` tokens, with the sentence that explains the choice. `ArgError` at
    ``concurrency`` where no single-host slice of the generation does."""
    for name, value in (("concurrency", concurrency), ("context", context)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ArgError((name,), f"{value!r} is not allowed; allowed: a positive integer")
    spec = tpu_generation(generation)
    need = concurrency * context
    demand = f"{_plural(concurrency, 'sequence')} x {context:,} tokens = {need:,} tokens"
    candidates = sorted((s for s in tpu_slices(spec.generation) if not s.multi_host), key=_smallest_first)
    plans = [
        plan_kv_cache(architecture, s, memory_utilization=memory_utilization)
        for s in candidates
        if tensor_parallel_kv_heads(architecture, s.chips) is not None
    ]
    for plan in plans:
        if plan.loads and plan.tokens >= need:
            return plan, (
                f"{plan.arithmetic}, enough for {demand}: tensor parallelism {plan.tensor_parallel_size} on "
                f"{plan.tpu_slice.topology} is the smallest single-host {spec.display_name} slice that holds them."
            )
    largest = plans[-1] if plans else None
    shown = f"the largest, {largest.arithmetic}" if largest and largest.loads else "none loads the weights"
    raise ArgError(
        ("concurrency",),
        f"no single-host {spec.display_name} slice holds {demand}: {shown}; allowed: fewer or shorter sequences, "
        "8-bit weights, or another generation",
    )
