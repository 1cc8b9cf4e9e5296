"""What a scenario's pods will need from the pool the stack config placed it on."""

from typing import Any

import pulumi

from gke_tpu_serving.cluster.plan import GpuPoolPlan
from gke_tpu_serving.errors import ArgError, format_path
from gke_tpu_serving.k8s.pods import Exposure, unauthenticated_exposure

from .images import ImageBuild, check_prebuilt_image
from .model import ConfigError, DeployContext, Placement, config_error


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
    tpu_reservation and tpu_zone args (or its ComputeClass, tpu_compute_class, when the entry has a fallback): no node
    pool holds them, so the pods select them. Empty on Standard, where the node pool decides them."""
    if not placement.cluster.plan.autopilot:
        return {}
    pool = placement.tpu_pools[0]
    args: dict[str, Any] = {}
    if pool.compute_class is not None:
        # The entry's ComputeClass (GkeTpuCluster creates it) decides Spot and the reservation in its fallback order.
        args["tpu_compute_class"] = pool.compute_class
    else:
        args["tpu_spot"] = pool.spot
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


def check_prebuilt(placement: Placement, key: str) -> str | None:
    """At config load: the prebuilt image the instance's `key` names, checked (refused at `key` when unpinned or a
    placeholder); None when unset."""
    value = placement.settings.get(key)
    if value is None:
        return None
    try:
        return check_prebuilt_image(value)
    except ValueError as error:
        raise config_error(placement.at(key), str(error)) from None


def check_image(placement: Placement, key: str, build: ImageBuild) -> str:
    """At config load: the prebuilt image `key` names (checked), else a stand-in for the digest reference of the
    image `pulumi up` builds (`build`), for the components' own checks."""
    return check_prebuilt(placement, key) or build.stand_in_reference()


def deployed_image(placement: Placement, context: DeployContext, key: str, build: ImageBuild) -> pulumi.Input[str]:
    """The image the instance's servers run: the prebuilt one its `key` names, else the digest reference of the image
    `pulumi up` builds and pushes (a new digest rolls the pods; an unchanged one leaves them)."""
    value = placement.settings.get(key)
    return str(value) if value is not None else context.images.reference(build)


def refuse_unauthenticated_exposure(placement: Placement, server: str) -> None:
    """The instance's `exposure` is cluster-ip: `server` does not authenticate requests, and a passthrough load
    balancer cannot. The authenticated way in is a tenant's gateway, with Identity-Aware Proxy in front."""
    exposure = placement.settings.get("exposure", Exposure.CLUSTER_IP)
    if exposure is Exposure.CLUSTER_IP:
        return
    way = (
        "to reach it from outside the cluster, deploy the instance into a tenant with its `tenant` key and add a "
        "`routes` entry for its Service to that tenant: the tenant's gateway puts Identity-Aware Proxy in front"
    )
    raise config_error(placement.at("exposure"), unauthenticated_exposure(exposure, server, way))
