"""Machine shapes and GKE's allocatable: every row written out again by hand from its source, and the reservation
formula checked against the example on GKE's own page."""

from fractions import Fraction

import pytest

from gke_tpu_serving.catalog import MACHINE_SHAPES, MAX_NODES_PER_POOL_ZONE, gke_allocatable, machine_shape
from gke_tpu_serving.catalog.machines import (
    MachineShape,
    gke_reserved_cpu_millis,
    gke_reserved_memory_mib,
    require_machine_shape,
)
from gke_tpu_serving.errors import ArgError

# (machine type, vCPUs, GiB): TPU v5e/v5p from the TPU docs' VM tables, the rest from Compute Engine's machine-type
# list (2026-12-02).
SHAPES = [
    ("ct5lp-hightpu-1t", 24, 48),
    ("ct5lp-hightpu-4t", 112, 192),
    ("ct5lp-hightpu-8t", 224, 384),
    ("ct5p-hightpu-4t", 208, 448),
    ("ct6e-standard-1t", 44, 176),
    ("ct6e-standard-4t", 180, 720),
    ("ct6e-standard-8t", 360, 1440),
    ("g2-standard-4", 4, 16),
    ("g2-standard-8", 8, 32),
    ("g2-standard-12", 12, 48),
    ("g2-standard-16", 16, 64),
    ("g2-standard-24", 24, 96),
    ("g2-standard-32", 32, 128),
    ("g2-standard-48", 48, 192),
    ("g2-standard-96", 96, 384),
    ("n1-standard-4", 4, 15),
    ("n1-standard-8", 8, 30),
    ("n1-standard-16", 16, 60),
    ("n1-standard-32", 32, 120),
    ("a2-highgpu-1g", 12, 85),
    ("a2-highgpu-2g", 24, 170),
    ("a2-highgpu-4g", 48, 340),
    ("a2-highgpu-8g", 96, 680),
    ("a2-megagpu-16g", 96, 1360),
    ("a2-ultragpu-1g", 12, 170),
    ("a2-ultragpu-2g", 24, 340),
    ("a2-ultragpu-4g", 48, 680),
    ("a2-ultragpu-8g", 96, 1360),
    ("a3-highgpu-1g", 26, 234),
    ("a3-highgpu-2g", 52, 468),
    ("a3-highgpu-4g", 104, 936),
    ("a3-highgpu-8g", 208, 1872),
    ("e2-standard-4", 4, 16),
]


@pytest.mark.parametrize(("name", "vcpus", "gib"), SHAPES)
def test_each_machine_shape_is_its_sources(name: str, vcpus: int, gib: int) -> None:
    shape = machine_shape(name)
    assert shape is not None
    assert (shape.vcpus, shape.memory_mib) == (vcpus, gib * 1024)


def test_the_table_holds_exactly_the_sourced_rows() -> None:
    assert sorted(MACHINE_SHAPES) == sorted(name for name, _, _ in SHAPES)


def test_a_machine_without_a_source_has_no_shape() -> None:
    assert machine_shape("ct4p-hightpu-4t") is None
    with pytest.raises(ArgError, match=r"^machine_type: 'ct4p-hightpu-4t' has no sourced shape in the catalog; "):
        require_machine_shape("ct4p-hightpu-4t")


def test_cpu_reservation_matches_gkes_own_four_vcpu_example() -> None:
    # plan-node-sizes shows a 4-vCPU node with capacity 4 and allocatable 3920m.
    assert gke_allocatable(4, 16 * 1024).cpu_millis == 3920


@pytest.mark.parametrize(
    ("vcpus", "reserved_millis"),
    [(1, Fraction(60)), (2, Fraction(70)), (4, Fraction(80)), (8, Fraction(90)), (360, Fraction(970))],
)
def test_cpu_reservation_tiers(vcpus: int, reserved_millis: Fraction) -> None:
    assert gke_reserved_cpu_millis(vcpus) == reserved_millis


@pytest.mark.parametrize(
    ("gib", "reserved_mib"),
    [
        # 25% of 4 GiB, + 20% of the next 4, + 10% of the next 8, + 6% of the next 112, + 2% above 128; + 100 MiB.
        (4, Fraction(1024 + 100)),
        (8, Fraction(1024 + Fraction(4096, 5) + 100)),
        (16, Fraction(1024 + Fraction(4096, 5) + Fraction(8192, 10) + 100)),
        (128, Fraction(1024 + Fraction(4096, 5) + Fraction(8192, 10) + Fraction(112 * 1024 * 6, 100) + 100)),
        (
            1440,
            Fraction(1024 + Fraction(4096, 5) + Fraction(8192, 10) + Fraction(112 * 1024 * 6, 100) + 100)
            + Fraction(1312 * 1024 * 2, 100),
        ),
    ],
)
def test_memory_reservation_tiers(gib: int, reserved_mib: Fraction) -> None:
    assert gke_reserved_memory_mib(gib * 1024) == reserved_mib


def test_a_shape_below_one_gib_is_refused() -> None:
    with pytest.raises(ArgError) as raised:
        MachineShape("tiny", 1, 512, "nowhere")
    assert str(raised.value) == (
        "machine_type: machine shape 'tiny' (1 vCPUs, 512 MiB) is not allowed; allowed: a name, at least 1 vCPU and "
        "1 GiB (GKE reserves 255 MiB on smaller machines, which this table omits)"
    )


def test_gke_pool_size_limit() -> None:
    assert MAX_NODES_PER_POOL_ZONE == 1000
