"""The sizing planner: the smallest slice that holds the model, and a reason that shows the arithmetic."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gke_tpu_serving.catalog import TpuGeneration, tpu_slice, tpu_slices
from gke_tpu_serving.catalog.sizing import DEFAULT_HEADROOM, SizingPlan, plan_tpu_slice
from gke_tpu_serving.errors import ArgError

GB = 10**9
HEADROOM_TOO_SMALL = "headroom must be at least 1 (it covers the KV cache and activations)"


@pytest.mark.parametrize("headroom", [1.2, 1.4])
def test_175b_bf16_on_v5e_is_a_4x8_slice_of_eight_hosts(headroom: float) -> None:
    plan = plan_tpu_slice(175e9, 2, "v5e", headroom=headroom)

    assert plan.tpu_slice == tpu_slice("v5e", "ct5lp-hightpu-4t", "4x8")
    assert plan.tpu_slice.hosts == 8


@pytest.mark.parametrize("headroom", [1.2, 1.5])
def test_70b_bf16_on_v6e_is_a_single_host_2x4(headroom: float) -> None:
    plan = plan_tpu_slice(70e9, 2, "v6e", headroom=headroom)

    assert plan.tpu_slice == tpu_slice("v6e", "ct6e-standard-8t", "2x4")
    assert plan.tpu_slice.hosts == 1


def test_175b_reason_shows_the_arithmetic_and_the_next_smaller_slice() -> None:
    assert plan_tpu_slice(175e9, 2, "v5e").reason == (
        "175B parameters x 2 bytes x 1.2 headroom = 420 GB; TPU v5e 4x8 on ct5lp-hightpu-4t "
        "(32 chips x 16 GB = 512 GB, 8 hosts) is the smallest slice that fits; the next smaller, "
        "4x4 (256 GB), does not."
    )


def test_70b_reason_names_the_single_host_slice() -> None:
    assert plan_tpu_slice(70e9, 2, TpuGeneration.V6E).reason == (
        "70B parameters x 2 bytes x 1.2 headroom = 168 GB; TPU v6e 2x4 on ct6e-standard-8t "
        "(8 chips x 32 GB = 256 GB, 1 host) is the smallest slice that fits; the next smaller, "
        "2x2 (128 GB), does not."
    )


def test_required_bytes_is_weights_times_headroom() -> None:
    assert plan_tpu_slice(175e9, 2, "v5e", headroom=1.5).required_bytes == pytest.approx(175e9 * 2 * 1.5)


def test_default_headroom_is_twenty_percent() -> None:
    assert DEFAULT_HEADROOM == 1.2
    assert plan_tpu_slice(70e9, 2, "v6e").required_bytes == pytest.approx(70e9 * 2 * 1.2)


@pytest.mark.parametrize(
    ("generation", "machine_type", "topology"),
    [
        ("v4", "ct4p-hightpu-4t", "2x2x1"),
        ("v5e", "ct5lp-hightpu-1t", "1x1"),
        ("v5p", "ct5p-hightpu-4t", "2x2x1"),
        ("v6e", "ct6e-standard-1t", "1x1"),
    ],
)
def test_tiny_model_gets_the_smallest_slice(generation: str, machine_type: str, topology: str) -> None:
    assert plan_tpu_slice(1e9, 2, generation).tpu_slice == tpu_slice(generation, machine_type, topology)


def test_reason_for_the_smallest_slice_says_there_is_none_smaller() -> None:
    assert plan_tpu_slice(1e9, 1, "v4").reason == (
        "1B parameters x 1 byte x 1.2 headroom = 1.2 GB; TPU v4 2x2x1 on ct4p-hightpu-4t "
        "(4 chips x 34.4 GB = 137.4 GB, 1 host) is the smallest slice there is, and it fits."
    )


@pytest.mark.parametrize(
    ("generation", "single_host_machine_type"), [("v5e", "ct5lp-hightpu-8t"), ("v6e", "ct6e-standard-8t")]
)
def test_equal_chips_prefers_the_single_host_slice(generation: str, single_host_machine_type: str) -> None:
    # Needs more than a 2x2 but fits in 8 chips: both 2x4 slices fit, the one-host one wins.
    four_chips_bytes = tpu_slice(generation, single_host_machine_type, "2x4").hbm_bytes / 2
    plan = plan_tpu_slice(four_chips_bytes + GB, 1, generation, headroom=1)

    assert (plan.tpu_slice.topology, plan.tpu_slice.machine_type, plan.tpu_slice.hosts) == (
        "2x4",
        single_host_machine_type,
        1,
    )


def test_exact_fit_is_a_fit() -> None:
    plan = plan_tpu_slice(64 * GB, 1, "v5e", headroom=1)

    assert plan.tpu_slice == tpu_slice("v5e", "ct5lp-hightpu-4t", "2x2")


def test_model_larger_than_the_largest_slice_names_both_sizes() -> None:
    message = (
        "2T parameters x 2 bytes x 1.2 headroom = 4,800 GB, more than the largest TPU v5e slice, "
        "TPU v5e 16x16 on ct5lp-hightpu-4t (256 chips x 16 GB = 4,096 GB, 64 hosts); "
        "use a larger generation, fewer bytes per parameter, or several slices"
    )
    with pytest.raises(ArgError, match=f"^{re.escape('parameters: ' + message)}$"):
        plan_tpu_slice(2e12, 2, "v5e")


@pytest.mark.parametrize(
    ("parameters", "bytes_per_parameter", "headroom", "message"),
    [
        (0, 2, 1.2, "parameters must be a positive finite number; got 0"),
        (-7e9, 2, 1.2, "parameters must be a positive finite number; got -7000000000.0"),
        (float("nan"), 2, 1.2, "parameters must be a positive finite number; got nan"),
        (float("inf"), 2, 1.2, "parameters must be a positive finite number; got inf"),
        (7e9, 0, 1.2, "bytes_per_parameter must be a positive finite number; got 0"),
        (7e9, -1, 1.2, "bytes_per_parameter must be a positive finite number; got -1"),
        (7e9, 2, 0.9, "headroom must be at least 1 (it covers the KV cache and activations); got 0.9"),
        (
            7e9,
            2,
            float("nan"),
            "headroom must be at least 1 (it covers the KV cache and activations); got nan",
        ),
    ],
)
def test_bad_inputs_are_rejected(parameters: float, bytes_per_parameter: float, headroom: float, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message.split()[0] + ': ' + message)}$"):
        plan_tpu_slice(parameters, bytes_per_parameter, "v5e", headroom=headroom)


def test_unknown_generation_is_rejected() -> None:
    with pytest.raises(ArgError, match=re.escape("unknown TPU generation 'v7'; allowed: v4, v5e, v5p, v6e")):
        plan_tpu_slice(7e9, 2, "v7")


def test_a_plan_whose_slice_does_not_fit_cannot_be_built() -> None:
    with pytest.raises(ArgError, match=re.escape("a 2x2 slice (64 GB) does not hold 100.5 GB")):
        SizingPlan(tpu_slice("v5e", "ct5lp-hightpu-4t", "2x2"), required_bytes=100.5 * GB, reason="")


@settings(max_examples=100)
@given(
    # Log-uniform, so 1M-parameter toys and 100T-parameter giants are equally likely.
    parameters=st.floats(min_value=6, max_value=14).map(lambda exponent: 10**exponent),
    bytes_per_parameter=st.sampled_from([0.5, 1, 2, 4]),
    generation=st.sampled_from(list(TpuGeneration)),
    headroom=st.floats(min_value=1, max_value=3),
)
def test_chosen_slice_fits_and_no_slice_with_fewer_chips_does(
    parameters: float, bytes_per_parameter: float, generation: TpuGeneration, headroom: float
) -> None:
    required = parameters * bytes_per_parameter * headroom
    candidates = tpu_slices(generation)
    if required > max(candidate.hbm_bytes for candidate in candidates):
        with pytest.raises(ArgError, match="more than the largest"):
            plan_tpu_slice(parameters, bytes_per_parameter, generation, headroom)
        return

    plan = plan_tpu_slice(parameters, bytes_per_parameter, generation, headroom)

    assert plan.tpu_slice.hbm_bytes >= plan.required_bytes
    assert not [
        candidate
        for candidate in candidates
        if candidate.chips < plan.tpu_slice.chips and candidate.hbm_bytes >= plan.required_bytes
    ]
    assert not [
        candidate
        for candidate in candidates
        if candidate.chips == plan.tpu_slice.chips and candidate.hosts < plan.tpu_slice.hosts
    ]
