"""`build_app`'s arguments (the serve config's `args:`) and the shapes they serve; no Ray cluster needed."""

import pytest
from sd_serve.app import AppArgs, build_app, parse_args
from sd_serve.contract import ServedShapes


def test_only_the_model_is_required_and_the_rest_defaults_as_documented():
    args = parse_args({"model": "/data/models/stable-diffusion-2-1"})

    assert args.model_dump() == {
        "model": "/data/models/stable-diffusion-2-1",
        "revision": None,
        "resolution": 512,
        "extra_sizes": [],
        "default_steps": 25,
        "extra_steps": [],
        "batch_sizes": [1, 2, 4, 8],
        "batch_wait_timeout_s": 0.05,
        "guidance_scale": 7.5,
        "compile_cache_dir": "/tmp/jax-cache",
        "compile_cache_bucket": None,
        "compile_cache_prefix": "sd-serve",
    }


def test_the_resolution_and_default_steps_are_always_served_with_the_extra_ones():
    args = AppArgs(model="m", resolution=512, extra_sizes=[768, 256, 512], default_steps=25, extra_steps=[50])

    assert args.served == ServedShapes(sizes=(256, 512, 768), steps=(25, 50))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "model: Field required (got {})"),
        ({"model": "m", "batch_size": [1]}, "batch_size: Extra inputs are not permitted (got [1])"),
        ({"model": "m", "resolution": 500}, "resolution: Input should be a multiple of 8 (got 500)"),
        (
            {"model": "m", "batch_sizes": []},
            "batch_sizes: List should have at least 1 item after validation, not 0 (got [])",
        ),
        ({"model": "m", "batch_sizes": [4, 0]}, "batch_sizes.1: Input should be greater than or equal to 1 (got 0)"),
        ({"model": "m", "extra_sizes": [100]}, "extra_sizes.0: Input should be a multiple of 8 (got 100)"),
        (
            {"model": "m", "batch_wait_timeout_s": -1},
            "batch_wait_timeout_s: Input should be greater than or equal to 0 (got -1)",
        ),
    ],
    ids=["no-model", "misspelt-key", "resolution", "no-batch-sizes", "zero-batch-size", "extra-size", "timeout"],
)
def test_bad_args_fail_the_build_naming_the_key_and_the_value(args: dict[str, object], message: str):
    with pytest.raises(ValueError) as raised:
        build_app(args)

    assert str(raised.value) == f"invalid args for sd_serve.app:build_app: {message}"


@pytest.mark.parametrize(
    ("width", "height", "steps", "refusal"),
    [
        (512, 512, 25, None),
        (768, 768, 50, None),
        (640, 640, 25, "size 640x640 is not served: allowed sizes are 512x512, 768x768"),
        (512, 768, 25, "size 512x768 is not served: allowed sizes are 512x512, 768x768"),
        (512, 512, 30, "steps 30 is not served: allowed steps are 25, 50"),
    ],
)
def test_a_shape_is_served_only_if_it_was_compiled(width: int, height: int, steps: int, refusal: str | None):
    served = ServedShapes(sizes=(512, 768), steps=(25, 50))

    assert served.refusal(width, height, steps) == refusal
