"""The accelerator catalog: every TPU slice's arithmetic, the pinned error messages, and its invariants."""

import re
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gke_tpu_serving.catalog import (
    AUTOPILOT_TPU_MIN_GKE_VERSION,
    GPU_ACCELERATORS,
    MIN_GKE_VERSION_RAY_ADDON,
    TPU_GENERATIONS,
    GpuAcceleratorType,
    TpuGeneration,
    TpuGenerationSpec,
    TpuMachineType,
    TpuSlice,
    check_autopilot_tpu_version,
    check_min_gke_version,
    check_tpu_zone,
    gpu_accelerator,
    gpu_machine,
    is_zone,
    parse_gke_version,
    region_of_zone,
    topology_chips,
    tpu_generation,
    tpu_slice,
    tpu_slice_of_args,
    tpu_slices,
    tpu_zones,
    tpu_zones_in_region,
)
from gke_tpu_serving.errors import ArgError

# (generation, machine type, topology, chips, hosts): the whole TPU catalog, written out by hand from
# GKE's documentation so that a change to the table in catalog.py has to be made twice, on purpose.
SLICES = [
    ("v4", "ct4p-hightpu-4t", "2x2x1", 4, 1),
    ("v4", "ct4p-hightpu-4t", "2x2x2", 8, 2),
    ("v4", "ct4p-hightpu-4t", "2x2x4", 16, 4),
    ("v4", "ct4p-hightpu-4t", "2x4x4", 32, 8),
    ("v4", "ct4p-hightpu-4t", "4x4x4", 64, 16),
    ("v4", "ct4p-hightpu-4t", "4x4x8", 128, 32),
    ("v4", "ct4p-hightpu-4t", "4x8x8", 256, 64),
    ("v4", "ct4p-hightpu-4t", "8x8x8", 512, 128),
    ("v4", "ct4p-hightpu-4t", "8x8x12", 768, 192),
    ("v4", "ct4p-hightpu-4t", "8x8x16", 1024, 256),
    ("v4", "ct4p-hightpu-4t", "8x16x16", 2048, 512),
    ("v4", "ct4p-hightpu-4t", "16x16x16", 4096, 1024),
    ("v5e", "ct5lp-hightpu-1t", "1x1", 1, 1),
    ("v5e", "ct5lp-hightpu-4t", "2x2", 4, 1),
    ("v5e", "ct5lp-hightpu-4t", "2x4", 8, 2),
    ("v5e", "ct5lp-hightpu-4t", "4x4", 16, 4),
    ("v5e", "ct5lp-hightpu-4t", "4x8", 32, 8),
    ("v5e", "ct5lp-hightpu-4t", "8x8", 64, 16),
    ("v5e", "ct5lp-hightpu-4t", "8x16", 128, 32),
    ("v5e", "ct5lp-hightpu-4t", "16x16", 256, 64),
    ("v5e", "ct5lp-hightpu-8t", "2x4", 8, 1),
    ("v5p", "ct5p-hightpu-4t", "2x2x1", 4, 1),
    ("v5p", "ct5p-hightpu-4t", "2x2x2", 8, 2),
    ("v5p", "ct5p-hightpu-4t", "2x2x4", 16, 4),
    ("v5p", "ct5p-hightpu-4t", "2x4x4", 32, 8),
    ("v5p", "ct5p-hightpu-4t", "4x4x4", 64, 16),
    ("v5p", "ct5p-hightpu-4t", "4x4x8", 128, 32),
    ("v5p", "ct5p-hightpu-4t", "4x8x8", 256, 64),
    ("v5p", "ct5p-hightpu-4t", "8x8x8", 512, 128),
    ("v5p", "ct5p-hightpu-4t", "8x8x16", 1024, 256),
    ("v5p", "ct5p-hightpu-4t", "8x16x16", 2048, 512),
    ("v5p", "ct5p-hightpu-4t", "16x16x16", 4096, 1024),
    ("v6e", "ct6e-standard-1t", "1x1", 1, 1),
    ("v6e", "ct6e-standard-4t", "2x2", 4, 1),
    ("v6e", "ct6e-standard-4t", "2x4", 8, 2),
    ("v6e", "ct6e-standard-4t", "4x4", 16, 4),
    ("v6e", "ct6e-standard-4t", "4x8", 32, 8),
    ("v6e", "ct6e-standard-4t", "8x8", 64, 16),
    ("v6e", "ct6e-standard-4t", "8x16", 128, 32),
    ("v6e", "ct6e-standard-4t", "16x16", 256, 64),
    ("v6e", "ct6e-standard-8t", "2x4", 8, 1),
    # TPU7x (Ironwood): sources beside its catalog entry.
    ("tpu7x", "tpu7x-standard-4t", "2x2x1", 4, 1),
    ("tpu7x", "tpu7x-standard-4t", "2x2x2", 8, 2),
    ("tpu7x", "tpu7x-standard-4t", "2x2x4", 16, 4),
    ("tpu7x", "tpu7x-standard-4t", "2x4x4", 32, 8),
    ("tpu7x", "tpu7x-standard-4t", "4x4x4", 64, 16),
]

CHIPS_PER_VM = {
    "ct4p-hightpu-4t": 4,
    "ct5lp-hightpu-1t": 1,
    "ct5lp-hightpu-4t": 4,
    "ct5lp-hightpu-8t": 8,
    "ct5p-hightpu-4t": 4,
    "ct6e-standard-1t": 1,
    "ct6e-standard-4t": 4,
    "ct6e-standard-8t": 8,
    "tpu7x-standard-4t": 4,
}

ACCELERATOR_LABELS = {
    "v4": "tpu-v4-podslice",
    "v5e": "tpu-v5-lite-podslice",
    "v5p": "tpu-v5p-slice",
    "v6e": "tpu-v6e-slice",
    "tpu7x": "tpu7x",
}

# As Google documents them: v4 in GiB, the others in GB (cloud.google.com/tpu/docs/<generation>).
HBM_BYTES_PER_CHIP = {"v4": 32 * 2**30, "v5e": 16 * 10**9, "v5p": 95 * 10**9, "v6e": 32 * 10**9, "tpu7x": 192 * 2**30}

ALL_CATALOG_SLICES = [
    (tpu_slice_.generation.value, tpu_slice_.machine_type, tpu_slice_.topology)
    for generation in TpuGeneration
    for tpu_slice_ in tpu_slices(generation)
]


SLICE_IDS = ["-".join(row[:3]) for row in SLICES]


# --- the TPU table, slice by slice ------------------------------------------------------------------


def test_the_expected_table_lists_exactly_the_catalog_slices() -> None:
    assert sorted(row[:3] for row in SLICES) == sorted(ALL_CATALOG_SLICES)


@pytest.mark.parametrize(("generation", "machine_type", "topology", "chips", "hosts"), SLICES, ids=SLICE_IDS)
def test_slice_chips_and_hosts(generation: str, machine_type: str, topology: str, chips: int, hosts: int) -> None:
    tpu = tpu_slice(generation, machine_type, topology)

    assert (tpu.chips, tpu.hosts, tpu.chips_per_vm) == (chips, hosts, CHIPS_PER_VM[machine_type])
    assert tpu.multi_host is (hosts > 1)


@pytest.mark.parametrize(("generation", "machine_type", "topology", "chips", "hosts"), SLICES, ids=SLICE_IDS)
def test_slice_node_selector_names_accelerator_and_topology(
    generation: str, machine_type: str, topology: str, chips: int, hosts: int
) -> None:
    assert tpu_slice(generation, machine_type, topology).node_selector == {
        "cloud.google.com/gke-tpu-accelerator": ACCELERATOR_LABELS[generation],
        "cloud.google.com/gke-tpu-topology": topology,
    }


@pytest.mark.parametrize(("generation", "machine_type", "topology", "chips", "hosts"), SLICES, ids=SLICE_IDS)
def test_slice_placement_policy_is_compact_only_for_multi_host(
    generation: str, machine_type: str, topology: str, chips: int, hosts: int
) -> None:
    expected = {"type": "COMPACT", "tpu_topology": topology} if hosts > 1 else None

    assert tpu_slice(generation, machine_type, topology).placement_policy == expected


@pytest.mark.parametrize(("generation", "machine_type", "topology", "chips", "hosts"), SLICES, ids=SLICE_IDS)
def test_only_multi_host_tpu7x_slices_need_a_workload_policy(
    generation: str, machine_type: str, topology: str, chips: int, hosts: int
) -> None:
    assert tpu_slice(generation, machine_type, topology).needs_workload_policy == (generation == "tpu7x" and hosts > 1)


@pytest.mark.parametrize(("generation", "machine_type", "topology", "chips", "hosts"), SLICES, ids=SLICE_IDS)
def test_slice_requests_every_chip_of_one_vm(
    generation: str, machine_type: str, topology: str, chips: int, hosts: int
) -> None:
    assert tpu_slice(generation, machine_type, topology).accelerator_resources == {
        "google.com/tpu": CHIPS_PER_VM[machine_type]
    }


@pytest.mark.parametrize(("generation", "machine_type", "topology", "chips", "hosts"), SLICES, ids=SLICE_IDS)
def test_slice_hbm_is_chips_times_hbm_per_chip(
    generation: str, machine_type: str, topology: str, chips: int, hosts: int
) -> None:
    assert tpu_slice(generation, machine_type, topology).hbm_bytes == chips * HBM_BYTES_PER_CHIP[generation]


def test_2x4_is_single_host_on_8t_and_two_hosts_on_4t() -> None:
    assert tpu_slice("v6e", "ct6e-standard-8t", "2x4").hosts == 1
    assert tpu_slice("v6e", "ct6e-standard-4t", "2x4").hosts == 2
    assert tpu_slice("v5e", "ct5lp-hightpu-8t", "2x4").hosts == 1
    assert tpu_slice("v5e", "ct5lp-hightpu-4t", "2x4").hosts == 2


def test_tpu_slice_accepts_the_enum_as_well_as_its_value() -> None:
    assert tpu_slice(TpuGeneration.V5E, "ct5lp-hightpu-4t", "4x8") == tpu_slice("v5e", "ct5lp-hightpu-4t", "4x8")


@pytest.mark.parametrize(
    ("generation", "label", "min_gke_version"),
    [
        ("v4", "tpu-v4-podslice", "1.26.1-gke.1500"),
        ("v5e", "tpu-v5-lite-podslice", "1.27.2-gke.2100"),
        ("v5p", "tpu-v5p-slice", "1.28.3-gke.1024000"),
        ("v6e", "tpu-v6e-slice", "1.31.2-gke.1115000"),
        ("tpu7x", "tpu7x", "1.34.0-gke.2201000"),
    ],
)
def test_generation_label_and_minimum_gke_version(generation: str, label: str, min_gke_version: str) -> None:
    spec = tpu_generation(generation)

    assert (spec.accelerator_label, spec.min_gke_version) == (label, min_gke_version)


def test_catalog_has_one_entry_per_generation() -> None:
    assert set(TPU_GENERATIONS) == set(TpuGeneration)
    assert all(spec.generation is generation for generation, spec in TPU_GENERATIONS.items())


def test_catalog_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        # Typed as a read-only Mapping; the cast lets the test try what a careless caller might.
        cast(Any, TPU_GENERATIONS)[TpuGeneration.V4] = TPU_GENERATIONS[TpuGeneration.V5E]


def test_ray_addon_minimum_gke_version() -> None:
    assert MIN_GKE_VERSION_RAY_ADDON == "1.30.0-gke.1747000"


# --- TPU errors, message by message -----------------------------------------------------------------


def test_unknown_generation_lists_the_generations() -> None:
    with pytest.raises(ArgError, match=re.escape("unknown TPU generation 'v7'; allowed: v4, v5e, v5p, v6e, tpu7x")):
        tpu_generation("v7")


def test_machine_type_of_another_generation_lists_the_generations_machine_types() -> None:
    message = "machine type 'ct5lp-hightpu-4t' is not a TPU v4 machine type; allowed: ct4p-hightpu-4t"
    with pytest.raises(ArgError, match=re.escape(message)):
        tpu_slice("v4", "ct5lp-hightpu-4t", "2x2x1")


def test_machine_type_error_lists_every_machine_type_of_the_generation() -> None:
    message = (
        "machine type 'ct6e-standard-4t' is not a TPU v5e machine type; "
        "allowed: ct5lp-hightpu-1t, ct5lp-hightpu-4t, ct5lp-hightpu-8t"
    )
    with pytest.raises(ArgError, match=re.escape(message)):
        tpu_slice("v5e", "ct6e-standard-4t", "2x2")


def test_invalid_topology_lists_single_and_multi_host_topologies() -> None:
    message = (
        "topology '4x4x4' is not valid for TPU v5e on ct5lp-hightpu-4t; "
        "allowed: 2x2 (single-host), 2x4, 4x4, 4x8, 8x8, 8x16, 16x16 (multi-host)"
    )
    with pytest.raises(ArgError, match=re.escape(message)):
        tpu_slice("v5e", "ct5lp-hightpu-4t", "4x4x4")


def test_two_dimensional_topology_is_invalid_for_v4() -> None:
    message = (
        "topology '2x2' is not valid for TPU v4 on ct4p-hightpu-4t; allowed: 2x2x1 (single-host), "
        "2x2x2, 2x2x4, 2x4x4, 4x4x4, 4x4x8, 4x8x8, 8x8x8, 8x8x12, 8x8x16, 8x16x16, 16x16x16 (multi-host)"
    )
    with pytest.raises(ArgError, match=re.escape(message)):
        tpu_slice("v4", "ct4p-hightpu-4t", "2x2")


def test_invalid_topology_on_a_single_host_machine_type_lists_only_single_host() -> None:
    message = "topology '2x2' is not valid for TPU v6e on ct6e-standard-8t; allowed: 2x4 (single-host)"
    with pytest.raises(ArgError, match=re.escape(message)):
        tpu_slice("v6e", "ct6e-standard-8t", "2x2")


def test_transposed_topology_is_not_the_same_topology() -> None:
    with pytest.raises(ArgError, match=re.escape("topology '8x4' is not valid for TPU v5e")):
        tpu_slice("v5e", "ct5lp-hightpu-4t", "8x4")


@pytest.mark.parametrize(("topology", "chips"), [("1x1", 1), ("2x2x1", 4), ("4x8", 32), ("16x16x16", 4096)])
def test_topology_chips_is_the_product_of_dimensions(topology: str, chips: int) -> None:
    assert topology_chips(topology) == chips


@pytest.mark.parametrize("topology", ["abc", "4x", "x4", "0x2", "2x0x2", "2x2x2x2", "4", "2X2", " 2x2", "02x2", ""])
def test_malformed_topology(topology: str) -> None:
    message = f"topology {topology!r} is not of the form AxB or AxBxC with positive integers"
    with pytest.raises(ArgError, match=f"^{re.escape('topology: ' + message)}$"):
        topology_chips(topology)


def test_zone_not_offering_the_generation_lists_its_zones() -> None:
    with pytest.raises(ArgError, match=re.escape("zone 'us-central1-a' does not offer TPU v4; allowed: us-central2-b")):
        check_tpu_zone("v4", "us-central1-a")


@pytest.mark.parametrize(
    ("generation", "zone"),
    [
        ("v4", "us-central2-b"),
        ("v5e", "us-central1-a"),
        ("v5p", "us-central1-a"),
        ("v5p", "us-east5-a"),
        ("v6e", "us-central1-b"),
        ("tpu7x", "us-central1-c"),
    ],
)
def test_zone_offering_the_generation_passes(generation: str, zone: str) -> None:
    check_tpu_zone(generation, zone)


def test_v5e_and_v6e_share_us_central1_but_not_a_zone() -> None:
    assert tpu_zones_in_region("v5e", "us-central1") == ("us-central1-a",)
    assert tpu_zones_in_region("v6e", "us-central1") == ("us-central1-b",)


def test_zones_in_a_region_without_the_generation_is_empty() -> None:
    assert tpu_zones_in_region("v4", "us-central1") == ()


def test_zones_in_a_region_keeps_every_zone_of_that_region() -> None:
    assert tpu_zones_in_region("v6e", "us-east5") == ("us-east5-a", "us-east5-b")


def test_v4_is_offered_only_in_us_central2_b() -> None:
    assert tpu_zones(TpuGeneration.V4) == ("us-central2-b",)


@pytest.mark.parametrize(
    ("zone", "region"),
    [
        ("us-central1-a", "us-central1"),
        ("europe-west4-b", "europe-west4"),
        ("southamerica-east1-c", "southamerica-east1"),
    ],
)
def test_region_of_zone(zone: str, region: str) -> None:
    assert region_of_zone(zone) == region
    assert is_zone(zone)


@pytest.mark.parametrize("location", ["us-central1", "us-central1-", "us-central1-ab", "central1-a", ""])
def test_region_of_a_non_zone_is_an_error(location: str) -> None:
    message = f"{location!r} is not a zone name; expected REGION-LETTER, e.g. us-central1-a"
    with pytest.raises(ArgError, match=f"^{re.escape('zone: ' + message)}$"):
        region_of_zone(location)
    assert not is_zone(location)


# --- GKE versions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "parsed"),
    [
        ("1.31.2-gke.1115000", (1, 31, 2, 1115000)),
        ("1.30.0-gke.1747000", (1, 30, 0, 1747000)),
        ("1.31.2", (1, 31, 2)),
        ("1.30", (1, 30)),
    ],
)
def test_parse_gke_version(version: str, parsed: tuple[int, ...]) -> None:
    assert parse_gke_version(version) == parsed


@pytest.mark.parametrize("version", ["latest", "1", "1.31.", "v1.31.2", "1.31-gke.5", "1.31.2-gke.", "1.31.2.3", ""])
def test_malformed_gke_version(version: str) -> None:
    message = (
        f"GKE version {version!r} is not of the form MAJOR.MINOR, MAJOR.MINOR.PATCH or "
        "MAJOR.MINOR.PATCH-gke.BUILD (e.g. 1.31.2-gke.1115000)"
    )
    with pytest.raises(ArgError, match=f"^{re.escape('version: ' + message)}$"):
        parse_gke_version(version)


def test_gke_version_below_minimum_names_both_and_the_reason() -> None:
    message = "GKE version '1.30.5-gke.100' is below 1.31.2-gke.1115000, the minimum for TPU v6e"
    with pytest.raises(ArgError, match=f"^{re.escape('version: ' + message)}$"):
        check_min_gke_version("1.30.5-gke.100", "1.31.2-gke.1115000", "TPU v6e")


def test_minor_only_version_is_below_a_patch_minimum_of_the_same_minor() -> None:
    message = "GKE version '1.31' is below 1.31.2-gke.1115000, the minimum for TPU v6e"
    with pytest.raises(ArgError, match=f"^{re.escape('version: ' + message)}$"):
        check_min_gke_version("1.31", "1.31.2-gke.1115000", "TPU v6e")


@pytest.mark.parametrize("version", ["1.30.0-gke.1747000", "1.30.0-gke.1747001", "1.30.1", "1.31", "2.0"])
def test_gke_version_at_or_above_minimum_passes(version: str) -> None:
    check_min_gke_version(version, MIN_GKE_VERSION_RAY_ADDON, "the Ray add-on")


def test_malformed_version_is_reported_by_the_minimum_check() -> None:
    with pytest.raises(ArgError, match=re.escape("GKE version 'latest' is not of the form")):
        check_min_gke_version("latest", MIN_GKE_VERSION_RAY_ADDON, "the Ray add-on")


# --- catalog entries validate themselves ------------------------------------------------------------


def test_single_host_topology_larger_than_the_vm_is_rejected() -> None:
    message = "single-host topology '2x4' has 8 chips, more than the 4 chips of one ct-test-4t VM"
    with pytest.raises(ArgError, match=re.escape(message)):
        TpuMachineType("ct-test-4t", 4, single_host_topologies=("2x4",), multi_host_topologies=())


def test_multi_host_topology_must_be_several_whole_vms() -> None:
    message = (
        "multi-host topology '2x3' has 6 chips, which is not a multiple of more than one ct-test-4t VM (4 chips each)"
    )
    with pytest.raises(ArgError, match=re.escape(message)):
        TpuMachineType("ct-test-4t", 4, single_host_topologies=("2x2",), multi_host_topologies=("2x3",))


def test_multi_host_topology_of_one_vm_is_rejected() -> None:
    with pytest.raises(ArgError, match=re.escape("multi-host topology '2x2' has 4 chips")):
        TpuMachineType("ct-test-4t", 4, single_host_topologies=(), multi_host_topologies=("2x2",))


def test_machine_type_mixing_2d_and_3d_topologies_is_rejected() -> None:
    with pytest.raises(ArgError, match=re.escape("mixes 2-D and 3-D topologies")):
        TpuMachineType("ct-test-4t", 4, single_host_topologies=("2x2",), multi_host_topologies=("2x2x2",))


def test_machine_type_with_a_malformed_topology_is_rejected() -> None:
    with pytest.raises(ArgError, match=re.escape("topology '2x' is not of the form")):
        TpuMachineType("ct-test-4t", 4, single_host_topologies=("2x",), multi_host_topologies=())


def _generation_spec(**overrides: Any) -> TpuGenerationSpec:
    fields: dict[str, Any] = {
        "generation": TpuGeneration.V5E,
        "accelerator_label": "tpu-test",
        "hbm_bytes_per_chip": 16 * 10**9,
        "machine_types": (TpuMachineType("ct-test-4t", 4, ("2x2",), ("2x4",)),),
        "zones": ("us-central1-a",),
        "min_gke_version": "1.30",
    }
    fields.update(overrides)
    return TpuGenerationSpec(**fields)


def test_generation_spec_accepts_a_consistent_entry() -> None:
    assert _generation_spec().accelerator_label == "tpu-test"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"zones": ("us-central1",)}, "TPU v5e lists 'us-central1', which is not a zone name"),
        ({"zones": ()}, "TPU v5e has no zones"),
        ({"min_gke_version": "latest"}, "GKE version 'latest' is not of the form"),
        ({"hbm_bytes_per_chip": 0}, "TPU v5e has 0 bytes of HBM per chip; allowed: 1 GB or more"),
        ({"machine_types": ()}, "TPU v5e has no machine types"),
        (
            {
                "machine_types": (
                    TpuMachineType("ct-test-4t", 4, ("2x2",), ()),
                    TpuMachineType("ct-test-8t", 8, (), ("2x2x4",)),
                )
            },
            "TPU v5e mixes 2-D and 3-D topologies across machine types",
        ),
    ],
    ids=["region-as-zone", "no-zones", "bad-version", "no-hbm", "no-machine-types", "mixed-dimensions"],
)
def test_generation_spec_rejects_an_inconsistent_entry(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ArgError, match=re.escape(message)):
        _generation_spec(**overrides)


def test_slice_with_a_wrong_host_count_is_rejected() -> None:
    with pytest.raises(ArgError, match=re.escape("a 4x8 slice of 4-chip VMs has 8 hosts, not 4")):
        TpuSlice(TpuGeneration.V5E, "ct5lp-hightpu-4t", "4x8", 32, 4, 4, "tpu-v5-lite-podslice", 16)


# --- GPUs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accelerator_type", "memory_gib", "machine_gpus"),
    [
        (
            "nvidia-l4",
            24,
            {
                "g2-standard-4": 1,
                "g2-standard-8": 1,
                "g2-standard-12": 1,
                "g2-standard-16": 1,
                "g2-standard-24": 2,
                "g2-standard-32": 1,
                "g2-standard-48": 4,
                "g2-standard-96": 8,
            },
        ),
        (
            "nvidia-tesla-t4",
            16,
            {"n1-standard-4": 1, "n1-standard-8": 1, "n1-standard-16": 2, "n1-standard-32": 4},
        ),
        (
            "nvidia-tesla-a100",
            40,
            {
                "a2-highgpu-1g": 1,
                "a2-highgpu-2g": 2,
                "a2-highgpu-4g": 4,
                "a2-highgpu-8g": 8,
                "a2-megagpu-16g": 16,
            },
        ),
        (
            "nvidia-a100-80gb",
            80,
            {"a2-ultragpu-1g": 1, "a2-ultragpu-2g": 2, "a2-ultragpu-4g": 4, "a2-ultragpu-8g": 8},
        ),
        (
            "nvidia-h100-80gb",
            80,
            {"a3-highgpu-1g": 1, "a3-highgpu-2g": 2, "a3-highgpu-4g": 4, "a3-highgpu-8g": 8},
        ),
    ],
)
def test_gpu_accelerator_memory_and_machines(
    accelerator_type: str, memory_gib: int, machine_gpus: dict[str, int]
) -> None:
    spec = gpu_accelerator(accelerator_type)

    assert spec.memory_gib_per_gpu == memory_gib
    assert {machine.name: machine.gpus_per_vm for machine in spec.machine_types} == machine_gpus
    assert {name: gpu_machine(accelerator_type, name).gpus_per_vm for name in machine_gpus} == machine_gpus


def test_gpu_catalog_has_one_entry_per_type() -> None:
    assert set(GPU_ACCELERATORS) == set(GpuAcceleratorType)
    assert gpu_accelerator(GpuAcceleratorType.NVIDIA_L4) is GPU_ACCELERATORS[GpuAcceleratorType.NVIDIA_L4]


def test_unknown_gpu_type_lists_the_types() -> None:
    message = (
        "unknown GPU accelerator type 'nvidia-a10'; allowed: nvidia-l4, nvidia-tesla-t4, nvidia-tesla-a100, "
        "nvidia-a100-80gb, nvidia-h100-80gb"
    )
    with pytest.raises(ArgError, match=f"^{re.escape('accelerator_type: ' + message)}$"):
        gpu_accelerator("nvidia-a10")


def test_gpu_machine_that_does_not_carry_the_type_lists_the_machines_that_do() -> None:
    message = (
        "machine type 'n1-standard-8' does not carry nvidia-l4 GPUs; allowed: g2-standard-4, g2-standard-8, "
        "g2-standard-12, g2-standard-16, g2-standard-24, g2-standard-32, g2-standard-48, g2-standard-96"
    )
    with pytest.raises(ArgError, match=f"^{re.escape('machine_type: ' + message)}$"):
        gpu_machine("nvidia-l4", "n1-standard-8")


def test_catalog_error_is_a_value_error() -> None:
    assert issubclass(ArgError, ValueError)


@pytest.mark.parametrize(
    ("check", "path"),
    [
        (lambda: tpu_generation("v7"), ("generation",)),
        (lambda: tpu_slice("v7", "ct6e-standard-8t", "2x4"), ("generation",)),
        (lambda: tpu_slice("v6e", "ct5lp-hightpu-8t", "2x4"), ("machine_type",)),
        (lambda: tpu_slice("v6e", "ct6e-standard-8t", "2x2"), ("topology",)),
        (lambda: topology_chips("2x"), ("topology",)),
        (lambda: check_tpu_zone("v4", "us-central1-a"), ("zone",)),
        (lambda: region_of_zone("us-central1"), ("zone",)),
        (lambda: parse_gke_version("latest"), ("version",)),
        (lambda: check_min_gke_version("1.30", "1.31.2-gke.1115000", "TPU v6e"), ("version",)),
        (lambda: gpu_accelerator("nvidia-a10"), ("accelerator_type",)),
        (lambda: gpu_machine("nvidia-l4", "n1-standard-8"), ("machine_type",)),
    ],
)
def test_each_check_names_the_field_it_judges(check: Any, path: tuple[str, ...]) -> None:
    with pytest.raises(ArgError) as error:
        check()
    assert error.value.path == path
    assert str(error.value) == f"{path[0]}: {error.value.reason}"


def test_component_args_locate_the_catalogs_complaint_at_their_own_field() -> None:
    args = {"tpu_generation": "v6e", "tpu_machine_type": "ct6e-standard-8t", "tpu_topology": "2x4"}
    assert tpu_slice_of_args(args) == tpu_slice("v6e", "ct6e-standard-8t", "2x4")
    for key, bad in (("tpu_generation", "v7"), ("tpu_machine_type", "ct5lp-hightpu-8t"), ("tpu_topology", "2x2")):
        with pytest.raises(ArgError) as error:
            tpu_slice_of_args({**args, key: bad})
        assert error.value.path == (key,)


# --- properties -------------------------------------------------------------------------------------

catalog_slices = st.sampled_from(ALL_CATALOG_SLICES)
machine_types_by_generation = st.sampled_from(
    [(spec.generation.value, machine.name) for spec in TPU_GENERATIONS.values() for machine in spec.machine_types]
)
topologies = st.lists(st.integers(min_value=1, max_value=32), min_size=2, max_size=3).map(
    lambda dimensions: "x".join(str(dimension) for dimension in dimensions)
)


@settings(max_examples=60)
@given(catalog_slices)
def test_hosts_times_chips_per_vm_is_chips_for_multi_host_and_hosts_is_one_otherwise(
    row: tuple[str, str, str],
) -> None:
    tpu = tpu_slice(*row)

    if tpu.multi_host:
        assert tpu.hosts * tpu.chips_per_vm == tpu.chips
    else:
        assert tpu.hosts == 1
        assert tpu.chips <= tpu.chips_per_vm


@settings(max_examples=60)
@given(catalog_slices)
def test_kuberay_num_of_hosts_is_the_node_count(row: tuple[str, str, str]) -> None:
    tpu = tpu_slice(*row)

    assert tpu.kuberay_num_of_hosts == tpu.hosts


@settings(max_examples=150)
@given(machine_types_by_generation, topologies | st.text(max_size=8))
def test_any_topology_outside_the_allowed_list_is_rejected_with_the_list(
    generation_and_machine: tuple[str, str], topology: str
) -> None:
    generation, machine_type = generation_and_machine
    allowed = tpu_generation(generation).machine_type(machine_type).topologies
    if topology in allowed:
        assert tpu_slice(generation, machine_type, topology).topology == topology
        return
    with pytest.raises(ArgError, match="allowed:"):
        tpu_slice(generation, machine_type, topology)


gke_version_parts = st.tuples(st.integers(0, 3), st.integers(0, 40), st.integers(0, 20), st.integers(0, 3_000_000))


def _format_version(parts: tuple[int, int, int, int]) -> str:
    major, minor, patch, build = parts
    return f"{major}.{minor}.{patch}-gke.{build}"


@settings(max_examples=150)
@given(gke_version_parts, gke_version_parts)
def test_gke_version_order_is_tuple_order(first: tuple[int, int, int, int], second: tuple[int, int, int, int]) -> None:
    first_parsed = parse_gke_version(_format_version(first))
    second_parsed = parse_gke_version(_format_version(second))

    assert (first_parsed, second_parsed) == (first, second)
    assert (first_parsed < second_parsed) == (first < second)


@settings(max_examples=150)
@given(gke_version_parts, gke_version_parts)
def test_minimum_check_fails_exactly_when_the_version_is_older(
    version: tuple[int, int, int, int], minimum: tuple[int, int, int, int]
) -> None:
    if version < minimum:
        with pytest.raises(ArgError, match="is below"):
            check_min_gke_version(_format_version(version), _format_version(minimum), "TPU v6e")
    else:
        check_min_gke_version(_format_version(version), _format_version(minimum), "TPU v6e")


# GKE Autopilot: which generations it provisions, from which version.
AUTOPILOT_MINIMUMS = [
    (TpuGeneration.V4, "1.29.2-gke.1521000"),
    (TpuGeneration.V5E, "1.29.2-gke.1521000"),
    (TpuGeneration.V5P, "1.29.2-gke.1521000"),
    (TpuGeneration.V6E, "1.31.2-gke.1384000"),
    (TpuGeneration.TPU7X, "1.34.1-gke.3084001"),
]


def test_the_autopilot_table_lists_every_generation_once() -> None:
    assert dict(AUTOPILOT_MINIMUMS) == dict(AUTOPILOT_TPU_MIN_GKE_VERSION)


@pytest.mark.parametrize(("generation", "minimum"), AUTOPILOT_MINIMUMS)
def test_autopilot_offers_the_generation_from_its_minimum_version(generation: TpuGeneration, minimum: str) -> None:
    check_autopilot_tpu_version(generation, minimum)
    check_autopilot_tpu_version(generation.value, None)  # the channel's default version is newer than any minimum


@pytest.mark.parametrize(("generation", "minimum"), AUTOPILOT_MINIMUMS)
def test_autopilot_refuses_a_version_below_the_generations_minimum(generation: TpuGeneration, minimum: str) -> None:
    with pytest.raises(
        ArgError,
        match=re.escape(f"GKE version '1.29' is below {minimum}, the minimum for TPU {generation.value} on Autopilot"),
    ):
        check_autopilot_tpu_version(generation, "1.29")


def test_autopilot_minimums_are_never_below_the_standard_ones() -> None:
    for generation, minimum in AUTOPILOT_TPU_MIN_GKE_VERSION.items():
        check_min_gke_version(minimum, tpu_generation(generation).min_gke_version, f"TPU {generation.value}")
