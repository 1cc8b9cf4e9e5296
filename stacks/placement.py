"""What a scenario's pods will need from the pool the stack config placed it on."""

from typing import Any

from gke_tpu_serving.cluster.plan import GpuPoolPlan
from gke_tpu_serving.errors import ArgError, format_path

from .model import ConfigError, Placement, config_error


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
        gpu = placement.gpu_pool
        assert gpu is not None  # config.py placed the instance on a TPU or a GPU pool
        outputs |= {
            "nodePools": [gpu.pool_name],
            "nodeSelector": {"cloud.google.com/gke-accelerator": gpu.accelerator_type.value},
            "resourcesPerHost": {"nvidia.com/gpu": gpu.machine.gpus_per_vm},
        }
    return outputs


def autopilot_args(placement: Placement) -> dict[str, Any]:
    """The workload components' cluster_mode arg: set on Autopilot only (standard is their default)."""
    return {"cluster_mode": placement.cluster.plan.mode} if placement.cluster.plan.autopilot else {}


def tpu_capacity_args(placement: Placement) -> dict[str, Any]:
    """On Autopilot, the TPU pool entry's Spot, reservation and zone as the workload components' tpu_spot,
    tpu_reservation and tpu_zone args: no node pool holds them, so the pods select them. Empty on Standard, where
    the node pool decides them."""
    if not placement.cluster.plan.autopilot:
        return {}
    pool = placement.tpu_pools[0]
    args: dict[str, Any] = {"tpu_spot": pool.spot}
    if pool.reservation:
        args["tpu_reservation"] = pool.reservation
    if pool.requested_zone:
        args["tpu_zone"] = pool.requested_zone
    return args


def gpu_capacity_args(placement: Placement, pool: GpuPoolPlan) -> dict[str, Any]:
    """On Autopilot, the GPU pool entry's Spot and zone as a GPU worker group's spot and zone args. Empty on
    Standard."""
    if not placement.cluster.plan.autopilot:
        return {}
    return {"spot": pool.spot, **({"zone": pool.zone} if pool.zone else {})}


def autopilot_refusal(placement: Placement, error: ArgError) -> ConfigError:
    """A pod that Autopilot would refuse (check_autopilot_pod's ArgError), reported at the cluster's mode: the one
    key that put the scenario there."""
    return config_error(
        ("clusters", placement.cluster.index, "mode"),
        f"autopilot, but Autopilot would refuse {format_path(placement.path, camel=True)}'s pods: "
        f"{format_path(error.path)}: {error.reason}",
    )
