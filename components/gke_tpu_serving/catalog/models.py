"""What the catalog knows of the models it serves: the architecture numbers that size their weights and KV cache, their
context length and licence gate, each with its source; and the args a user gives for a model the catalog lacks. Pure
and stdlib-only.

A model missing here gets no context bound (vLLM itself refuses a --max-model-len beyond the model's config) and no
KV-cache sizing unless its user gives `model_architecture`."""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import NotRequired, TypedDict

from gke_tpu_serving.errors import ArgError, require_enum


class Dtype(Enum):
    """How many bytes one weight or one KV-cache element takes."""

    BFLOAT16 = "bfloat16"
    FLOAT16 = "float16"
    FLOAT8 = "float8"
    INT8 = "int8"

    @property
    def bytes(self) -> int:
        """Bytes per element: 2 for the 16-bit types, 1 for the 8-bit ones."""
        return 2 if self in (Dtype.BFLOAT16, Dtype.FLOAT16) else 1


class ModelArchitectureArgs(TypedDict):
    """A decoder-only transformer's numbers as its Hugging Face config.json gives them: what sizes its weights and
    KV cache."""

    layers: int
    """Transformer layers (config.json `num_hidden_layers`), e.g. 80."""
    kv_heads: int
    """Key/value heads (`num_key_value_heads`; equal to the attention heads without grouped-query attention), e.g.
    8."""
    head_dim: int
    """Size of one attention head (`head_dim`, else `hidden_size` / `num_attention_heads`), e.g. 128."""
    parameters: float
    """Parameter count, e.g. 70.6e9."""
    attention_heads: NotRequired[int]
    """Attention (query) heads (`num_attention_heads`): the tensor-parallel size must divide them. Default: not
    checked."""
    context_length: NotRequired[int]
    """The longest sequence the model takes (`max_position_embeddings`). Default: not checked."""
    weights_dtype: NotRequired[Dtype]
    """bfloat16 (default), float16, float8 or int8: how the weights are stored in HBM (a quantized checkpoint's
    type)."""
    kv_cache_dtype: NotRequired[Dtype]
    """The KV cache's type. Default: bfloat16 (vLLM's `--kv-cache-dtype auto` stores it in the model's dtype)."""


@dataclass(frozen=True)
class ModelArchitecture:
    """A model's architecture, checked: build it from args with `model_architecture_of_args`."""

    layers: int
    kv_heads: int
    head_dim: int
    parameters: float
    attention_heads: int | None = None
    context_length: int | None = None
    weights_dtype: Dtype = Dtype.BFLOAT16
    kv_cache_dtype: Dtype = Dtype.BFLOAT16

    def __post_init__(self) -> None:
        for name in ("layers", "kv_heads", "head_dim", "attention_heads", "context_length"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ArgError((name,), f"{value!r} is not allowed; allowed: a positive integer")
        if isinstance(self.parameters, bool) or not isinstance(self.parameters, int | float) or not self.parameters > 0:
            raise ArgError(("parameters",), f"{self.parameters!r} is not allowed; allowed: a positive number")
        if self.attention_heads is not None and self.attention_heads % self.kv_heads != 0:
            # Grouped-query attention shares each KV head among a whole number of query heads.
            raise ArgError(
                ("kv_heads",),
                f"{self.kv_heads} does not divide attention_heads {self.attention_heads}; allowed: a divisor of "
                f"{self.attention_heads}",
            )

    @property
    def weights_bytes(self) -> float:
        """The weights in HBM: parameters x bytes per parameter."""
        return self.parameters * self.weights_dtype.bytes

    def kv_bytes_per_token(self, kv_heads_held: int | None = None) -> int:
        """KV cache per token: 2 (K and V) x layers x KV heads x head dim x bytes; `kv_heads_held` counts replicas
        (a tensor-parallel size above the KV heads copies them: `tensor_parallel_kv_heads`)."""
        heads = self.kv_heads if kv_heads_held is None else kv_heads_held
        return 2 * self.layers * heads * self.head_dim * self.kv_cache_dtype.bytes


def model_architecture_of_args(args: ModelArchitectureArgs) -> ModelArchitecture:
    """The architecture of args (a component's `model_architecture`); `ArgError` located at the key it judges."""
    if not isinstance(args, Mapping):
        raise ArgError((), f"{args!r} is not allowed; allowed: a mapping of layers, kv_heads, head_dim, parameters")
    for key in ("layers", "kv_heads", "head_dim", "parameters"):
        if key not in args:
            raise ArgError((key,), "missing; required: layers, kv_heads, head_dim and parameters")
    return ModelArchitecture(
        layers=args["layers"],
        kv_heads=args["kv_heads"],
        head_dim=args["head_dim"],
        parameters=args["parameters"],
        attention_heads=args.get("attention_heads"),
        context_length=args.get("context_length"),
        weights_dtype=require_enum(("weights_dtype",), args.get("weights_dtype", Dtype.BFLOAT16), Dtype),
        kv_cache_dtype=require_enum(("kv_cache_dtype",), args.get("kv_cache_dtype", Dtype.BFLOAT16), Dtype),
    )


@dataclass(frozen=True)
class CatalogModel:
    """A model the catalog knows: its architecture, licence and whether its Hugging Face repository is gated."""

    architecture: ModelArchitecture
    hidden_size: int
    licence: str
    gated: bool
    """Whether downloading the weights needs an accepted licence (a Hugging Face token of an account granted access)."""


# Llama 3.1, from Meta's own model list: meta-llama/llama-models@d13eea5ec039baa48b5f0fa3641692a45b639da7
# models/llama3_1/api/sku_list.py (`CONTEXT_LENGTH = 131072`, `VOCAB_SIZE = 128256`, each model's `dim`, `n_layers`,
# `n_heads`, `n_kv_heads`, `ffn_dim_multiplier`, `multiple_of`), read 2026-12-07; head dim = dim / n_heads and the layer
# shapes (untied output, SwiGLU feed-forward, two RMSNorms per layer) from models/llama3/model.py at a9c89c47 (read
# 2026-12-07). The same figures are the models' config.json (oumi-ai's configs/recipes/llama3_1/README.md quotes 8B and
# 70B); the Hugging Face repositories are gated behind the "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT" (models/llama3_1/
# LICENSE). Served in bf16, 2 bytes per parameter: the planner's assumption (Meta's 405B row reads "BF16 weights").
_LLAMA_3_1_CONTEXT = 131072
_LLAMA_3_1_VOCAB = 128256
_LLAMA_3_1_LICENCE = "Llama 3.1 Community License"


def _llama3(dim: int, layers: int, heads: int, kv_heads: int, ffn_multiplier: float, multiple_of: int) -> CatalogModel:
    """A Llama 3 model from Meta's model args; its parameter count from the reference implementation's shapes."""
    head_dim = dim // heads
    # FeedForward(dim, hidden_dim=4 * dim, ...) in models/llama3/model.py.
    ffn = int(ffn_multiplier * int(2 * 4 * dim / 3))
    ffn = multiple_of * -(-ffn // multiple_of)
    attention = dim * heads * head_dim * 2 + dim * kv_heads * head_dim * 2  # wq, wo; wk, wv
    per_layer = attention + 3 * dim * ffn + 2 * dim  # w1, w2, w3; attention_norm, ffn_norm
    parameters = 2 * _LLAMA_3_1_VOCAB * dim + layers * per_layer + dim  # tok_embeddings, output; final norm
    return CatalogModel(
        architecture=ModelArchitecture(
            layers=layers,
            kv_heads=kv_heads,
            head_dim=head_dim,
            parameters=parameters,
            attention_heads=heads,
            context_length=_LLAMA_3_1_CONTEXT,
        ),
        hidden_size=dim,
        licence=_LLAMA_3_1_LICENCE,
        gated=True,
    )


_LLAMA_3_1 = {
    "8B": _llama3(dim=4096, layers=32, heads=32, kv_heads=8, ffn_multiplier=1.3, multiple_of=1024),
    "70B": _llama3(dim=8192, layers=80, heads=64, kv_heads=8, ffn_multiplier=1.3, multiple_of=4096),
    "405B": _llama3(dim=16384, layers=126, heads=128, kv_heads=8, ffn_multiplier=1.2, multiple_of=4096),
}

MODEL_CATALOG: Mapping[str, CatalogModel] = MappingProxyType(
    {
        f"meta-llama/{prefix}Llama-3.1-{size}{variant}": model
        for size, model in _LLAMA_3_1.items()
        # Meta renamed the repositories from Meta-Llama-3.1-* to Llama-3.1-*; clients still send both names.
        for prefix in ("", "Meta-")
        for variant in ("", "-Instruct")
    }
)
"""The language models the catalog knows, by Hugging Face id (base and Instruct share an architecture)."""

MODEL_CONTEXT_LENGTHS: Mapping[str, int] = MappingProxyType(
    {
        name: model.architecture.context_length
        for name, model in MODEL_CATALOG.items()
        if model.architecture.context_length is not None
    }
)
"""The context length, in tokens, of each model by its Hugging Face id."""


@dataclass(frozen=True)
class DiffusionModel:
    """A text-to-image model's size, where a model card gives it."""

    unet_parameters: float
    text_encoder_parameters: float


# "With its 860M UNet and 123M text encoder, the model is relatively lightweight" (CompVis/stable-diffusion@007c6d94
# README.md, read 2026-12-07); the autoencoder's size is not stated there, so it is left out. At 2 bytes a parameter
# that is under 2 GB against the 128 GiB of the stack's v4 2x2x1 slice: its batch sizes, not HBM, bound that server.
DIFFUSION_MODELS: Mapping[str, DiffusionModel] = MappingProxyType(
    {"CompVis/stable-diffusion-v1-4": DiffusionModel(unet_parameters=860e6, text_encoder_parameters=123e6)}
)
"""The Stable Diffusion models the stacks serve, by Hugging Face id."""


def model_context_length(model: str) -> int | None:
    """The context length of `model`, or None where the catalog does not know the model."""
    return MODEL_CONTEXT_LENGTHS.get(model)


def catalog_architecture(model: object) -> ModelArchitecture | None:
    """The catalog's architecture of `model` (a Hugging Face id), or None where the catalog does not know it."""
    entry = MODEL_CATALOG.get(model) if isinstance(model, str) else None
    return None if entry is None else entry.architecture
