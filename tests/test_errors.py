"""errors.py and names.py: one error type for bad arguments, located at the field it judges, and what a component
raises from it (what Python callers and callers in other languages see)."""

from typing import Any

import pulumi
import pytest

from gke_tpu_serving.errors import ArgError, ComponentArgsError, component_errors
from gke_tpu_serving.names import (
    check_bucket_name,
    check_dns_label,
    check_gke_name,
    check_pinned_image,
    check_region,
    check_service_account_id,
)


def test_arg_error_message_is_path_then_reason() -> None:
    error = ArgError(("tpu_pools", 1, "min_nodes"), "-1 is not allowed")
    assert str(error) == "tpu_pools[1].min_nodes: -1 is not allowed"
    assert (error.path, error.reason) == (("tpu_pools", 1, "min_nodes"), "-1 is not allowed")


def test_arg_error_without_a_path_is_its_reason() -> None:
    assert str(ArgError((), "'X' is not a valid DNS-1123 label")) == "'X' is not a valid DNS-1123 label"


def test_within_prefixes_the_path() -> None:
    error = ArgError(("topology",), "bad").within(("tpu_pools", 0))
    assert (error.path, error.reason) == (("tpu_pools", 0, "topology"), "bad")


def test_renamed_renames_only_the_first_part_it_knows() -> None:
    names = {"topology": "tpu_topology"}
    assert ArgError(("topology", 0), "bad").renamed(names).path == ("tpu_topology", 0)
    assert ArgError(("zone",), "bad").renamed(names).path == ("zone",)
    assert ArgError((), "bad").renamed(names).path == ()


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (check_gke_name, "Serve"),
        (check_dns_label, "Llama"),
        (check_service_account_id, "ab"),
        (check_bucket_name, "google-weights"),
        (check_region, "us-central1-a"),
        (check_pinned_image, "vllm/vllm-tpu:latest"),
    ],
)
def test_name_checks_raise_arg_error_at_the_field_they_are_asked_to_judge(check: Any, value: str) -> None:
    with pytest.raises(ArgError) as bare:
        check(value)
    assert bare.value.path == ()
    with pytest.raises(ArgError) as located:
        check(value, at=("grants", 2, "name"))
    assert located.value.path == ("grants", 2, "name")
    assert located.value.reason == bare.value.reason == str(bare.value)


def _raise(error: Exception) -> None:
    with component_errors("GkeTpuCluster", "serve"):
        raise error


def test_component_error_is_an_input_properties_error_with_the_camel_case_property_path() -> None:
    with pytest.raises(ComponentArgsError) as error:
        _raise(ArgError(("tpu_pools", 1, "min_nodes"), "-1 is not allowed; allowed: an integer >= 0"))
    assert isinstance(error.value, pulumi.InputPropertiesError)
    assert isinstance(error.value, ValueError)
    assert (
        str(error.value) == "GkeTpuCluster 'serve': tpu_pools[1].min_nodes: -1 is not allowed; allowed: an integer >= 0"
    )
    assert error.value.message == str(error.value)
    assert error.value.errors == [
        {"property_path": "tpuPools[1].minNodes", "reason": "-1 is not allowed; allowed: an integer >= 0"}
    ]


def test_python_callers_catch_it_as_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^GkeTpuCluster 'serve': location: bad$"):
        _raise(ArgError(("location",), "bad"))


@pytest.mark.parametrize(
    "error", [ArgError((), "'X' is not a valid GKE name"), ValueError("'X' is not a valid GKE name")]
)
def test_a_check_of_the_resource_name_names_no_input_property(error: Exception) -> None:
    with pytest.raises(ComponentArgsError) as raised:
        _raise(error)
    assert str(raised.value) == "GkeTpuCluster 'serve': name: 'X' is not a valid GKE name"
    assert raised.value.errors is None


def test_other_exceptions_pass_through() -> None:
    with pytest.raises(KeyError):
        _raise(KeyError("project"))
