"""What a Stable Diffusion replica compiles before it is ready: the count and the estimate the preview prints (stack
output `stableDiffusion.startupCompile`). The refusals, and the extra shapes reaching the application, are in
test_stable_diffusion_stack.py."""

from collections.abc import Callable
from typing import Any

import pytest

from gke_tpu_serving.offline import PreviewResult
from stacks.scenarios.stable_diffusion_shapes import compiled_shapes, startup_compile


def test_the_dev_stack_prints_its_four_shapes_with_the_h100_figure_as_the_only_measurement(
    shipped_stack: Callable[[str], PreviewResult],
) -> None:
    assert shipped_stack("dev").outputs["stableDiffusion"]["startupCompile"] == {
        "shapes": 4,
        "batchSizes": 4,
        "sizes": 1,
        "steps": 1,
        "estimate": "not measured on tpu-v4-podslice; on one nvidia-h100-80gb it would be ~2.9-3.4 min (44-51 s per "
        "shape with SD 2.1 at 512x512; seconds each from a warm compile cache)",
    }


def test_on_an_h100_the_estimate_is_the_measured_cost_per_shape_times_the_shapes() -> None:
    settings = {"batch_sizes": [1, 8, 16], "extra_steps": [50]}
    assert startup_compile(settings, "nvidia-h100-80gb") == {
        "shapes": 6,
        "batchSizes": 3,
        "sizes": 1,
        "steps": 2,
        "estimate": "~4.4-5.1 min per replica on nvidia-h100-80gb (44-51 s per shape, measured with SD 2.1 at 512x512; "
        "seconds each from a warm compile cache)",
    }


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, (4, 1, 1)),  # the application's defaults: batch sizes 1, 2, 4, 8 at 512x512, 25 steps
        ({"batch_sizes": [1], "extra_sizes": [768, 1024], "extra_steps": [50]}, (1, 3, 2)),
        # The resolution listed again among the extra sizes is one size: the application serves a set.
        ({"resolution": 768, "extra_sizes": [768, 512], "default_steps": 30, "extra_steps": [30]}, (4, 2, 1)),
    ],
)
def test_a_replica_compiles_every_batch_size_at_every_size_and_step_count(
    settings: dict[str, Any], expected: tuple[int, int, int]
) -> None:
    assert compiled_shapes(settings) == expected
