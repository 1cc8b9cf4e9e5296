"""The sizing planner: the smallest TPU slice whose HBM holds a model's weights with headroom.

Pure and stdlib-only. The estimate is deliberately simple: weights (parameters x bytes per parameter)
times a headroom factor that stands in for the KV cache, activations and runtime buffers. It does not
model sharding constraints (e.g. attention heads divisible by the chip count); it answers "which slice
is the first worth trying", and the reason it gives shows its arithmetic so a person can check it.
"""

import math
from dataclasses import dataclass

from gke_tpu_serving.catalog import TpuGeneration, TpuSlice, tpu_generation, tpu_slices
from gke_tpu_serving.errors import ArgError

__all__ = ["DEFAULT_HEADROOM", "SizingPlan", "plan_tpu_slice"]

DEFAULT_HEADROOM = 1.2
"""Memory beyond the weights, as a factor: 20% covers the KV cache and activations of modest batches."""

_BYTES_PER_GIB = 2**30


@dataclass(frozen=True)
class SizingPlan:
    """The slice the planner chose, the memory it had to hold, and why that slice."""

    tpu_slice: TpuSlice
    required_gib: float
    """Weights x headroom, in GiB."""
    reason: str
    """One or two sentences showing the arithmetic and the choice."""

    def __post_init__(self) -> None:
        # A plan whose slice cannot hold the model is a planner bug, not a user error.
        if not self.required_gib > 0:
            raise ArgError(("required_gib",), f"a sizing plan needs a positive required_gib; got {self.required_gib}")
        if self.tpu_slice.hbm_gib < self.required_gib:
            raise ArgError(
                ("tpu_slice",),
                f"a {self.tpu_slice.topology} slice ({self.tpu_slice.hbm_gib} GiB) does not hold "
                f"{self.required_gib:.1f} GiB",
            )


def _count(value: float) -> str:
    """A parameter count the way model cards write it: 175B, 8.03B, 350M."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def _plural(count: float, noun: str) -> str:
    return f"{count:g} {noun}" if count == 1 else f"{count:g} {noun}s"


def _describe(tpu_slice: TpuSlice) -> str:
    return (
        f"{tpu_slice.topology} on {tpu_slice.machine_type} ({_plural(tpu_slice.chips, 'chip')} x "
        f"{tpu_slice.hbm_gib_per_chip} GiB = {tpu_slice.hbm_gib} GiB, {_plural(tpu_slice.hosts, 'host')})"
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
    required_gib = parameters * bytes_per_parameter * headroom / _BYTES_PER_GIB
    arithmetic = (
        f"{_count(parameters)} parameters x {_plural(bytes_per_parameter, 'byte')} x {headroom:g} headroom "
        f"= {required_gib:.1f} GiB"
    )
    candidates = sorted(tpu_slices(spec.generation), key=_smallest_first)
    for index, candidate in enumerate(candidates):
        if candidate.hbm_gib < required_gib:
            continue
        if index == 0:
            verdict = f"{spec.display_name} {_describe(candidate)} is the smallest slice there is, and it fits."
        else:
            # Equal-chip candidates have equal HBM, so the one before the first fit has fewer chips.
            next_smaller = candidates[index - 1]
            verdict = (
                f"{spec.display_name} {_describe(candidate)} is the smallest slice that fits; the next "
                f"smaller, {next_smaller.topology} ({next_smaller.hbm_gib} GiB), does not."
            )
        return SizingPlan(tpu_slice=candidate, required_gib=required_gib, reason=f"{arithmetic}; {verdict}")
    largest = max(candidates, key=lambda candidate: candidate.hbm_gib)
    raise ArgError(
        ("parameters",),
        f"{arithmetic}, more than the largest {spec.display_name} slice, {_describe(largest)}; "
        "use a larger generation, fewer bytes per parameter, or several slices",
    )
