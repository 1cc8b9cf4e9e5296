"""What a scenario's pods will need from the pool the stack config placed it on."""

from typing import Any

from ._model import Placement


def placement_outputs(placement: Placement) -> dict[str, Any]:
    """The cluster, node pools, node selector and per-host accelerator resources of a scenario's placement,
    derived from the catalog; the workload components reuse the same values."""
    outputs: dict[str, Any] = {"cluster": placement.cluster.name, "pool": placement.pool}
    if placement.tpu_pools:
        shape = placement.tpu_pools[0].tpu_slice
        outputs |= {
            "nodePools": [p.pool_name for p in placement.tpu_pools],
            "nodeSelector": shape.node_selector,
            "resourcesPerHost": shape.accelerator_resources,
            "hostsPerSlice": shape.hosts,
            "slices": len(placement.tpu_pools),
        }
    else:
        gpu = next(p for p in placement.cluster.plan.gpu_pools if p.pool_name == placement.pool)
        outputs |= {
            "nodePools": [gpu.pool_name],
            "nodeSelector": {"cloud.google.com/gke-accelerator": gpu.accelerator_type.value},
            "resourcesPerHost": {"nvidia.com/gpu": gpu.machine.gpus_per_vm},
        }
    return outputs
