"""The accelerator catalog: TPU generations, machine types, topologies and zones; GPU types and machines.

Pure and stdlib-only (no Pulumi import), so every component, the sizing planner and the tests share one source of
truth and can check a configuration before any resource exists. The modules: `tpu` (the TPU table and slice
arithmetic), `gpu` (the GPU table), `gke` (zones, GKE versions, cluster mode, pool size limit), `autopilot` (TPU
generations on Autopilot), `machines` (machine shapes and GKE's allocatable), `models` (architectures, context
lengths); this package re-exports their public names. `sizing` (the planner) builds on them and is imported by name.

The facts come from GKE's TPU and GPU documentation as of late 2026. They are a snapshot: when GKE adds zones,
machine types or topologies, update the tables (`TPU_GENERATIONS`, `GPU_ACCELERATORS`) and the table-driven tests in
tests/catalog/test_catalog.py with them.

Checks raise `ArgError` located at the field they judge (``("generation",)``, ``("machine_type",)``,
``("topology",)``, ``("zone",)``, ``("version",)``, ``("accelerator_type",)``); its reason names the bad value and
what is allowed. Callers know where that field sits in their args (e.g. a component's ``tpu_topology``, the config's
``gke-tpu-serving:clusters[0].tpuPools[1].topology``) and relocate it with `ArgError.renamed` and `ArgError.within`.
"""

from gke_tpu_serving.catalog.autopilot import AUTOPILOT_TPU_MIN_GKE_VERSION, check_autopilot_tpu_version
from gke_tpu_serving.catalog.gke import (
    MAX_NODES_PER_POOL_ZONE,
    MIN_GKE_VERSION_RAY_ADDON,
    ClusterMode,
    check_min_gke_version,
    is_zone,
    parse_gke_version,
    region_of_zone,
)
from gke_tpu_serving.catalog.gpu import (
    GPU_ACCELERATORS,
    GpuAcceleratorSpec,
    GpuAcceleratorType,
    GpuMachineType,
    gpu_accelerator,
    gpu_machine,
)
from gke_tpu_serving.catalog.machines import (
    MACHINE_SHAPES,
    Allocatable,
    MachineShape,
    gke_allocatable,
    machine_shape,
)
from gke_tpu_serving.catalog.models import (
    MODEL_CATALOG,
    MODEL_CONTEXT_LENGTHS,
    Dtype,
    ModelArchitecture,
    ModelArchitectureArgs,
    model_context_length,
)
from gke_tpu_serving.catalog.tpu import (
    GB,
    GIB,
    TPU_GENERATIONS,
    TPU_SLICE_ARGS,
    MultiHostPlacement,
    TpuGeneration,
    TpuGenerationSpec,
    TpuMachineType,
    TpuSlice,
    check_tpu_zone,
    topology_chips,
    tpu_generation,
    tpu_slice,
    tpu_slice_of_args,
    tpu_slices,
    tpu_zones,
    tpu_zones_in_region,
)

__all__ = [
    "AUTOPILOT_TPU_MIN_GKE_VERSION",
    "GB",
    "GIB",
    "GPU_ACCELERATORS",
    "MACHINE_SHAPES",
    "MAX_NODES_PER_POOL_ZONE",
    "MIN_GKE_VERSION_RAY_ADDON",
    "MODEL_CATALOG",
    "MODEL_CONTEXT_LENGTHS",
    "TPU_GENERATIONS",
    "TPU_SLICE_ARGS",
    "Allocatable",
    "ClusterMode",
    "Dtype",
    "GpuAcceleratorSpec",
    "GpuAcceleratorType",
    "GpuMachineType",
    "MachineShape",
    "ModelArchitecture",
    "ModelArchitectureArgs",
    "MultiHostPlacement",
    "TpuGeneration",
    "TpuGenerationSpec",
    "TpuMachineType",
    "TpuSlice",
    "check_autopilot_tpu_version",
    "check_min_gke_version",
    "check_tpu_zone",
    "gke_allocatable",
    "gpu_accelerator",
    "gpu_machine",
    "is_zone",
    "machine_shape",
    "model_context_length",
    "parse_gke_version",
    "region_of_zone",
    "topology_chips",
    "tpu_generation",
    "tpu_slice",
    "tpu_slice_of_args",
    "tpu_slices",
    "tpu_zones",
    "tpu_zones_in_region",
]
