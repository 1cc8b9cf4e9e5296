"""What the catalog knows of the models it serves: their context length. Pure and stdlib-only.

A model missing here gets no context bound (vLLM itself refuses a --max-model-len beyond the model's config)."""

from collections.abc import Mapping
from types import MappingProxyType

# Llama 3.1 (8B, 70B, 405B; base and Instruct): max_position_embeddings 131072 in the models' config.json, as quoted
# by oumi-ai's configs/recipes/llama3_1/README.md ("Model max length 131,072") and a modelscope read of
# Meta-Llama-3.1-8B-Instruct's config; read 2026-12-02 (the Hugging Face repositories are gated).
_LLAMA_3_1_CONTEXT = 131072

MODEL_CONTEXT_LENGTHS: Mapping[str, int] = MappingProxyType(
    {
        f"meta-llama/{name}{variant}": _LLAMA_3_1_CONTEXT
        for name in ("Llama-3.1-8B", "Llama-3.1-70B", "Llama-3.1-405B", "Meta-Llama-3.1-8B", "Meta-Llama-3.1-70B")
        for variant in ("", "-Instruct")
    }
)
"""The context length, in tokens, of each model by its Hugging Face id."""


def model_context_length(model: str) -> int | None:
    """The context length of `model`, or None where the catalog does not know the model."""
    return MODEL_CONTEXT_LENGTHS.get(model)
