"""Whether a pod fits the node it lands on, and the default CPU and memory of serving pods, derived from that node.

Pure (imports nothing from Pulumi). The node's allocatable CPU and memory come from the catalog's machine shapes
(GKE's reservation formula); a machine type without a sourced shape has no budget, and its pods need explicit
requests (`host_budget` returns None, and nothing is derived or checked).

A serving pod's defaults leave `SYSTEM_HEADROOM` of what the node allows to the node's DaemonSets and the GCS FUSE
sidecar (whose own requests GKE's webhook injects and this project does not set), request a quarter of the rest as
a guaranteed floor, and let the memory limit take what the RAM-backed volumes leave.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

from gke_tpu_serving.catalog.machines import MIB_PER_GIB, Allocatable, MachineShape, machine_shape
from gke_tpu_serving.errors import ArgError
from gke_tpu_serving.tenancy.quota import parse_quantity

SYSTEM_HEADROOM = Fraction(1, 10)
"""Of a node's allocatable, what serving pods' defaults leave to DaemonSets and sidecars: a design margin, not a
platform number (GKE documents no fixed size for its system pods)."""
DEFAULT_REQUEST_SHARE = Fraction(1, 4)
"""The default CPU and memory request: a quarter of what the pod may use, so a pod is guaranteed a floor and can
burst (no CPU limit) into the rest of a node it has to itself."""
_MIB = 1024 * 1024


class MemoryVolume(NamedTuple):
    """A RAM-backed emptyDir (medium Memory) of the pod: its size limit counts against the node's memory."""

    key: str
    """The arg that sets its size, for messages."""
    size_limit: str


@dataclass(frozen=True)
class HostBudget:
    """What one pod may take of a node: the node's allocatable, times `share` (the part of the node's accelerators
    the pod claims: 1 for a whole TPU host, gpus / GPUs per VM for a GPU worker)."""

    machine: MachineShape
    share: Fraction = Fraction(1)

    @property
    def allocatable(self) -> Allocatable:
        return self.machine.allocatable.share(self.share)

    @property
    def usable(self) -> Allocatable:
        """What the defaults hand out: the allocatable less the system headroom."""
        return self.allocatable.share(1 - SYSTEM_HEADROOM)

    def default_cpu(self) -> str:
        return cpu_quantity(_whole(self.usable.cpu_millis * DEFAULT_REQUEST_SHARE, 1000))

    def default_memory_request(self) -> str:
        return memory_quantity(_whole(self.usable.memory_mib * DEFAULT_REQUEST_SHARE, MIB_PER_GIB))

    def default_memory_limit(self, volumes: Sequence[MemoryVolume] = ()) -> str:
        """What the usable memory leaves beside the pod's RAM-backed volumes (at least the default request; the fit
        check refuses volumes that leave less)."""
        left = self.usable.memory_mib - sum((_mib(volume.size_limit) for volume in volumes), Fraction(0))
        return memory_quantity(_whole(max(left, self.usable.memory_mib * DEFAULT_REQUEST_SHARE), MIB_PER_GIB))

    def describe(self) -> str:
        where = f"a {self.machine.name} node" if self.share == 1 else f"{self.share} of a {self.machine.name} node"
        return (
            f"{where} leaves {cpu_quantity(self.allocatable.cpu_millis)} CPU and "
            f"{memory_quantity(self.allocatable.memory_mib)} memory allocatable"
        )


def host_budget(machine_type: str, share: Fraction = Fraction(1)) -> HostBudget | None:
    """The budget of a pod taking `share` of a `machine_type` node; None where the catalog has no sourced shape."""
    shape = machine_shape(machine_type)
    return None if shape is None else HostBudget(shape, share)


def _whole(amount: Fraction, unit: int) -> Fraction:
    """`amount` rounded down to whole units (cores, GiB) where it has one, so defaults read as "80" and "315Gi"."""
    return Fraction(int(amount) // unit * unit) if amount >= unit else amount


def cpu_quantity(millis: Fraction) -> str:
    """Millicores as a Kubernetes quantity, rounded down: whole cores as "N", else "Nm"."""
    whole = int(millis)
    return str(whole // 1000) if whole % 1000 == 0 else f"{whole}m"


def memory_quantity(mib: Fraction) -> str:
    """MiB as a Kubernetes quantity, rounded down: "NGi" when whole, else "NMi"."""
    whole = int(mib)
    return f"{whole // MIB_PER_GIB}Gi" if whole % MIB_PER_GIB == 0 else f"{whole}Mi"


def _mib(quantity: str, key: str = "") -> Fraction:
    return Fraction(parse_quantity(quantity, at=(key,) if key else ())) / _MIB


def _millis(quantity: str, key: str) -> Fraction:
    return Fraction(parse_quantity(quantity, at=(key,))) * 1000


def check_pod_fits(
    budget: HostBudget,
    *,
    cpu: tuple[str, str],
    memory: tuple[str, str],
    memory_limit: tuple[str, str] | None = None,
    volumes: Sequence[MemoryVolume] = (),
) -> None:
    """Raise ArgError unless the pod's CPU request, memory request and limit, each with its RAM-backed volumes, fit
    the budget. `cpu`, `memory`, `memory_limit` are (arg key, quantity); the error is located at the arg to change."""
    allowed = budget.allocatable
    for volume in volumes:
        if _mib(volume.size_limit, volume.key) >= allowed.memory_mib:
            raise ArgError(
                (volume.key,),
                f"{volume.size_limit} (RAM-backed, counted as memory) leaves no memory for the server: "
                f"{budget.describe()}; allowed: less than {memory_quantity(allowed.memory_mib)}",
            )
    in_volumes = sum((_mib(volume.size_limit) for volume in volumes), Fraction(0))
    beside = f" beside {memory_quantity(in_volumes)} of RAM-backed volumes" if volumes else ""
    cpu_key, cpu_value = cpu
    if _millis(cpu_value, cpu_key) > allowed.cpu_millis:
        raise ArgError(
            (cpu_key,),
            f"{cpu_value} CPU does not fit: {budget.describe()}; allowed: at most {cpu_quantity(allowed.cpu_millis)}",
        )
    for key, value in (memory, memory_limit) if memory_limit else (memory,):
        if _mib(value, key) + in_volumes > allowed.memory_mib:
            raise ArgError(
                (key,),
                f"{value} of memory{beside} does not fit: {budget.describe()}; allowed: at most "
                f"{memory_quantity(allowed.memory_mib - in_volumes)}",
            )
