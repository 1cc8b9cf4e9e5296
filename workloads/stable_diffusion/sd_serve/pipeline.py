"""Builds the Flax Stable Diffusion pipeline the runner serves: loaded from a diffusers Flax checkpoint (a local
directory, e.g. a GCS FUSE mount, or a Hugging Face model id), or built with random weights (`random:tiny`,
`random:sd21`) for tests and benchmarks, which need no download.

Whatever the source, the pipeline samples with the DPM-Solver++ multistep scheduler (good images in 20-25 steps),
its weights are cast to `dtype`, and it has no safety checker (the Flax SD 2.x checkpoints ship none).
"""

import functools
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from diffusers import (
    FlaxAutoencoderKL,
    FlaxDPMSolverMultistepScheduler,
    FlaxStableDiffusionPipeline,
    FlaxUNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTokenizer, FlaxCLIPTextModel
from transformers.models.clip.tokenization_clip import bytes_to_unicode


class _WithoutFlaxDeprecation(logging.Filter):
    """Every Flax module and scheduler logs that Flax goes away in diffusers 0.40: known, and the reason for the exact
    pin; hundreds of those lines would bury the server's own."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Flax classes are deprecated" not in record.getMessage()


for _handler in logging.getLogger("diffusers").handlers:
    _handler.addFilter(_WithoutFlaxDeprecation())

RANDOM_PREFIX = "random:"
TOKENIZER_MAX_LENGTH = 77
"""CLIP's context length: every prompt is padded or cut to it."""


@dataclass(frozen=True)
class RandomArchitecture:
    """The shapes of a pipeline built with random weights."""

    unet: dict[str, Any]
    vae: dict[str, Any]
    text_encoder: dict[str, Any]
    prediction_type: str


RANDOM_ARCHITECTURES: dict[str, RandomArchitecture] = {
    # A stand-in for tests: a few hundred thousand parameters, the same code paths as the real model.
    "tiny": RandomArchitecture(
        unet={
            "sample_size": 8,
            "in_channels": 4,
            "out_channels": 4,
            "block_out_channels": (32, 64),
            "layers_per_block": 1,
            "attention_head_dim": (2, 4),
            "cross_attention_dim": 32,
            "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
            "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"),
            "use_linear_projection": True,
        },
        vae={
            "in_channels": 3,
            "out_channels": 3,
            "latent_channels": 4,
            "block_out_channels": (32, 64),
            "layers_per_block": 1,
            "down_block_types": ("DownEncoderBlock2D",) * 2,
            "up_block_types": ("UpDecoderBlock2D",) * 2,
        },
        text_encoder={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": TOKENIZER_MAX_LENGTH,
            "vocab_size": 1000,
        },
        prediction_type="epsilon",
    ),
    # Stable Diffusion 2.1 (base): the shapes, and so the compute per image, of the served model.
    "sd21": RandomArchitecture(
        unet={
            "sample_size": 64,
            "in_channels": 4,
            "out_channels": 4,
            "block_out_channels": (320, 640, 1280, 1280),
            "layers_per_block": 2,
            "attention_head_dim": (5, 10, 20, 20),
            "cross_attention_dim": 1024,
            "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            "use_linear_projection": True,
        },
        vae={
            "in_channels": 3,
            "out_channels": 3,
            "latent_channels": 4,
            "block_out_channels": (128, 256, 512, 512),
            "layers_per_block": 2,
            "down_block_types": ("DownEncoderBlock2D",) * 4,
            "up_block_types": ("UpDecoderBlock2D",) * 4,
        },
        text_encoder={
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_hidden_layers": 23,
            "num_attention_heads": 16,
            "max_position_embeddings": TOKENIZER_MAX_LENGTH,
            "vocab_size": 49408,
            "hidden_act": "gelu",
            "projection_dim": 512,
        },
        prediction_type="v_prediction",
    ),
}

# The scheduler settings of the Stable Diffusion 1.x/2.x checkpoints.
_SCHEDULER_CONFIG = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
}


@dataclass
class LoadedPipeline:
    pipeline: FlaxStableDiffusionPipeline
    params: dict[str, Any]
    """Weights of unet, vae and text_encoder (cast to the pipeline's dtype) and the scheduler's state."""
    source: str
    """What was loaded: the model argument, or the local directory it named."""


def random_architecture_name(model: str) -> str | None:
    """`random:tiny` -> `tiny`; None for anything that is not a random stand-in."""
    return model.removeprefix(RANDOM_PREFIX) if model.startswith(RANDOM_PREFIX) else None


def load_pipeline(model: str, *, revision: str | None = None, dtype: Any = jnp.bfloat16) -> LoadedPipeline:
    """The pipeline for `model`: `random:<architecture>`, a local directory, or a Hugging Face model id."""
    architecture = random_architecture_name(model)
    if architecture is not None:
        if architecture not in RANDOM_ARCHITECTURES:
            raise ValueError(
                f"unknown random architecture {architecture!r} in model {model!r}: "
                f"use one of {', '.join(RANDOM_PREFIX + name for name in RANDOM_ARCHITECTURES)}"
            )
        return build_random_pipeline(RANDOM_ARCHITECTURES[architecture], dtype=dtype, source=model)
    return _load_pretrained(model, revision=revision, dtype=dtype)


def build_random_pipeline(
    architecture: RandomArchitecture, *, dtype: Any = jnp.bfloat16, seed: int = 0, source: str = "random"
) -> LoadedPipeline:
    unet = FlaxUNet2DConditionModel(**architecture.unet, dtype=dtype)
    vae = FlaxAutoencoderKL(**architecture.vae, dtype=dtype)
    text_encoder = FlaxCLIPTextModel(CLIPTextConfig(**architecture.text_encoder), dtype=dtype, _do_init=False)
    scheduler = FlaxDPMSolverMultistepScheduler(**_SCHEDULER_CONFIG, prediction_type=architecture.prediction_type)
    rng = jax.random.PRNGKey(seed)
    shapes = {
        "unet": jax.eval_shape(unet.init_weights, rng),
        "vae": jax.eval_shape(vae.init_weights, rng),
        "text_encoder": jax.eval_shape(
            functools.partial(text_encoder.init_weights, input_shape=(1, TOKENIZER_MAX_LENGTH)), rng
        ),
    }
    params = {**random_weights(shapes, dtype, np.random.default_rng(seed)), "scheduler": scheduler.create_state()}
    pipeline = _assemble(vae, text_encoder, character_tokenizer(), unet, scheduler, dtype)
    return LoadedPipeline(pipeline, params, source)


def random_weights(shapes: Any, dtype: Any, generator: np.random.Generator) -> Any:
    """Weights in the given shapes: normalisation scales 1, biases 0, the rest N(0, 0.02). Drawn with numpy, so that
    nothing is compiled: Flax's own initialisers, run op by op, would compile hundreds of small XLA programs."""

    def weight(path: tuple[Any, ...], shape: jax.ShapeDtypeStruct) -> np.ndarray:
        name = getattr(path[-1], "key", None)
        if name == "scale":
            return np.ones(shape.shape, dtype)
        if name == "bias":
            return np.zeros(shape.shape, dtype)
        return (generator.standard_normal(shape.shape, np.float32) * 0.02).astype(dtype)

    return jax.tree_util.tree_map_with_path(weight, shapes)


def _load_pretrained(model: str, *, revision: str | None, dtype: Any) -> LoadedPipeline:
    # A local directory (a GCS FUSE mount) is read in place; anything else is a Hugging Face id, downloaded once into
    # the Hugging Face cache (HF_HOME).
    source = str(Path(model)) if Path(model).is_dir() else model
    loaded, params = FlaxStableDiffusionPipeline.from_pretrained(
        source, revision=revision, dtype=dtype, safety_checker=None, feature_extractor=None
    )
    scheduler = FlaxDPMSolverMultistepScheduler.from_config(loaded.scheduler.config)
    weights = {name: _cast(params[name], dtype) for name in ("unet", "vae", "text_encoder")}
    pipeline = _assemble(loaded.vae, loaded.text_encoder, loaded.tokenizer, loaded.unet, scheduler, dtype)
    return LoadedPipeline(pipeline, {**weights, "scheduler": scheduler.create_state()}, source)


def _assemble(
    vae: Any, text_encoder: Any, tokenizer: Any, unet: Any, scheduler: Any, dtype: Any
) -> FlaxStableDiffusionPipeline:
    return FlaxStableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        dtype=dtype,
    )


def _cast(params: Any, dtype: Any) -> Any:
    return jax.tree_util.tree_map(lambda weight: weight.astype(dtype), params)


def character_tokenizer() -> CLIPTokenizer:
    """A CLIP tokenizer whose vocabulary is CLIP's 256 byte symbols (each alone and word-final) with no merges: one
    token per character. Built locally for the random pipelines, whose text encoders know no real vocabulary."""
    symbols = list(bytes_to_unicode().values())
    vocabulary = [*symbols, *(symbol + "</w>" for symbol in symbols), "<|startoftext|>", "<|endoftext|>"]
    with tempfile.TemporaryDirectory(prefix="sd-tokenizer-") as directory:
        vocab_file = Path(directory) / "vocab.json"
        merges_file = Path(directory) / "merges.txt"
        vocab_file.write_text(json.dumps({token: index for index, token in enumerate(vocabulary)}), encoding="utf-8")
        merges_file.write_text("#version: 0.2\n", encoding="utf-8")
        return CLIPTokenizer(str(vocab_file), str(merges_file), model_max_length=TOKENIZER_MAX_LENGTH)
