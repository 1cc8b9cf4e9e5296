"""Machine shapes: the vCPUs and memory of each machine type that carries a TPU, GPU or system pool, and what GKE
leaves a node of that shape for pods (its allocatable CPU and memory). Pure and stdlib-only.

Each row names where it was read, on 2026-12-02. Compute Engine states memory in "GB" of 2^30 bytes: its API
reports `memoryMb` in MiB (n1-standard-4's 15 GB is 15360), so the table keeps MiB. A machine type no source gave
us is left out, and pods on it need explicit requests (`machine_shape` returns None for it).

What GKE reserves is one formula of the vCPUs and memory (`gke_allocatable`), never typed per row; it is an upper
bound of what a node reports, since the node's memory capacity is the VM's less what the kernel keeps.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType

from gke_tpu_serving.errors import ArgError, allowed_values

MIB_PER_GIB = 1024

# Sources, read 2026-12-02:
_V5E_DOC = "https://docs.cloud.google.com/tpu/docs/v5e (VM types: vCPUs and RAM per VM)"
_V5P_DOC = "https://docs.cloud.google.com/tpu/docs/v5p-training (VM, host and slice properties: 208 vCPUs, 448 GB)"
# The Compute Engine API's machine-type list (guestCpus, memoryMb / 1024) as published in
# Cyclenerd/google-cloud-pricing-cost-calculator tools/machinetypes.csv, commit
# dac31281f2a4575f0a8bff20ac04fc71a5ff2190 (2026-08-20); the v5e rows there agree with _V5E_DOC.
_GCE_API = "Compute Engine machine-type list (Cyclenerd/google-cloud-pricing-cost-calculator@dac31281 machinetypes.csv)"


@dataclass(frozen=True)
class MachineShape:
    """A Compute Engine machine type's size."""

    name: str
    vcpus: int
    memory_mib: int
    source: str
    """Where the numbers were read (and when, above)."""

    def __post_init__(self) -> None:
        if not self.name or self.vcpus < 1 or self.memory_mib < MIB_PER_GIB:
            raise ArgError(
                ("machine_type",),
                f"machine shape {self.name!r} ({self.vcpus} vCPUs, {self.memory_mib} MiB) is not allowed; allowed: a "
                "name, at least 1 vCPU and 1 GiB (GKE reserves 255 MiB on smaller machines, which this table omits)",
            )

    @property
    def allocatable(self) -> "Allocatable":
        """What GKE leaves for pods on a node of this shape."""
        return gke_allocatable(self.vcpus, self.memory_mib)


@dataclass(frozen=True)
class Allocatable:
    """A node's allocatable CPU (millicores) and memory (MiB, fractional: the formula's percentages)."""

    cpu_millis: Fraction
    memory_mib: Fraction

    def share(self, fraction: Fraction) -> "Allocatable":
        return Allocatable(self.cpu_millis * fraction, self.memory_mib * fraction)


# GKE's reservation tiers ("Standard cluster architecture: node allocatable resources", plan-node-sizes, read
# 2026-12-02): CPU 6% of the first core, 1% of the next, 0.5% of the next 2, 0.25% above 4; memory 25% of the first
# 4 GiB, 20% of the next 4, 10% of the next 8, 6% of the next 112, 2% above 128 GiB, plus a 100 MiB eviction
# threshold. The page's own example (a 4-vCPU node: capacity 4, allocatable 3920m) checks the CPU tiers to 4 cores.
_CPU_TIERS = ((1, Fraction(6, 100)), (1, Fraction(1, 100)), (2, Fraction(5, 1000)), (None, Fraction(25, 10000)))
_MEMORY_TIERS_GIB = (
    (4, Fraction(25, 100)),
    (4, Fraction(20, 100)),
    (8, Fraction(10, 100)),
    (112, Fraction(6, 100)),
    (None, Fraction(2, 100)),
)
EVICTION_THRESHOLD_MIB = 100


def _tiered(amount: Fraction, tiers: Iterable[tuple[int | None, Fraction]], unit: int) -> Fraction:
    reserved, left = Fraction(0), amount
    for size, rate in tiers:
        part = left if size is None else min(left, Fraction(size * unit))
        reserved += part * rate
        left -= part
    return reserved


def gke_reserved_cpu_millis(vcpus: int) -> Fraction:
    """Millicores GKE reserves for the kubelet and system daemons on a node of `vcpus` vCPUs."""
    return _tiered(Fraction(vcpus * 1000), _CPU_TIERS, 1000)


def gke_reserved_memory_mib(memory_mib: int) -> Fraction:
    """MiB GKE reserves on a node of `memory_mib` MiB, the eviction threshold included."""
    return _tiered(Fraction(memory_mib), _MEMORY_TIERS_GIB, MIB_PER_GIB) + EVICTION_THRESHOLD_MIB


def gke_allocatable(vcpus: int, memory_mib: int) -> Allocatable:
    """A node's allocatable CPU and memory: its capacity less GKE's reservations."""
    return Allocatable(
        cpu_millis=vcpus * 1000 - gke_reserved_cpu_millis(vcpus),
        memory_mib=memory_mib - gke_reserved_memory_mib(memory_mib),
    )


def _gib(gib: int) -> int:
    return gib * MIB_PER_GIB


def _index(shapes: Iterable[MachineShape]) -> Mapping[str, MachineShape]:
    shapes = tuple(shapes)
    table = {shape.name: shape for shape in shapes}
    if len(table) != len(shapes):
        raise ArgError(("machine_type",), "the machine-shape table lists a machine type twice")
    return MappingProxyType(table)


MACHINE_SHAPES: Mapping[str, MachineShape] = _index(
    [
        # TPU v4 (ct4p-hightpu-4t) is left out: no page we could read gives its VM's vCPUs and memory.
        MachineShape("ct5lp-hightpu-1t", 24, _gib(48), _V5E_DOC),
        MachineShape("ct5lp-hightpu-4t", 112, _gib(192), _V5E_DOC),
        MachineShape("ct5lp-hightpu-8t", 224, _gib(384), _V5E_DOC),
        MachineShape("ct5p-hightpu-4t", 208, _gib(448), _V5P_DOC),
        MachineShape("ct6e-standard-1t", 44, _gib(176), _GCE_API),
        MachineShape("ct6e-standard-4t", 180, _gib(720), _GCE_API),
        MachineShape("ct6e-standard-8t", 360, _gib(1440), _GCE_API),
        MachineShape("g2-standard-4", 4, _gib(16), _GCE_API),
        MachineShape("g2-standard-8", 8, _gib(32), _GCE_API),
        MachineShape("g2-standard-12", 12, _gib(48), _GCE_API),
        MachineShape("g2-standard-16", 16, _gib(64), _GCE_API),
        MachineShape("g2-standard-24", 24, _gib(96), _GCE_API),
        MachineShape("g2-standard-32", 32, _gib(128), _GCE_API),
        MachineShape("g2-standard-48", 48, _gib(192), _GCE_API),
        MachineShape("g2-standard-96", 96, _gib(384), _GCE_API),
        MachineShape("n1-standard-4", 4, _gib(15), _GCE_API),
        MachineShape("n1-standard-8", 8, _gib(30), _GCE_API),
        MachineShape("n1-standard-16", 16, _gib(60), _GCE_API),
        MachineShape("n1-standard-32", 32, _gib(120), _GCE_API),
        MachineShape("a2-highgpu-1g", 12, _gib(85), _GCE_API),
        MachineShape("a2-highgpu-2g", 24, _gib(170), _GCE_API),
        MachineShape("a2-highgpu-4g", 48, _gib(340), _GCE_API),
        MachineShape("a2-highgpu-8g", 96, _gib(680), _GCE_API),
        MachineShape("a2-megagpu-16g", 96, _gib(1360), _GCE_API),
        MachineShape("a2-ultragpu-1g", 12, _gib(170), _GCE_API),
        MachineShape("a2-ultragpu-2g", 24, _gib(340), _GCE_API),
        MachineShape("a2-ultragpu-4g", 48, _gib(680), _GCE_API),
        MachineShape("a2-ultragpu-8g", 96, _gib(1360), _GCE_API),
        MachineShape("a3-highgpu-1g", 26, _gib(234), _GCE_API),
        MachineShape("a3-highgpu-2g", 52, _gib(468), _GCE_API),
        MachineShape("a3-highgpu-4g", 104, _gib(936), _GCE_API),
        MachineShape("a3-highgpu-8g", 208, _gib(1872), _GCE_API),
        MachineShape("e2-standard-4", 4, _gib(16), _GCE_API),
    ]
)
"""Machine shapes by machine type name."""


def machine_shape(name: str) -> MachineShape | None:
    """The shape of machine type `name`, or None where the table has no sourced row for it."""
    return MACHINE_SHAPES.get(name)


def require_machine_shape(name: str) -> MachineShape:
    """The shape of machine type `name`; ArgError at `machine_type` listing the known ones."""
    shape = machine_shape(name)
    if shape is None:
        raise ArgError(
            ("machine_type",),
            f"{name!r} has no sourced shape in the catalog; allowed: {allowed_values(sorted(MACHINE_SHAPES))}",
        )
    return shape
