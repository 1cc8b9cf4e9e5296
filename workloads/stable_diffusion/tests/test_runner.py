"""The model runner in this process: the tiny random pipeline on two CPU devices (see conftest.py)."""

from typing import Any

import numpy as np
import pytest
from sd_serve import pipeline
from sd_serve.runner import ModelRunner, Shape, UnservedShapeError, compile_counter
from tiny_app import CPU_DEVICES, SIZE, STEPS

# --- batching and devices ---------------------------------------------------------------------------------------


def test_batch_sizes_are_per_device_so_each_call_spans_every_device(runner: Any):
    assert len(runner.devices) == CPU_DEVICES
    assert runner.batch_sizes == [2, 4]


def test_every_batch_size_is_compiled_at_warm_up(runner: Any):
    assert runner.compiled_shapes == [Shape(2, SIZE, STEPS), Shape(4, SIZE, STEPS)]


@pytest.mark.parametrize(("images", "padded"), [(1, 2), (2, 2), (3, 4), (4, 4)])
def test_a_batch_is_padded_to_the_smallest_compiled_size_that_holds_it(runner: Any, images: int, padded: int):
    assert runner.padded_batch(images) == padded


def test_images_come_back_as_rgb_bytes_of_the_requested_size_one_per_prompt(runner: Any):
    images = runner.generate(["a cat", "a dog", "a fox"], [1, 2, 3], SIZE, STEPS)

    assert (images.shape, images.dtype) == ((3, SIZE, SIZE, 3), np.uint8)


def test_more_prompts_than_the_largest_batch_are_split_into_several_calls(runner: Any):
    images = runner.generate([f"prompt {n}" for n in range(6)], list(range(6)), SIZE, STEPS)

    assert images.shape == (6, SIZE, SIZE, 3)


def test_generating_builds_no_executable_once_warmed_up(runner: Any):
    counter = compile_counter()
    before = counter.executables

    for count in (1, 2, 3, 4, 5):
        runner.generate(["a cat"] * count, list(range(count)), SIZE, STEPS)

    assert counter.executables == before


def test_the_default_size_and_steps_compile_first_smallest_batch_first(runner: Any):
    # Constructing a runner compiles nothing: only the order is looked at.
    loaded = pipeline.LoadedPipeline(runner.pipeline, runner._params, "random:tiny")
    big = 2 * SIZE
    ordered = ModelRunner(
        loaded, sizes=[SIZE, big], steps=[STEPS, 5], batch_sizes=[1, 2], default_size=big, default_steps=5
    ).shapes()

    assert ordered == [
        Shape(2, big, 5),
        Shape(4, big, 5),
        Shape(2, big, STEPS),
        Shape(4, big, STEPS),
        Shape(2, SIZE, 5),
        Shape(4, SIZE, 5),
        Shape(2, SIZE, STEPS),
        Shape(4, SIZE, STEPS),
    ]


def test_a_default_that_is_not_served_is_refused(runner: Any):
    loaded = pipeline.LoadedPipeline(runner.pipeline, {}, "random:tiny")

    with pytest.raises(
        ValueError, match=r"^default size 64 and steps 2 must be among the sizes \[32\] and steps \[2\]$"
    ):
        ModelRunner(loaded, sizes=[SIZE], steps=[STEPS], batch_sizes=[1], default_size=64)


# --- seeds ------------------------------------------------------------------------------------------------------


def test_a_seed_gives_the_same_image_whatever_shares_its_batch(runner: Any):
    alone = runner.generate(["a red barn"], [42], SIZE, STEPS)[0]
    in_company = runner.generate(["a blue sea", "a red barn", "a green hill"], [7, 42, 9], SIZE, STEPS)[1]

    np.testing.assert_array_equal(alone, in_company)


def test_different_seeds_give_different_images(runner: Any):
    first, second = runner.generate(["a red barn", "a red barn"], [1, 2], SIZE, STEPS)

    assert not np.array_equal(first, second)


# --- refusals ---------------------------------------------------------------------------------------------------


def test_a_size_that_was_not_compiled_is_refused_with_the_allowed_sizes(runner: Any):
    with pytest.raises(UnservedShapeError, match=r"^size 64x64 is not served: allowed sizes are 32x32$"):
        runner.generate(["a cat"], [1], 64, STEPS)


def test_a_step_count_that_was_not_compiled_is_refused_with_the_allowed_counts(runner: Any):
    with pytest.raises(UnservedShapeError, match=r"^steps 3 is not served: allowed steps are 2$"):
        runner.generate(["a cat"], [1], SIZE, 3)


def test_a_seed_outside_32_bits_is_refused(runner: Any):
    with pytest.raises(ValueError, match=r"^seed 4294967296 is outside 0\.\.4294967295$"):
        runner.generate(["a cat"], [2**32], SIZE, STEPS)


def test_a_size_the_model_cannot_halve_evenly_is_refused_before_anything_compiles(runner: Any):
    loaded = pipeline.LoadedPipeline(runner.pipeline, {}, "random:tiny")

    with pytest.raises(ValueError, match=r"^size 36 is not a positive multiple of 8, which this model needs$"):
        ModelRunner(loaded, sizes=[36], steps=[STEPS], batch_sizes=[1])


# --- persistent compilation cache -------------------------------------------------------------------------------


def test_a_second_runner_loads_every_program_from_the_persistent_cache(runner: Any):
    counter = compile_counter()
    hits_before = counter.persistent_cache_hits
    loaded = pipeline.LoadedPipeline(runner.pipeline, runner._params, "random:tiny")

    second = ModelRunner(loaded, sizes=[SIZE], steps=[STEPS], batch_sizes=[1, 2])
    second.compile_all()

    assert counter.persistent_cache_hits - hits_before == len(second.shapes()) == 2
