"""Whether the model fits the vLLM server's slice, and what its KV cache holds there: the weights must leave HBM for
the KV cache (vLLM refuses to start otherwise), one sequence of max_model_len must fit it, and max_num_seqs sequences
of that length fit it or the preview warns. Pure: VllmDeploymentWithHpa's checks (deployment_spec.py) call it, and so
does the stack config at load; the component turns `kv_warnings` into Pulumi warnings."""

from collections.abc import Mapping
from typing import Any

from gke_tpu_serving.catalog import TpuGeneration, TpuSlice
from gke_tpu_serving.catalog.models import ModelArchitecture, catalog_architecture, model_architecture_of_args
from gke_tpu_serving.catalog.sizing import KvCachePlan, plan_kv_cache, recommend_vllm_slice
from gke_tpu_serving.errors import ArgError
from gke_tpu_serving.vllm.server_limits import check_engine_bounds

__all__ = ["KvCachePlan", "check_model_fit", "kv_warnings", "model_architecture"]

ARCHITECTURE_KEYS = "modelArchitecture: {layers, kvHeads, headDim, parameters}"
"""How messages tell a user to describe a model the catalog lacks."""


def model_architecture(args: Mapping[str, Any]) -> ModelArchitecture | None:
    """The args' `model_architecture`, else the catalog's architecture of `model`, else None."""
    if "model_architecture" in args:
        try:
            return model_architecture_of_args(args["model_architecture"])
        except ArgError as error:
            raise error.within(("model_architecture",)) from None
    return catalog_architecture(args.get("model"))


def _what_fits(architecture: ModelArchitecture, max_model_len: int) -> str:
    """The smallest single-host slice of each generation that loads the model and holds one max_model_len sequence,
    least HBM first."""
    plans = []
    for generation in TpuGeneration:
        try:
            plans.append(recommend_vllm_slice(architecture, generation, 1, max_model_len)[0])
        except ArgError:
            continue
    fits = [
        f"{plan.tpu_slice.generation.value} {plan.tpu_slice.topology} on {plan.tpu_slice.machine_type} "
        f"({plan.sequences(max_model_len):,} sequences of {max_model_len:,} tokens)"
        for plan in sorted(plans, key=lambda plan: plan.tpu_slice.hbm_bytes)
    ]
    if not fits:
        return (
            "no single-host TPU slice holds it (vLLM here serves from one host): 8-bit weights "
            "(modelArchitecture.weightsDtype), a shorter maxModelLen or a smaller model"
        )
    return "a pool on " + "; or ".join(fits)


def check_model_fit(
    args: Mapping[str, Any],
    shape: TpuSlice,
    max_model_len: int,
    max_num_seqs: int,
    max_num_batched_tokens: int | None,
    target_queue: int,
) -> KvCachePlan | None:
    """The engine bounds (server_limits.py) with the model's context, then its KV cache on `shape`, sharded across
    every chip; None where its architecture is unknown. Raises ArgError for what vLLM would refuse: weights that leave
    no KV cache, a max_model_len longer than the model's context or than the cache."""
    architecture = model_architecture(args)
    model = args.get("model")
    context = None if architecture is None else architecture.context_length
    check_engine_bounds(model, context, max_model_len, max_num_seqs, max_num_batched_tokens, target_queue)
    if architecture is None:
        return None
    # vLLM raises "No available memory for the cache blocks" when the weights leave none, and "To serve at least one
    # request with the models's max seq len ..." when one max_model_len sequence does not fit
    # (check_enough_kv_cache_memory, vllm-project/vllm@bbf906a8 vllm/v1/core/kv_cache_utils.py, read 2026-12-07).
    try:
        plan = plan_kv_cache(architecture, shape)
    except ArgError as error:
        raise ArgError(("tpu_machine_type",), f"{shape.machine_type}: {error.reason}") from None
    if not plan.loads:
        raise ArgError(
            ("tpu_machine_type",),
            f"{model} does not load on {shape.machine_type}: {plan.usable} - {plan.weights} leaves nothing for the "
            f"KV cache (vLLM refuses to start); allowed: {_what_fits(architecture, max_model_len)}",
        )
    if plan.tokens < max_model_len:
        raise ArgError(
            ("max_model_len",),
            f"{max_model_len:,} is more than {model}'s KV cache holds on {shape.machine_type}: {plan.arithmetic} "
            f"(vLLM refuses to start unless one sequence of maxModelLen fits); allowed: 1 to {plan.tokens:,}, or "
            f"{_what_fits(architecture, max_model_len)}",
        )
    return plan


def kv_warnings(model: str, plan: KvCachePlan | None, max_model_len: int, max_num_seqs: int) -> list[str]:
    """What the preview warns about: a model it cannot size, and maxNumSeqs x maxModelLen beyond the KV cache (vLLM
    does not fail then: it runs fewer sequences at once and the rest wait)."""
    if plan is None:
        return [
            f"{model} is not in the model catalog and modelArchitecture is not set: its weights and KV cache are not "
            f"sized against the slice's HBM; set {ARCHITECTURE_KEYS} from its config.json to have them checked"
        ]
    if max_num_seqs * max_model_len <= plan.tokens:
        return []
    return [
        f"maxNumSeqs {max_num_seqs} x maxModelLen {max_model_len:,} = {max_num_seqs * max_model_len:,} tokens, more "
        f"than {model}'s KV cache holds: {plan.arithmetic}; so {plan.sequences(max_model_len):,} sequences of "
        f"{max_model_len:,} tokens run at once (the rest wait), or {max_num_seqs} averaging at most "
        f"{plan.mean_length(max_num_seqs):,} tokens; for every sequence to fit at once, set maxNumSeqs to at most "
        f"{plan.sequences(max_model_len):,} or maxModelLen to at most {plan.mean_length(max_num_seqs):,}, or use a "
        "larger slice"
    ]
