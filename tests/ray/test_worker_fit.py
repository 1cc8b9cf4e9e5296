"""Ray workers against their hosts: a worker larger than its part of the node is refused; serving workers' defaults
derive from the node."""

from fractions import Fraction

import pytest

from gke_tpu_serving.catalog import GpuAcceleratorType, TpuGeneration
from gke_tpu_serving.errors import ArgError
from gke_tpu_serving.ray.groups import gpu_worker_group, tpu_worker_group, worker_defaults


def test_a_tpu_worker_larger_than_its_host_is_refused() -> None:
    with pytest.raises(ArgError) as raised:
        tpu_worker_group(
            {
                "group_name": "tpu",
                "tpu_generation": TpuGeneration.V5E,
                "tpu_machine_type": "ct5lp-hightpu-1t",
                "tpu_topology": "1x1",
                "memory": "64Gi",
            }
        )
    assert str(raised.value) == (
        "memory: 64Gi of memory does not fit: a ct5lp-hightpu-1t node leaves 23870m CPU and 44423Mi memory "
        "allocatable; allowed: at most 44423Mi"
    )


def test_a_gpu_worker_with_part_of_the_gpus_gets_that_part_of_the_node() -> None:
    with pytest.raises(ArgError) as raised:
        gpu_worker_group(
            {
                "group_name": "gpu",
                "accelerator_type": GpuAcceleratorType.NVIDIA_L4,
                "machine_type": "g2-standard-24",
                "gpus": 1,
                "cpu": "16",
            }
        )
    assert str(raised.value) == (
        "cpu: 16 CPU does not fit: 1/2 of a g2-standard-24 node leaves 11935m CPU and 45313Mi memory allocatable; "
        "allowed: at most 11935m"
    )


def test_a_worker_on_a_host_without_a_sourced_shape_is_not_checked() -> None:
    group = tpu_worker_group(
        {
            "group_name": "tpu",
            "tpu_generation": TpuGeneration.V4,
            "tpu_machine_type": "ct4p-hightpu-4t",
            "tpu_topology": "2x2x1",
            "memory": "4000Gi",
        }
    )
    assert group.memory == "4000Gi"


@pytest.mark.parametrize(
    ("machine", "share", "defaults"),
    [
        ("ct5lp-hightpu-4t", Fraction(1), {"cpu": "25", "memory": "163Gi"}),
        ("g2-standard-8", Fraction(1), {"cpu": "1", "memory": "25Gi"}),
        ("ct4p-hightpu-4t", Fraction(1), {}),
    ],
)
def test_serving_worker_defaults_derive_from_the_host(machine: str, share: Fraction, defaults: dict[str, str]) -> None:
    assert worker_defaults(machine, share) == defaults
