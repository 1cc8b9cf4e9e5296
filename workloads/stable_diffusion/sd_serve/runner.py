"""The model runner: the Flax pipeline as a fixed set of compiled XLA programs, one per (batch, size, steps) shape.

- Data parallel over every local accelerator device: the weights are replicated, each call's batch is split evenly
  over the devices (`shard_map`, so each device runs the pipeline on its own images, with no traffic between them).
- Batch sizes are per device: `batch_sizes=[1, 2, 4]` on 4 TPU chips gives calls of 4, 8 and 16 images. A call with
  fewer prompts is padded (empty prompts) to the smallest of those that holds it; more are split into several calls.
- Every shape is compiled ahead of time by `compile_all()`; `generate()` only runs what was compiled and refuses any
  other size or step count, so no request ever waits for XLA. `compile_counter()` counts every executable this
  process builds, which makes that observable.
- The most common shapes compile first: the default size and step count (what a request that names neither gets),
  smallest batch first (one request alone, at low load), then the other step counts and sizes. One at a time, and
  the replica is ready only when all are: XLA's compile of one program already spreads over the host's cores, and a
  replica that reported ready early would have requests wait for a compile or be refused, which the API promises
  never happens. The order shows in the log, and a warm-up cut short has the common shapes in the cache.
- Each image has its own seed: its initial latents are drawn from `jax.random.key(seed)`, so the same prompt and
  seed give the same image whatever else shares its batch.
"""

import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from sd_serve.contract import MAX_SEED, ServedShapes
from sd_serve.pipeline import LoadedPipeline

# JAX records this event around every executable it builds (a fresh XLA compile or a persistent-cache hit).
BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
PERSISTENT_CACHE_HIT_EVENT = "/jax/compilation_cache/cache_hits"
_BATCH_AXIS = "batch"
log = logging.getLogger(__name__)


class CompileCounter:
    """Executables built and persistent-cache hits in this process, from JAX's monitoring events."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.executables = 0
        self.persistent_cache_hits = 0
        jax.monitoring.register_event_duration_secs_listener(self._on_duration)
        jax.monitoring.register_event_listener(self._on_event)

    def _on_duration(self, event: str, duration_secs: float, **kwargs: Any) -> None:
        if event == BACKEND_COMPILE_EVENT:
            with self._lock:
                self.executables += 1

    def _on_event(self, event: str, **kwargs: Any) -> None:
        if event == PERSISTENT_CACHE_HIT_EVENT:
            with self._lock:
                self.persistent_cache_hits += 1


_counter: CompileCounter | None = None
_counter_lock = threading.Lock()


def compile_counter() -> CompileCounter:
    """The process's one counter (JAX's listeners cannot be scoped to a runner)."""
    global _counter
    with _counter_lock:
        if _counter is None:
            _counter = CompileCounter()
        return _counter


@dataclass(frozen=True, order=True)
class Shape:
    batch: int
    """Images per call, all devices together."""
    size: int
    """Width and height in pixels."""
    steps: int


class UnservedShapeError(ValueError):
    """A size or step count that was not compiled at start-up."""


class ModelRunner:
    def __init__(
        self,
        loaded: LoadedPipeline,
        *,
        sizes: Sequence[int],
        steps: Sequence[int],
        batch_sizes: Sequence[int],
        guidance_scale: float = 7.5,
        devices: Sequence[Any] | None = None,
        default_size: int | None = None,
        default_steps: int | None = None,
    ) -> None:
        self.pipeline = loaded.pipeline
        self.devices = list(devices or jax.local_devices())
        self.size_multiple = _size_multiple(self.pipeline)
        for size in sizes:
            if size <= 0 or size % self.size_multiple:
                raise ValueError(
                    f"size {size} is not a positive multiple of {self.size_multiple}, which this model needs"
                )
        if not sizes or not steps or not batch_sizes:
            raise ValueError("sizes, steps and batch_sizes each need at least one value")
        if min(steps) < 1 or min(batch_sizes) < 1:
            raise ValueError(f"steps {list(steps)} and batch sizes {list(batch_sizes)} must be positive")
        self.served = ServedShapes(tuple(sorted(set(sizes))), tuple(sorted(set(steps))))
        # What a request that names no size or step count gets (the app's resolution and default_steps).
        self.default_size = self.served.sizes[0] if default_size is None else default_size
        self.default_steps = self.served.steps[0] if default_steps is None else default_steps
        if self.default_size not in self.served.sizes or self.default_steps not in self.served.steps:
            raise ValueError(
                f"default size {self.default_size} and steps {self.default_steps} must be among the sizes "
                f"{list(self.served.sizes)} and steps {list(self.served.steps)}"
            )
        self.batch_sizes = sorted({per_device * len(self.devices) for per_device in batch_sizes})
        self.guidance_scale = guidance_scale

        mesh = Mesh(np.array(self.devices), (_BATCH_AXIS,))
        self._batch_sharding = NamedSharding(mesh, P(_BATCH_AXIS))
        self._mesh = mesh
        self._params = jax.device_put(loaded.params, NamedSharding(mesh, P()))
        self._unconditional_ids = self._tokenize([""])[0]
        self._executables: dict[Shape, Any] = {}
        self.compile_seconds: dict[Shape, float] = {}

    @property
    def max_batch(self) -> int:
        return self.batch_sizes[-1]

    def shapes(self) -> list[Shape]:
        """Every shape, in the order they compile: the common ones first (see the module's docstring)."""
        served = self.served
        every = [
            Shape(batch, size, steps) for size in served.sizes for steps in served.steps for batch in self.batch_sizes
        ]
        return sorted(
            every,
            key=lambda shape: (
                shape.size != self.default_size,
                shape.steps != self.default_steps,
                shape.size,
                shape.steps,
                shape.batch,
            ),
        )

    @property
    def compiled_shapes(self) -> list[Shape]:
        return sorted(self._executables)

    def compile_all(self) -> None:
        """Compiles every shape (from the persistent compilation cache where it has them)."""
        shapes = self.shapes()
        for index, shape in enumerate(shapes, start=1):
            if shape not in self._executables:
                started = time.perf_counter()
                self._executables[shape] = self._compile(shape)
                self.compile_seconds[shape] = time.perf_counter() - started
                log.info("compiled %s in %.1f s (%d of %d)", shape, self.compile_seconds[shape], index, len(shapes))

    def warm_up(self) -> None:
        """Compiles every shape and runs each once, so that no request pays for a first run either."""
        self.compile_all()
        for shape in self.shapes():
            self._generate_call([""] * shape.batch, [0] * shape.batch, shape.size, shape.steps)

    def padded_batch(self, images: int) -> int:
        """The call size that `images` (at most max_batch) are padded to."""
        return next(batch for batch in self.batch_sizes if batch >= images)

    def check_servable(self, size: int, steps: int) -> None:
        refusal = self.served.refusal(size, size, steps)
        if refusal is not None:
            raise UnservedShapeError(refusal)

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], size: int, steps: int) -> np.ndarray:
        """Images (N, size, size, 3) uint8 for N prompts and their seeds, in order."""
        if len(prompts) != len(seeds):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        self.check_servable(size, steps)
        for seed in seeds:
            if not 0 <= seed <= MAX_SEED:
                raise ValueError(f"seed {seed} is outside 0..{MAX_SEED}")
        chunks = [
            self._generate_call(
                prompts[start : start + self.max_batch], seeds[start : start + self.max_batch], size, steps
            )
            for start in range(0, len(prompts), self.max_batch)
        ]
        return np.concatenate(chunks) if chunks else np.zeros((0, size, size, 3), np.uint8)

    def _generate_call(self, prompts: Sequence[str], seeds: Sequence[int], size: int, steps: int) -> np.ndarray:
        shape = Shape(self.padded_batch(len(prompts)), size, steps)
        executable = self._executables.get(shape)
        if executable is None:
            raise RuntimeError(f"{shape} was not compiled: call compile_all() before generate()")
        padding = shape.batch - len(prompts)
        prompt_ids = self._tokenize([*prompts, *([""] * padding)])
        seed_array = np.array([*seeds, *([0] * padding)], dtype=np.uint32)
        prompt_ids, seed_array = jax.device_put((prompt_ids, seed_array), self._batch_sharding)
        images = executable(self._params, prompt_ids, seed_array)
        return np.asarray(images)[: len(prompts)]

    def _tokenize(self, prompts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.pipeline.prepare_inputs(list(prompts)), dtype=np.int32)

    def _compile(self, shape: Shape) -> Any:
        pipeline = self.pipeline
        latent_shape = (
            pipeline.unet.config.in_channels,
            shape.size // pipeline.vae_scale_factor,
            shape.size // pipeline.vae_scale_factor,
        )
        unconditional_ids = self._unconditional_ids

        def images_on_one_device(params: Any, prompt_ids: jax.Array, seeds: jax.Array) -> jax.Array:
            keys = jax.vmap(jax.random.key)(seeds)
            latents = jax.vmap(lambda key: jax.random.normal(key, latent_shape, jnp.float32))(keys)
            images = pipeline._generate(
                prompt_ids,
                params,
                None,  # the latents below replace the one PRNG key the pipeline would draw them from
                shape.steps,
                shape.size,
                shape.size,
                self.guidance_scale,
                latents=latents,
                neg_prompt_ids=jnp.broadcast_to(unconditional_ids, prompt_ids.shape),
            )
            return jnp.round(images * 255).astype(jnp.uint8)

        data_parallel = jax.shard_map(
            images_on_one_device,
            mesh=self._mesh,
            in_specs=(P(), P(_BATCH_AXIS), P(_BATCH_AXIS)),
            out_specs=P(_BATCH_AXIS),
            check_vma=False,
        )
        return (
            jax.jit(data_parallel)
            .lower(
                self._params,
                jax.ShapeDtypeStruct(
                    (shape.batch, unconditional_ids.shape[0]), jnp.int32, sharding=self._batch_sharding
                ),
                jax.ShapeDtypeStruct((shape.batch,), jnp.uint32, sharding=self._batch_sharding),
            )
            .compile()
        )


def _size_multiple(pipeline: Any) -> int:
    """Sizes must be multiples of 8 (the pipeline checks) and pass the VAE's and the UNet's downsampling evenly."""
    unet_downsampling = 2 ** (len(pipeline.unet.config.block_out_channels) - 1)
    return math.lcm(8, pipeline.vae_scale_factor * unet_downsampling)
