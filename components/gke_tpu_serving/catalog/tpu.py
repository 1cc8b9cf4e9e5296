"""The TPU catalog: generations, machine types, topologies and zones as GKE offers them, and the slice arithmetic
derived from them (chips, hosts, node selectors, placement). Pure and stdlib-only.

The facts come from GKE's TPU documentation ("TPUs in GKE", "Plan TPUs in GKE", the per-generation availability
tables), as of late 2026: when GKE adds zones, machine types or topologies, update `TPU_GENERATIONS` and the
table-driven tests in tests/catalog/test_catalog.py with it. Longer than 400 lines because the table is most of it: the
entries are validated by the dataclasses above them, and splitting them apart would separate a fact from its check."""

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Any

from gke_tpu_serving.catalog.gke import is_zone, parse_gke_version, region_of_zone
from gke_tpu_serving.errors import ArgError, allowed_values

GB = 10**9
"""A gigabyte as Google documents HBM (v5e, v5p, v6e) and as the planner shows it."""
GIB = 2**30
"""A gibibyte, as Google documents TPU v4's HBM."""


class TpuGeneration(Enum):
    """A Cloud TPU generation that GKE can run as a node pool."""

    # A plain Enum, not a `str` mix-in: Pulumi's schema analyzer infers component enums from `Enum`.
    V4 = "v4"
    V5E = "v5e"
    V5P = "v5p"
    V6E = "v6e"
    TPU7X = "tpu7x"
    """Ironwood, GKE's name for it: TPU7x."""


class MultiHostPlacement(Enum):
    """How GKE places the hosts of a multi-host slice on one interconnect."""

    COMPACT_TOPOLOGY = "compact-topology"
    """A COMPACT placement policy naming the topology (v4, v5e, v5p, v6e)."""
    WORKLOAD_POLICY = "workload-policy"
    """A Compute Engine workload policy (a resource policy of type HIGH_THROUGHPUT with the accelerator topology) that
    the node pool's placement policy names (TPU7x)."""


# Dimensions are positive integers without leading zeros; GKE topologies are 2-D (v5e, v6e) or 3-D (v4, v5p).
_TOPOLOGY_PATTERN = re.compile(r"[1-9][0-9]*(?:x[1-9][0-9]*){1,2}")


def topology_chips(topology: str) -> int:
    """The number of chips in a TPU topology: ``"2x2x1"`` -> 4, ``"4x8"`` -> 32.

    Raises `ArgError` unless the topology is two or three positive integers joined by ``x``.
    """
    if not isinstance(topology, str) or _TOPOLOGY_PATTERN.fullmatch(topology) is None:
        raise ArgError(("topology",), f"topology {topology!r} is not of the form AxB or AxBxC with positive integers")
    return math.prod(int(dimension) for dimension in topology.split("x"))


def _topology_dimensions(topology: str) -> int:
    return topology.count("x") + 1


@dataclass(frozen=True)
class TpuMachineType:
    """A TPU VM shape of one generation and the slice topologies GKE accepts on it."""

    name: str
    """The GCE machine type, e.g. ``ct5lp-hightpu-4t``."""
    chips_per_vm: int
    """TPU chips attached to one VM (one Kubernetes node); pods request this many ``google.com/tpu``."""
    single_host_topologies: tuple[str, ...]
    """Topologies that fit on one VM: the node pool has one node and no placement policy."""
    multi_host_topologies: tuple[str, ...]
    """Topologies that span several VMs: the node pool is one atomic slice with a COMPACT placement policy."""

    def __post_init__(self) -> None:
        if not self.name:
            raise ArgError(("name",), "a TPU machine type needs a name")
        if self.chips_per_vm < 1:
            raise ArgError(
                ("chips_per_vm",),
                f"machine type {self.name!r} has {self.chips_per_vm} chips per VM; it needs at least 1",
            )
        if not self.topologies:
            raise ArgError(("single_host_topologies",), f"machine type {self.name!r} has no topologies")
        if len(set(self.topologies)) != len(self.topologies):
            raise ArgError(
                ("multi_host_topologies",),
                f"machine type {self.name!r} lists a topology twice: {allowed_values(self.topologies)}",
            )
        if len({_topology_dimensions(topology) for topology in self.topologies}) > 1:
            raise ArgError(
                ("multi_host_topologies",),
                f"machine type {self.name!r} mixes 2-D and 3-D topologies: {allowed_values(self.topologies)}",
            )
        for topology in self.single_host_topologies:
            # A single-host slice may use fewer chips than the VM has, but never more.
            if topology_chips(topology) > self.chips_per_vm:
                raise ArgError(
                    ("single_host_topologies",),
                    f"single-host topology {topology!r} has {topology_chips(topology)} chips, more than the "
                    f"{self.chips_per_vm} chips of one {self.name} VM",
                )
        for topology in self.multi_host_topologies:
            chips = topology_chips(topology)
            # GKE sizes a multi-host pool as chips / chips_per_vm nodes; anything else is rejected.
            if chips <= self.chips_per_vm or chips % self.chips_per_vm != 0:
                raise ArgError(
                    ("multi_host_topologies",),
                    f"multi-host topology {topology!r} has {chips} chips, which is not a multiple of "
                    f"more than one {self.name} VM ({self.chips_per_vm} chips each)",
                )

    @property
    def topologies(self) -> tuple[str, ...]:
        """Every topology of this machine type, single-host first."""
        return self.single_host_topologies + self.multi_host_topologies


@dataclass(frozen=True)
class TpuGenerationSpec:
    """One TPU generation as GKE offers it: node label, HBM, machine types, zones and minimum GKE version."""

    generation: TpuGeneration
    accelerator_label: str
    """The value of the ``cloud.google.com/gke-tpu-accelerator`` node label, e.g. ``tpu-v5-lite-podslice``."""
    hbm_bytes_per_chip: int
    """High-bandwidth memory per chip, in bytes, written in the unit Google documents it in (``16 * GB``)."""
    machine_types: tuple[TpuMachineType, ...]
    zones: tuple[str, ...]
    """Zones where GKE offers this generation."""
    min_gke_version: str
    """The first GKE version that supports this generation's node pools."""
    multi_host_placement: MultiHostPlacement = MultiHostPlacement.COMPACT_TOPOLOGY
    """How the node pool of a multi-host slice is placed."""

    def __post_init__(self) -> None:
        if not self.accelerator_label:
            raise ArgError(("accelerator_label",), f"TPU {self.generation.value} needs an accelerator label")
        if self.hbm_bytes_per_chip < GB:
            raise ArgError(
                ("hbm_bytes_per_chip",),
                f"TPU {self.generation.value} has {self.hbm_bytes_per_chip} bytes of HBM per chip; allowed: 1 GB or "
                "more",
            )
        if not self.machine_types:
            raise ArgError(("machine_types",), f"TPU {self.generation.value} has no machine types")
        names = [machine_type.name for machine_type in self.machine_types]
        if len(set(names)) != len(names):
            raise ArgError(
                ("machine_types",), f"TPU {self.generation.value} lists a machine type twice: {allowed_values(names)}"
            )
        # The dimension count is a property of the chip interconnect (2-D torus for v5e/v6e, 3-D for v4/v5p),
        # so all machine types of a generation must agree.
        dimensions = {
            _topology_dimensions(topology)
            for machine_type in self.machine_types
            for topology in machine_type.topologies
        }
        if len(dimensions) > 1:
            raise ArgError(
                ("machine_types",), f"TPU {self.generation.value} mixes 2-D and 3-D topologies across machine types"
            )
        if not self.zones:
            raise ArgError(("zones",), f"TPU {self.generation.value} has no zones")
        for zone in self.zones:
            if not is_zone(zone):
                raise ArgError(("zones",), f"TPU {self.generation.value} lists {zone!r}, which is not a zone name")
        if len(set(self.zones)) != len(self.zones):
            raise ArgError(("zones",), f"TPU {self.generation.value} lists a zone twice: {allowed_values(self.zones)}")
        parse_gke_version(self.min_gke_version)

    @property
    def display_name(self) -> str:
        """How messages name the generation: ``"TPU v5e"``."""
        return f"TPU {self.generation.value}"

    def machine_type(self, name: str) -> TpuMachineType:
        """The machine type called `name`; `ArgError` if it is not of this generation."""
        for machine_type in self.machine_types:
            if machine_type.name == name:
                return machine_type
        raise ArgError(
            ("machine_type",),
            f"machine type {name!r} is not a {self.display_name} machine type; "
            f"allowed: {allowed_values(machine_type.name for machine_type in self.machine_types)}",
        )


@dataclass(frozen=True)
class TpuSlice:
    """One TPU slice: a generation, machine type and topology, with everything derived from them.

    Build it with `tpu_slice`, which checks the combination against the catalog.
    """

    generation: TpuGeneration
    machine_type: str
    topology: str
    chips: int
    """Chips in the whole slice (the product of the topology's dimensions)."""
    chips_per_vm: int
    hosts: int
    """VMs (Kubernetes nodes) in the slice: the node pool's node count."""
    accelerator_label: str
    hbm_bytes_per_chip: int
    multi_host_placement: MultiHostPlacement = MultiHostPlacement.COMPACT_TOPOLOGY

    def __post_init__(self) -> None:
        if self.chips != topology_chips(self.topology):
            raise ArgError(
                ("chips",), f"topology {self.topology!r} has {topology_chips(self.topology)} chips, not {self.chips}"
            )
        if self.chips > self.chips_per_vm and self.chips % self.chips_per_vm != 0:
            raise ArgError(
                ("chips",),
                f"a {self.topology} slice ({self.chips} chips) does not divide into {self.chips_per_vm}-chip VMs",
            )
        expected_hosts = max(self.chips // self.chips_per_vm, 1)
        if self.hosts != expected_hosts:
            raise ArgError(
                ("hosts",),
                f"a {self.topology} slice of {self.chips_per_vm}-chip VMs has {expected_hosts} hosts, not {self.hosts}",
            )

    @property
    def multi_host(self) -> bool:
        """Whether the slice spans several VMs: it then needs a COMPACT placement and scales atomically."""
        return self.hosts > 1

    @property
    def hbm_bytes(self) -> int:
        """High-bandwidth memory of the whole slice, in bytes."""
        return self.chips * self.hbm_bytes_per_chip

    @property
    def node_selector(self) -> dict[str, str]:
        """The pod node selector that lands pods on this slice's nodes."""
        return {
            "cloud.google.com/gke-tpu-accelerator": self.accelerator_label,
            "cloud.google.com/gke-tpu-topology": self.topology,
        }

    @property
    def placement_policy(self) -> dict[str, str] | None:
        """The node pool placement policy: COMPACT with the topology for multi-host, none for single-host.

        GKE requires it on multi-host pools (it places the VMs on one interconnected slice) and rejects a
        topology on single-host pools.
        """
        if not self.multi_host:
            return None
        return {"type": "COMPACT", "tpu_topology": self.topology}

    @property
    def needs_workload_policy(self) -> bool:
        """Whether the slice's node pool names a workload policy (TPU7x multi-host): the cluster creates one per pool,
        of type HIGH_THROUGHPUT with the slice's topology as its accelerator topology."""
        return self.multi_host and self.multi_host_placement is MultiHostPlacement.WORKLOAD_POLICY

    @property
    def accelerator_resources(self) -> dict[str, int]:
        """The container resources (requests and limits alike) that claim every chip of one VM."""
        return {"google.com/tpu": self.chips_per_vm}

    @property
    def kuberay_num_of_hosts(self) -> int:
        """The worker group `numOfHosts` the KubeRay TPU webhook demands: max(chips / chips per VM, 1)."""
        return max(self.chips // self.chips_per_vm, 1)


def _index_tpu_generations(specs: Iterable[TpuGenerationSpec]) -> Mapping[TpuGeneration, TpuGenerationSpec]:
    specs = tuple(specs)
    table = {spec.generation: spec for spec in specs}
    if len(table) != len(specs):
        raise ArgError(("generation",), "the TPU catalog lists a generation twice")
    missing = [generation for generation in TpuGeneration if generation not in table]
    if missing:
        raise ArgError(("generation",), f"the TPU catalog lacks {allowed_values(missing)}")
    return MappingProxyType(table)


_V5E_V6E_MULTI_HOST = ("2x4", "4x4", "4x8", "8x8", "8x16", "16x16")

TPU_GENERATIONS: Mapping[TpuGeneration, TpuGenerationSpec] = _index_tpu_generations(
    [
        TpuGenerationSpec(
            generation=TpuGeneration.V4,
            accelerator_label="tpu-v4-podslice",
            # "HBM2 capacity and bandwidth: 32 GiB, 1200 GBps" (cloud.google.com/tpu/docs/v4, read 2026-12-07).
            hbm_bytes_per_chip=32 * GIB,
            machine_types=(
                TpuMachineType(
                    name="ct4p-hightpu-4t",
                    chips_per_vm=4,
                    single_host_topologies=("2x2x1",),
                    multi_host_topologies=(
                        "2x2x2",
                        "2x2x4",
                        "2x4x4",
                        "4x4x4",
                        "4x4x8",
                        "4x8x8",
                        "8x8x8",
                        "8x8x12",
                        "8x8x16",
                        "8x16x16",
                        "16x16x16",
                    ),
                ),
            ),
            zones=("us-central2-b",),
            min_gke_version="1.26.1-gke.1500",
        ),
        TpuGenerationSpec(
            generation=TpuGeneration.V5E,
            accelerator_label="tpu-v5-lite-podslice",
            # "HBM capacity per chip: 16 GB" (docs.cloud.google.com/tpu/docs/v5e, read 2026-12-07).
            hbm_bytes_per_chip=16 * GB,
            machine_types=(
                TpuMachineType("ct5lp-hightpu-1t", 1, single_host_topologies=("1x1",), multi_host_topologies=()),
                TpuMachineType("ct5lp-hightpu-4t", 4, ("2x2",), _V5E_V6E_MULTI_HOST),
                # 2x4 is single-host here and 2-host on ct5lp-hightpu-4t: both are valid slices.
                TpuMachineType("ct5lp-hightpu-8t", 8, single_host_topologies=("2x4",), multi_host_topologies=()),
            ),
            zones=(
                "us-central1-a",
                "us-south1-a",
                "us-west1-c",
                "us-west4-a",
                "us-east1-c",
                "us-east5-b",
                "europe-west4-b",
                "asia-southeast1-b",
            ),
            min_gke_version="1.27.2-gke.2100",
        ),
        # v5p, re-read 2026-12-07 for its serving path: zones us-central1-a and us-east5-a
        # (docs.cloud.google.com/tpu/docs/types-zones, North America; the Europe row was cut off in the copy read, so
        # europe-west4-b stands as first written); ct5p-hightpu-4t for a 4-chip v5p VM (cluster-toolkit@1047080375af
        # pkg/config/hardware.go, "v5p-4": "ct5p-hightpu-4t"; its ct5p-hightpu-1t/-2t are left out: no GKE page read
        # lists them); the topologies stand as first written from "Plan TPUs in GKE" (not re-read in full).
        TpuGenerationSpec(
            generation=TpuGeneration.V5P,
            accelerator_label="tpu-v5p-slice",
            # "HBM2e: 95 GB, 2765 GBps" (cloud.google.com/tpu/docs/v5p, its es-419 and pt-br pages, read 2026-12-07).
            hbm_bytes_per_chip=95 * GB,
            machine_types=(
                TpuMachineType(
                    name="ct5p-hightpu-4t",
                    chips_per_vm=4,
                    single_host_topologies=("2x2x1",),
                    multi_host_topologies=(
                        "2x2x2",
                        "2x2x4",
                        "2x4x4",
                        "4x4x4",
                        "4x4x8",
                        "4x8x8",
                        "8x8x8",
                        "8x8x16",
                        "8x16x16",
                        "16x16x16",
                    ),
                ),
            ),
            zones=("us-central1-a", "us-east5-a", "europe-west4-b"),
            min_gke_version="1.28.3-gke.1024000",
        ),
        TpuGenerationSpec(
            generation=TpuGeneration.V6E,
            accelerator_label="tpu-v6e-slice",
            # "HBM capacity per chip: 32 GB" (docs.cloud.google.com/tpu/docs/v6e, read 2026-12-07).
            hbm_bytes_per_chip=32 * GB,
            machine_types=(
                TpuMachineType("ct6e-standard-1t", 1, single_host_topologies=("1x1",), multi_host_topologies=()),
                TpuMachineType("ct6e-standard-4t", 4, ("2x2",), _V5E_V6E_MULTI_HOST),
                TpuMachineType("ct6e-standard-8t", 8, single_host_topologies=("2x4",), multi_host_topologies=()),
            ),
            zones=(
                "us-central1-b",
                "us-east1-d",
                "us-east5-a",
                "us-east5-b",
                "europe-west4-a",
                "asia-northeast1-b",
                "southamerica-east1-c",
            ),
            min_gke_version="1.31.2-gke.1115000",
        ),
        # Ironwood. Each fact read 2026-12-07:
        # - 4 chips per VM; Standard from 1.34.0-gke.2201000; a workload policy (HIGH_THROUGHPUT) places multi-host
        #   pools instead of the topology flag: docs.cloud.google.com/kubernetes-engine/docs/concepts/tpu-ironwood
        # - 192 GiB of HBM per chip: docs.cloud.google.com/tpu/docs/tpu7x (system architecture table, "GiB")
        # - zone us-central1-c: docs.cloud.google.com/tpu/docs/types-zones (the AI zone us-central1-ai1a is left out:
        #   it is not of the region-letter form the catalog's zone check accepts)
        # - machine type tpu7x-standard-4t, node label tpu7x, topology 2x2x1 on one VM: Google's own tools, as no GKE
        #   page with them could be read: GoogleCloudPlatform/cluster-toolkit@1047080375af
        #   modules/internal/tpu-definition/main.tf ("tpu7x" = "tpu7x") and examples/gke-tpu-7x/README.md, and
        #   AI-Hypercomputer/xpk goldens (SystemCharacteristics(topology='2x2x1', vms_per_slice=1, gke_accelerator=
        #   'tpu7x', gce_machine_type='tpu7x-standard-4t', chips_per_vm=4))
        # - multi-host 2x2x2, 2x2x4, 2x4x4 and 4x4x4: xpk's generate_tpu_topologies (AI-Hypercomputer/xpk PR 834:
        #   "2x2x1, 2x2x2, 2x2x4, 2x4x4" plus multiples of 4x4x4); the larger ones are left out until a GKE page
        #   lists them.
        TpuGenerationSpec(
            generation=TpuGeneration.TPU7X,
            accelerator_label="tpu7x",
            hbm_bytes_per_chip=192 * GIB,
            machine_types=(
                TpuMachineType(
                    name="tpu7x-standard-4t",
                    chips_per_vm=4,
                    single_host_topologies=("2x2x1",),
                    multi_host_topologies=("2x2x2", "2x2x4", "2x4x4", "4x4x4"),
                ),
            ),
            zones=("us-central1-c",),
            min_gke_version="1.34.0-gke.2201000",
            multi_host_placement=MultiHostPlacement.WORKLOAD_POLICY,
        ),
    ]
)
"""The TPU catalog, one spec per generation."""


def tpu_generation(name: str | TpuGeneration) -> TpuGenerationSpec:
    """The catalog entry of a TPU generation, given as the enum or its value (``"v5e"``)."""
    if isinstance(name, TpuGeneration):
        return TPU_GENERATIONS[name]
    try:
        generation = TpuGeneration(name)
    except ValueError:
        raise ArgError(
            ("generation",), f"unknown TPU generation {name!r}; allowed: {allowed_values(TpuGeneration)}"
        ) from None
    return TPU_GENERATIONS[generation]


def _slice_of(spec: TpuGenerationSpec, machine_type: TpuMachineType, topology: str) -> TpuSlice:
    chips = topology_chips(topology)
    return TpuSlice(
        generation=spec.generation,
        machine_type=machine_type.name,
        topology=topology,
        chips=chips,
        chips_per_vm=machine_type.chips_per_vm,
        hosts=1 if topology in machine_type.single_host_topologies else chips // machine_type.chips_per_vm,
        accelerator_label=spec.accelerator_label,
        hbm_bytes_per_chip=spec.hbm_bytes_per_chip,
        multi_host_placement=spec.multi_host_placement,
    )


def tpu_slice(generation: str | TpuGeneration, machine_type: str, topology: str) -> TpuSlice:
    """The slice of `topology` on `machine_type` VMs of `generation`, checked against the catalog.

    Topologies are matched exactly as GKE spells them (``"2x4"``, not ``"2X4"`` or ``"4x2"``); a malformed
    topology gets the same message as a well-formed but unsupported one, because the allowed list is what
    the user needs either way.
    """
    spec = tpu_generation(generation)
    machine = spec.machine_type(machine_type)
    if topology not in machine.topologies:
        allowed = []
        if machine.single_host_topologies:
            allowed.append(f"{allowed_values(machine.single_host_topologies)} (single-host)")
        if machine.multi_host_topologies:
            allowed.append(f"{allowed_values(machine.multi_host_topologies)} (multi-host)")
        raise ArgError(
            ("topology",),
            f"topology {topology!r} is not valid for {spec.display_name} on {machine.name}; "
            f"allowed: {', '.join(allowed)}",
        )
    return _slice_of(spec, machine, topology)


TPU_SLICE_ARGS: Mapping[str, str] = MappingProxyType(
    {"generation": "tpu_generation", "machine_type": "tpu_machine_type", "topology": "tpu_topology"}
)
"""How components name `tpu_slice`'s fields in their args."""


def tpu_slice_of_args(args: Mapping[str, Any]) -> TpuSlice:
    """The slice of a component's `tpu_generation`, `tpu_machine_type` and `tpu_topology` args; `ArgError` located at
    the one the catalog rejects (an unknown generation is the generation's fault, not the topology's)."""
    try:
        return tpu_slice(args.get("tpu_generation"), args.get("tpu_machine_type"), args.get("tpu_topology"))  # type: ignore[arg-type]
    except ArgError as error:
        raise error.renamed(TPU_SLICE_ARGS) from None


def tpu_slices(generation: str | TpuGeneration) -> tuple[TpuSlice, ...]:
    """Every slice the catalog allows for a generation, in catalog order (machine type, then topology)."""
    spec = tpu_generation(generation)
    return tuple(
        _slice_of(spec, machine_type, topology)
        for machine_type in spec.machine_types
        for topology in machine_type.topologies
    )


def tpu_zones(generation: str | TpuGeneration) -> tuple[str, ...]:
    """The zones where GKE offers a TPU generation."""
    return tpu_generation(generation).zones


def check_tpu_zone(generation: str | TpuGeneration, zone: str) -> None:
    """Raise `ArgError` unless `zone` offers the TPU generation."""
    spec = tpu_generation(generation)
    if zone not in spec.zones:
        raise ArgError(
            ("zone",), f"zone {zone!r} does not offer {spec.display_name}; allowed: {allowed_values(spec.zones)}"
        )


def tpu_zones_in_region(generation: str | TpuGeneration, region: str) -> tuple[str, ...]:
    """The zones of `region` that offer the TPU generation; empty if none does."""
    return tuple(zone for zone in tpu_zones(generation) if region_of_zone(zone) == region)
