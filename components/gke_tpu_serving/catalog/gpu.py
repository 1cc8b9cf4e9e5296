"""The GPU catalog: GPU types, memory per GPU and the machine types that carry them, from GKE's GPU documentation
("About GPUs in GKE", the GPU platforms table) as of late 2026. Pure and stdlib-only."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from gke_tpu_serving.errors import ArgError, allowed_values


class GpuAcceleratorType(Enum):
    """A GPU type, named as in `guest_accelerator.type` and the ``cloud.google.com/gke-accelerator`` label."""

    NVIDIA_L4 = "nvidia-l4"
    NVIDIA_TESLA_T4 = "nvidia-tesla-t4"
    NVIDIA_TESLA_A100 = "nvidia-tesla-a100"
    NVIDIA_A100_80GB = "nvidia-a100-80gb"
    NVIDIA_H100_80GB = "nvidia-h100-80gb"


@dataclass(frozen=True)
class GpuMachineType:
    """A GCE machine type that carries GPUs of one type."""

    name: str
    gpus_per_vm: int
    """GPUs attached to one VM; pods request up to this many ``nvidia.com/gpu``."""

    def __post_init__(self) -> None:
        if not self.name:
            raise ArgError(("name",), "a GPU machine type needs a name")
        if self.gpus_per_vm < 1:
            raise ArgError(
                ("gpus_per_vm",), f"machine type {self.name!r} has {self.gpus_per_vm} GPUs per VM; it needs at least 1"
            )


@dataclass(frozen=True)
class GpuAcceleratorSpec:
    """One GPU type as GKE offers it: memory per GPU and the machine types that carry it."""

    accelerator_type: GpuAcceleratorType
    memory_gib_per_gpu: int
    machine_types: tuple[GpuMachineType, ...]

    def __post_init__(self) -> None:
        if self.memory_gib_per_gpu < 1:
            raise ArgError(
                ("memory_gib_per_gpu",), f"{self.accelerator_type.value} has {self.memory_gib_per_gpu} GiB per GPU"
            )
        if not self.machine_types:
            raise ArgError(("machine_types",), f"{self.accelerator_type.value} has no machine types")
        names = [machine_type.name for machine_type in self.machine_types]
        if len(set(names)) != len(names):
            raise ArgError(
                ("machine_types",), f"{self.accelerator_type.value} lists a machine type twice: {allowed_values(names)}"
            )


def _index_gpu_accelerators(
    specs: Iterable[GpuAcceleratorSpec],
) -> Mapping[GpuAcceleratorType, GpuAcceleratorSpec]:
    specs = tuple(specs)
    table = {spec.accelerator_type: spec for spec in specs}
    if len(table) != len(specs):
        raise ArgError(("accelerator_type",), "the GPU catalog lists an accelerator type twice")
    missing = [accelerator_type for accelerator_type in GpuAcceleratorType if accelerator_type not in table]
    if missing:
        raise ArgError(("accelerator_type",), f"the GPU catalog lacks {allowed_values(missing)}")
    return MappingProxyType(table)


GPU_ACCELERATORS: Mapping[GpuAcceleratorType, GpuAcceleratorSpec] = _index_gpu_accelerators(
    [
        GpuAcceleratorSpec(
            accelerator_type=GpuAcceleratorType.NVIDIA_L4,
            memory_gib_per_gpu=24,
            machine_types=(
                GpuMachineType("g2-standard-4", 1),
                GpuMachineType("g2-standard-8", 1),
                GpuMachineType("g2-standard-12", 1),
                GpuMachineType("g2-standard-16", 1),
                GpuMachineType("g2-standard-24", 2),
                GpuMachineType("g2-standard-32", 1),
                GpuMachineType("g2-standard-48", 4),
                GpuMachineType("g2-standard-96", 8),
            ),
        ),
        GpuAcceleratorSpec(
            accelerator_type=GpuAcceleratorType.NVIDIA_TESLA_T4,
            memory_gib_per_gpu=16,
            # N1 VMs take T4s as attached accelerators; these are the counts this project provisions.
            machine_types=(
                GpuMachineType("n1-standard-4", 1),
                GpuMachineType("n1-standard-8", 1),
                GpuMachineType("n1-standard-16", 2),
                GpuMachineType("n1-standard-32", 4),
            ),
        ),
        GpuAcceleratorSpec(
            accelerator_type=GpuAcceleratorType.NVIDIA_TESLA_A100,
            memory_gib_per_gpu=40,
            machine_types=(
                GpuMachineType("a2-highgpu-1g", 1),
                GpuMachineType("a2-highgpu-2g", 2),
                GpuMachineType("a2-highgpu-4g", 4),
                GpuMachineType("a2-highgpu-8g", 8),
                GpuMachineType("a2-megagpu-16g", 16),
            ),
        ),
        GpuAcceleratorSpec(
            accelerator_type=GpuAcceleratorType.NVIDIA_A100_80GB,
            memory_gib_per_gpu=80,
            machine_types=(
                GpuMachineType("a2-ultragpu-1g", 1),
                GpuMachineType("a2-ultragpu-2g", 2),
                GpuMachineType("a2-ultragpu-4g", 4),
                GpuMachineType("a2-ultragpu-8g", 8),
            ),
        ),
        GpuAcceleratorSpec(
            accelerator_type=GpuAcceleratorType.NVIDIA_H100_80GB,
            memory_gib_per_gpu=80,
            machine_types=(
                GpuMachineType("a3-highgpu-1g", 1),
                GpuMachineType("a3-highgpu-2g", 2),
                GpuMachineType("a3-highgpu-4g", 4),
                GpuMachineType("a3-highgpu-8g", 8),
            ),
        ),
    ]
)
"""The GPU catalog, one spec per GPU type."""


def gpu_accelerator(name: str | GpuAcceleratorType) -> GpuAcceleratorSpec:
    """The catalog entry of a GPU type, given as the enum or its value (``"nvidia-l4"``)."""
    if isinstance(name, GpuAcceleratorType):
        return GPU_ACCELERATORS[name]
    try:
        accelerator_type = GpuAcceleratorType(name)
    except ValueError:
        raise ArgError(
            ("accelerator_type",),
            f"unknown GPU accelerator type {name!r}; allowed: {allowed_values(GpuAcceleratorType)}",
        ) from None
    return GPU_ACCELERATORS[accelerator_type]


def gpu_machine(accelerator_type: str | GpuAcceleratorType, machine_type: str) -> GpuMachineType:
    """The machine type called `machine_type` that carries `accelerator_type` GPUs."""
    spec = gpu_accelerator(accelerator_type)
    for machine in spec.machine_types:
        if machine.name == machine_type:
            return machine
    raise ArgError(
        ("machine_type",),
        f"machine type {machine_type!r} does not carry {spec.accelerator_type.value} GPUs; "
        f"allowed: {allowed_values(machine.name for machine in spec.machine_types)}",
    )
