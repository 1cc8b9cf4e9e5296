"""The model catalog: Llama 3.1's architecture as Meta publishes it, and the architecture a user gives for others."""

import re
from typing import Any

import pytest

from gke_tpu_serving.catalog import MODEL_CATALOG, MODEL_CONTEXT_LENGTHS, Dtype, model_context_length
from gke_tpu_serving.catalog.models import (
    DIFFUSION_MODELS,
    ModelArchitecture,
    catalog_architecture,
    model_architecture_of_args,
)
from gke_tpu_serving.errors import ArgError

# (size, layers, hidden size, attention heads, KV heads, head dim, parameters): the architecture from Meta's model
# list; the parameter counts are the totals the Hugging Face repositories' safetensors metadata report (quoted by many
# public projects, e.g. 70,553,706,496 for 70B), which the catalog derives from the architecture instead of copying.
LLAMA_3_1 = [
    ("8B", 32, 4096, 32, 8, 128, 8_030_261_248),
    ("70B", 80, 8192, 64, 8, 128, 70_553_706_496),
    ("405B", 126, 16384, 128, 8, 128, 405_853_388_800),
]


@pytest.mark.parametrize(("size", "layers", "hidden", "heads", "kv_heads", "head_dim", "parameters"), LLAMA_3_1)
@pytest.mark.parametrize("name", ["meta-llama/Llama-3.1-{}", "meta-llama/Meta-Llama-3.1-{}-Instruct"])
def test_llama_3_1_architecture(
    name: str, size: str, layers: int, hidden: int, heads: int, kv_heads: int, head_dim: int, parameters: int
) -> None:
    entry = MODEL_CATALOG[name.format(size)]
    architecture = entry.architecture
    assert (architecture.layers, entry.hidden_size, architecture.attention_heads) == (layers, hidden, heads)
    assert (architecture.kv_heads, architecture.head_dim, architecture.parameters) == (kv_heads, head_dim, parameters)
    assert architecture.context_length == 131072
    assert (entry.licence, entry.gated) == ("Llama 3.1 Community License", True)
    assert (architecture.weights_dtype, architecture.kv_cache_dtype) == (Dtype.BFLOAT16, Dtype.BFLOAT16)


def test_llama_3_1_70b_holds_320_kib_of_kv_cache_per_token() -> None:
    # 2 (K and V) x 80 layers x 8 KV heads x 128 head dim x 2 bytes.
    architecture = catalog_architecture("meta-llama/Llama-3.1-70B")
    assert architecture is not None
    assert architecture.kv_bytes_per_token() == 327_680 == 320 * 1024
    assert architecture.weights_bytes == 141_107_412_992


def test_context_lengths_come_from_the_architectures() -> None:
    assert model_context_length("meta-llama/Llama-3.1-405B-Instruct") == 131072
    assert model_context_length("example/unknown") is None
    assert set(MODEL_CONTEXT_LENGTHS) == set(MODEL_CATALOG)


def test_an_unknown_model_has_no_architecture() -> None:
    assert catalog_architecture("example/unknown") is None
    assert catalog_architecture(None) is None


def test_stable_diffusion_sizes_are_the_model_cards() -> None:
    model = DIFFUSION_MODELS["CompVis/stable-diffusion-v1-4"]
    assert (model.unet_parameters, model.text_encoder_parameters) == (860e6, 123e6)


@pytest.mark.parametrize(
    ("dtype", "size"), [(Dtype.BFLOAT16, 2), (Dtype.FLOAT16, 2), (Dtype.FLOAT8, 1), (Dtype.INT8, 1)]
)
def test_dtype_sizes(dtype: Dtype, size: int) -> None:
    assert dtype.bytes == size


def test_user_architecture_with_8_bit_weights() -> None:
    architecture = model_architecture_of_args(
        {"layers": 80, "kv_heads": 8, "head_dim": 128, "parameters": 70.6e9, "weights_dtype": Dtype.FLOAT8}
    )
    assert architecture == ModelArchitecture(80, 8, 128, 70.6e9, weights_dtype=Dtype.FLOAT8)
    assert architecture.weights_bytes == 70.6e9
    assert architecture.kv_bytes_per_token() == 327_680


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"layers": 80, "kv_heads": 8, "head_dim": 128}, "parameters: missing; required: layers, kv_heads, head_dim"),
        ({"layers": 0, "kv_heads": 8, "head_dim": 128, "parameters": 1e9}, "layers: 0 is not allowed; allowed: a "),
        ({"layers": 8, "kv_heads": 8, "head_dim": 128, "parameters": -1}, "parameters: -1 is not allowed; allowed: a "),
        (
            {"layers": 8, "kv_heads": 3, "head_dim": 128, "parameters": 1e9, "attention_heads": 32},
            "kv_heads: 3 does not divide attention_heads 32; allowed: a divisor of 32",
        ),
        (
            {"layers": 8, "kv_heads": 8, "head_dim": 128, "parameters": 1e9, "weights_dtype": "fp4"},
            "weights_dtype: 'fp4' is not allowed; allowed: bfloat16, float16, float8, int8",
        ),
    ],
)
def test_bad_user_architectures_are_refused(args: dict[str, Any], message: str) -> None:
    with pytest.raises(ArgError, match=f"^{re.escape(message)}"):
        model_architecture_of_args(args)  # type: ignore[arg-type]
