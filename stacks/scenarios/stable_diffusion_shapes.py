"""What a Stable Diffusion replica compiles before it reports ready, and about how long that takes.

The application compiles one XLA program per batch size x size x step count before its model deployment's constructor
returns (workloads/stable_diffusion/sd_serve/runner.py, `ModelRunner.shapes`): batch sizes are per device, so the
count does not depend on the host. Each program costs tens of seconds, so the preview prints the count with an
estimate (stack output `stableDiffusion.startupCompile`), and more than `maxCompiledShapes` is refused.
"""

from collections.abc import Mapping
from typing import Any

from gke_tpu_serving.errors import ArgError, require_int

# The application's defaults (workloads/stable_diffusion/sd_serve/app.py, AppArgs; a test reads them there).
APP_RESOLUTION, APP_STEPS, APP_BATCH_SIZES = 512, 25, (1, 2, 4, 8)
# Each batch shape costs tens of seconds of XLA compile before the server is ready (DESIGN: ~45 s per shape for SD 2.1
# on one H100): a project bound, not a platform one, on how many shapes and how large a per-device batch.
MAX_BATCH_SIZES, MAX_BATCH_SIZE = 8, 64
DEFAULT_MAX_COMPILED_SHAPES = 8
"""The most that `batchSizes` alone could ask for (MAX_BATCH_SIZES): ~6-7 min of compile per replica on one H100.
More, through extraSizes and extraSteps, is a choice a stack makes by raising maxCompiledShapes."""

# Seconds of XLA compile for one new shape, by accelerator, measured with the SD 2.1 architecture at 512x512 and 25
# steps (the first call of a new batch shape, JAX/Flax in bfloat16 on one H100 80GB, 2026-11-23): 44-51 s; the same
# with a warm persistent compilation cache: ~6 s. Source: the project's reference measurements, shared/bench/README.md
# (read 2026-12-07). No other accelerator has been measured.
COMPILE_SECONDS_PER_SHAPE: dict[str, tuple[int, int]] = {"nvidia-h100-80gb": (44, 51)}
MEASURED_ON = "nvidia-h100-80gb"


def compiled_shapes(settings: Mapping[str, Any]) -> tuple[int, int, int]:
    """(batch sizes, sizes, step counts) a replica compiles: their product is its number of programs."""
    sizes = {settings.get("resolution", APP_RESOLUTION), *settings.get("extra_sizes", [])}
    steps = {settings.get("default_steps", APP_STEPS), *settings.get("extra_steps", [])}
    return len(settings.get("batch_sizes", APP_BATCH_SIZES)), len(sizes), len(steps)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _minutes(shapes: int, per_shape: tuple[int, int]) -> str:
    low, high = (shapes * seconds / 60 for seconds in per_shape)
    return f"{low:.1f}-{high:.1f} min"


def startup_compile(settings: Mapping[str, Any], accelerator: str) -> dict[str, Any]:
    """The stack output: how many programs a replica compiles before it is ready, and the estimate for `accelerator`
    (a GPU type or a TPU accelerator label)."""
    batch_sizes, sizes, steps = compiled_shapes(settings)
    shapes = batch_sizes * sizes * steps
    measured = COMPILE_SECONDS_PER_SHAPE.get(accelerator)
    reference = COMPILE_SECONDS_PER_SHAPE[MEASURED_ON]
    if measured is not None:
        estimate = (
            f"~{_minutes(shapes, measured)} per replica on {accelerator} ({measured[0]}-{measured[1]} s per shape, "
            "measured with SD 2.1 at 512x512; seconds each from a warm compile cache)"
        )
    else:
        estimate = (
            f"not measured on {accelerator}; on one {MEASURED_ON} it would be ~{_minutes(shapes, reference)} "
            f"({reference[0]}-{reference[1]} s per shape with SD 2.1 at 512x512; seconds each from a warm compile "
            "cache)"
        )
    return {"shapes": shapes, "batchSizes": batch_sizes, "sizes": sizes, "steps": steps, "estimate": estimate}


def check_shapes(settings: Mapping[str, Any]) -> None:
    """extraSizes and extraSteps, and the number of programs against maxCompiledShapes. Raises ArgError."""
    for key, minimum in (("extra_sizes", 8), ("extra_steps", 1)):
        seen: set[int] = set()
        for index, value in enumerate(settings.get(key, [])):
            require_int((key, index), value, minimum=minimum)
            if key == "extra_sizes" and value % 8:
                raise ArgError((key, index), f"{value} is not allowed; allowed: a multiple of 8, e.g. 512 or 768")
            if value in seen:
                raise ArgError((key, index), f"{value} is listed twice; allowed: distinct values")
            seen.add(value)
    cap = require_int(
        ("max_compiled_shapes",), settings.get("max_compiled_shapes", DEFAULT_MAX_COMPILED_SHAPES), minimum=1
    )
    batch_sizes, sizes, steps = compiled_shapes(settings)
    shapes = batch_sizes * sizes * steps
    if shapes > cap:
        reference = COMPILE_SECONDS_PER_SHAPE[MEASURED_ON]
        default = "" if "max_compiled_shapes" in settings else " (the default)"
        raise ArgError(
            ("max_compiled_shapes",),
            f"{cap}{default}, but {_count(batch_sizes, 'batch size')} x {_count(sizes, 'size')} x "
            f"{_count(steps, 'step count')} = {shapes} shapes "
            f"compile before each replica is ready (~{_minutes(shapes, reference)} on one {MEASURED_ON}); allowed: "
            f"fewer batchSizes, extraSizes or extraSteps, or maxCompiledShapes {shapes} or more",
        )


def check_batch_sizes(sizes: list[Any]) -> None:
    """The per-device batch shapes the server compiles: order is irrelevant (it sorts them), a repeat is a mistake."""
    if not sizes or len(sizes) > MAX_BATCH_SIZES:
        raise ArgError(
            ("batch_sizes",),
            f"{sizes!r} is not allowed; allowed: 1 to {MAX_BATCH_SIZES} batch sizes (each compiles before the server "
            "is ready)",
        )
    seen: set[int] = set()
    for index, size in enumerate(sizes):
        require_int(("batch_sizes", index), size, minimum=1)
        if size > MAX_BATCH_SIZE:
            raise ArgError(
                ("batch_sizes", index), f"{size} is more than {MAX_BATCH_SIZE}; allowed: 1 to {MAX_BATCH_SIZE}"
            )
        if size in seen:
            raise ArgError(("batch_sizes", index), f"{size} is listed twice; allowed: distinct batch sizes")
        seen.add(size)
