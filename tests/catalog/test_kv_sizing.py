"""KV-cache-aware sizing: HBM x gpu_memory_utilization - weights = the KV cache; its tokens; the slice to recommend.

Every expected number below is worked by hand from the catalog's facts (HBM in GB as Google documents it, Llama 3.1's
architecture) so that a change in the arithmetic shows here, not only in a message."""

import re

import pytest

from gke_tpu_serving.catalog import Dtype, TpuGeneration, tpu_slice
from gke_tpu_serving.catalog.models import ModelArchitecture, catalog_architecture
from gke_tpu_serving.catalog.sizing import (
    GPU_MEMORY_UTILIZATION,
    format_gb,
    plan_kv_cache,
    recommend_vllm_slice,
)
from gke_tpu_serving.errors import ArgError


def _llama(size: str) -> ModelArchitecture:
    architecture = catalog_architecture(f"meta-llama/Llama-3.1-{size}")
    assert architecture is not None
    return architecture


V6E_8 = ("v6e", "ct6e-standard-8t", "2x4")
V6E_4 = ("v6e", "ct6e-standard-4t", "2x2")
V5E_8 = ("v5e", "ct5lp-hightpu-8t", "2x4")
V5E_1 = ("v5e", "ct5lp-hightpu-1t", "1x1")
V5P_4 = ("v5p", "ct5p-hightpu-4t", "2x2x1")
V4_4 = ("v4", "ct4p-hightpu-4t", "2x2x1")

# (model, slice, usable HBM, weights, KV bytes per token, tokens the cache holds or None where the weights do not load)
CASES = [
    # 8 x 32 GB = 256 GB; x 0.9 = 230.4 GB; 70,553,706,496 x 2 = 141,107,412,992 bytes; 89,292,587,008 / 327,680.
    ("70B", V6E_8, 230_400_000_000, 141_107_412_992, 327_680, 272_499),
    # 4 x 95 GB = 380 GB; x 0.9 = 342 GB; 200,892,587,008 / 327,680 (tensor parallelism 4 holds the 8 KV heads).
    ("70B", V5P_4, 342_000_000_000, 141_107_412_992, 327_680, 613_075),
    # 4 x 32 GB = 128 GB; x 0.9 = 115.2 GB; 8,030,261,248 x 2 = 16,060,522,496; 99,139,477,504 / 131,072.
    ("8B", V6E_4, 115_200_000_000, 16_060_522_496, 131_072, 756_374),
    # 8 x 16 GB = 128 GB; x 0.9 = 115.2 GB < 141.1 GB: 70B does not load on a v5e-8.
    ("70B", V5E_8, 115_200_000_000, 141_107_412_992, 327_680, None),
    # 4 x 32 GiB = 137,438,953,472 bytes; x 0.9 = 123,695,058,124.8 < 141.1 GB.
    ("70B", V4_4, 123_695_058_124.8, 141_107_412_992, 327_680, None),
    # 405,853,388,800 x 2 = 811.7 GB against 230.4 GB: 405B does not load on one v6e-8.
    ("405B", V6E_8, 230_400_000_000, 811_706_777_600, 2 * 126 * 8 * 128 * 2, None),
    # 1 x 16 GB x 0.9 = 14.4 GB < 16.06 GB: not even 8B loads on one v5e chip.
    ("8B", V5E_1, 14_400_000_000, 16_060_522_496, 131_072, None),
]


@pytest.mark.parametrize(("size", "shape", "usable", "weights", "per_token", "tokens"), CASES)
def test_kv_cache_arithmetic(
    size: str, shape: tuple[str, str, str], usable: float, weights: int, per_token: int, tokens: int | None
) -> None:
    plan = plan_kv_cache(_llama(size), tpu_slice(*shape))
    assert plan.usable_bytes == pytest.approx(usable)
    assert plan.architecture.weights_bytes == weights
    assert plan.kv_bytes_per_token == per_token
    assert plan.loads is (tokens is not None)
    assert plan.tokens == (tokens or 0)


def test_70b_on_a_v6e_8_leaves_about_110_gb_beside_its_weights_and_89_gb_of_kv_cache() -> None:
    plan = plan_kv_cache(_llama("70B"), tpu_slice(*V6E_8))
    assert plan.tpu_slice.hbm_bytes - plan.architecture.weights_bytes == 114_892_587_008
    assert plan.kv_budget_bytes == pytest.approx(89_292_587_008)
    # 272,499 tokens: 66 sequences of 4,096 at once, or 256 sequences of 1,064 tokens on average.
    assert (plan.sequences(4096), plan.mean_length(256)) == (66, 1064)


def test_the_runtime_reserve_is_vllms_default_memory_utilization() -> None:
    assert GPU_MEMORY_UTILIZATION == 0.9
    plan = plan_kv_cache(_llama("70B"), tpu_slice(*V6E_8), memory_utilization=1.0)
    assert plan.kv_budget_bytes == pytest.approx(114_892_587_008)


def test_the_arithmetic_reads_as_one_sentence() -> None:
    assert plan_kv_cache(_llama("70B"), tpu_slice(*V6E_8)).arithmetic == (
        "TPU v6e 2x4 on ct6e-standard-8t (8 chips x 32 GB = 256 GB, 1 host) x 0.9 (vLLM's gpu_memory_utilization) = "
        "230.4 GB usable - 70.55B parameters x 2 bytes = 141.1 GB of weights = 89.3 GB of KV cache; at 327,680 bytes "
        "a token (2 x 80 layers x 8 KV heads x 128 head dim x 2 bytes) it holds 272,499 tokens"
    )


def test_v4_hbm_is_shown_in_gb() -> None:
    assert format_gb(tpu_slice(*V4_4).hbm_bytes) == "137.4 GB"
    assert format_gb(tpu_slice(*V6E_8).hbm_bytes) == "256 GB"


def test_8_bit_weights_halve_the_weights_and_keep_the_kv_cache() -> None:
    # 70.55B x 1 byte = 70,553,706,496; 230.4 GB - that = 159,846,293,504; / 327,680 = 487,812 tokens.
    architecture = _llama("70B")
    fp8 = ModelArchitecture(80, 8, 128, architecture.parameters, 64, weights_dtype=Dtype.FLOAT8)
    assert plan_kv_cache(fp8, tpu_slice(*V6E_8)).tokens == 487_812


def test_more_ranks_than_kv_heads_replicate_them() -> None:
    # 2 KV heads on 8 chips: each chip holds one, so the slice holds 8: 2 x 10 x 8 x 64 x 2 = 20,480 bytes a token.
    architecture = ModelArchitecture(layers=10, kv_heads=2, head_dim=64, parameters=1e9, attention_heads=16)
    plan = plan_kv_cache(architecture, tpu_slice(*V6E_8))
    assert (plan.kv_heads_held, plan.kv_bytes_per_token) == (8, 20_480)
    # (230.4 GB - 2 GB) / 20,480.
    assert plan.tokens == 11_152_343
    assert "2 KV heads (tensor parallelism 8 holds 8)" in plan.arithmetic


def test_a_tensor_parallel_size_that_does_not_divide_the_heads_is_refused() -> None:
    architecture = ModelArchitecture(layers=10, kv_heads=4, head_dim=64, parameters=1e9, attention_heads=12)
    with pytest.raises(
        ArgError,
        match="^"
        + re.escape(
            "tensor_parallel_size: 8 does not divide the model's 12 attention heads, or its 4 KV heads and 8 are not "
            "multiples of one another; allowed: a size vLLM can shard the heads across"
        ),
    ):
        plan_kv_cache(architecture, tpu_slice(*V6E_8))


def test_recommends_the_smallest_single_host_slice_for_a_target() -> None:
    plan, reason = recommend_vllm_slice(_llama("70B"), TpuGeneration.V6E, concurrency=64, context=4096)
    assert (plan.tpu_slice, plan.tensor_parallel_size) == (tpu_slice(*V6E_8), 8)
    assert reason == (
        f"{plan.arithmetic}, enough for 64 sequences x 4,096 tokens = 262,144 tokens: tensor parallelism 8 on 2x4 is "
        "the smallest single-host TPU v6e slice that holds them."
    )


def test_recommends_fewer_chips_when_they_hold_the_target() -> None:
    # 8B, 64 x 8,192 = 524,288 tokens: a v6e 2x2 holds 756,374; a 1x1 (28.8 GB - 16.06 GB) holds 97,194.
    plan, _ = recommend_vllm_slice(_llama("8B"), "v6e", concurrency=64, context=8192)
    assert (plan.tpu_slice, plan.tensor_parallel_size) == (tpu_slice(*V6E_4), 4)


def test_a_target_beyond_every_single_host_slice_is_refused() -> None:
    message = (
        "concurrency: no single-host TPU v6e slice holds 128 sequences x 4,096 tokens = 524,288 tokens: the largest, "
        + plan_kv_cache(_llama("70B"), tpu_slice(*V6E_8)).arithmetic
        + "; allowed: fewer or shorter sequences, 8-bit weights, or another generation"
    )
    with pytest.raises(ArgError, match=f"^{re.escape(message)}$"):
        recommend_vllm_slice(_llama("70B"), "v6e", concurrency=128, context=4096)


def test_a_model_no_single_host_slice_loads_is_refused() -> None:
    with pytest.raises(ArgError, match=re.escape("no single-host TPU v5p slice holds 1 sequence x 4,096 tokens")):
        recommend_vllm_slice(_llama("405B"), "v5p", concurrency=1, context=4096)
    with pytest.raises(ArgError, match=re.escape("none loads the weights")):
        recommend_vllm_slice(_llama("405B"), "v5p", concurrency=1, context=4096)


@pytest.mark.parametrize(("concurrency", "context"), [(0, 4096), (1, 0), (True, 4096)])
def test_a_target_must_be_positive(concurrency: int, context: int) -> None:
    with pytest.raises(ArgError, match="is not allowed; allowed: a positive integer"):
        recommend_vllm_slice(_llama("8B"), "v6e", concurrency=concurrency, context=context)
