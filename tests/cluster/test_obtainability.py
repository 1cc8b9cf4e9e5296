"""How a TPU pool obtains its nodes: each mode renders the node pool fields it needs, and every forbidden combination is
refused with its reason, before any resource exists."""

from typing import Any

import pytest
from helpers import args_factory

from gke_tpu_serving import GkeTpuCluster, GkeTpuClusterArgs
from gke_tpu_serving.catalog import TpuGeneration
from gke_tpu_serving.cluster.obtainability import Obtainability, obtainability_of_node_pool
from gke_tpu_serving.cluster.plan import plan_cluster
from gke_tpu_serving.errors import ArgError

POOL = "gcp:container/nodePool:NodePool"

# One single-host v6e host and one multi-host v5e 4x8 slice (8 hosts), in the dev stack's zones.
BASE: GkeTpuClusterArgs = {
    "project": "demo-project",
    "location": "us-central1",
    "tpu_pools": [
        {
            "name": "v6e",
            "generation": TpuGeneration.V6E,
            "machine_type": "ct6e-standard-8t",
            "topology": "2x4",
            "zone": "us-central1-b",
        },
        {
            "name": "v5e",
            "generation": TpuGeneration.V5E,
            "machine_type": "ct5lp-hightpu-4t",
            "topology": "4x8",
            "zone": "us-central1-a",
        },
    ],
}
cluster_args = args_factory(BASE)


def _pool_inputs(pulumi_mocks: Any, settings: dict[str, Any], index: int) -> dict[str, Any]:
    args = cluster_args()
    args["tpu_pools"][index] |= settings
    GkeTpuCluster("serve", args)
    name = args["tpu_pools"][index]["name"]
    return pulumi_mocks.settle().one(POOL, f"serve-{name}").inputs


def test_on_demand_is_the_default_and_repairs_its_nodes(pulumi_mocks: Any) -> None:
    inputs = _pool_inputs(pulumi_mocks, {}, 0)
    assert inputs["nodeConfig"]["spot"] is False
    assert "reservationAffinity" not in inputs["nodeConfig"]
    assert "flexStart" not in inputs["nodeConfig"]
    assert "queuedProvisioning" not in inputs
    assert inputs["management"] == {"autoRepair": True, "autoUpgrade": True}
    assert obtainability_of_node_pool(inputs) is Obtainability.ON_DEMAND


@pytest.mark.parametrize("index", [0, 1], ids=["single-host", "multi-host"])
def test_flex_start_pool_scales_from_zero_unrepaired_without_reservation(pulumi_mocks: Any, index: int) -> None:
    inputs = _pool_inputs(pulumi_mocks, {"flex_start": True, "max_run_duration": 86400}, index)
    node_config = inputs["nodeConfig"]
    assert node_config["flexStart"] is True
    assert node_config["spot"] is False
    assert node_config["maxRunDuration"] == "86400s"
    assert node_config["reservationAffinity"] == {"consumeReservationType": "NO_RESERVATION"}
    hosts = (1, 8)[index]
    assert inputs["autoscaling"] == {"minNodeCount": 0, "maxNodeCount": hosts, "locationPolicy": "ANY"}
    assert inputs["initialNodeCount"] == 0
    assert "nodeCount" not in inputs
    assert inputs["management"] == {"autoRepair": False, "autoUpgrade": True}
    assert "queuedProvisioning" not in inputs
    assert obtainability_of_node_pool(inputs) is Obtainability.FLEX_START


def test_queued_provisioning_pool_is_a_flex_start_pool_for_provisioning_requests(pulumi_mocks: Any) -> None:
    inputs = _pool_inputs(pulumi_mocks, {"queued_provisioning": True}, 1)
    assert inputs["queuedProvisioning"] == {"enabled": True}
    assert inputs["nodeConfig"]["flexStart"] is True
    assert inputs["nodeConfig"]["reservationAffinity"] == {"consumeReservationType": "NO_RESERVATION"}
    assert inputs["autoscaling"] == {"minNodeCount": 0, "maxNodeCount": 8, "locationPolicy": "ANY"}
    assert inputs["management"]["autoRepair"] is False
    assert inputs["placementPolicy"] == {"type": "COMPACT", "tpuTopology": "4x8"}
    assert obtainability_of_node_pool(inputs) is Obtainability.QUEUED_PROVISIONING


@pytest.mark.parametrize(
    ("settings", "mode"),
    [
        ({"spot": True}, Obtainability.SPOT),
        ({"reservation": "r"}, Obtainability.RESERVATION),
        ({"flex_start": True}, Obtainability.FLEX_START),
        ({"queued_provisioning": True}, Obtainability.QUEUED_PROVISIONING),
        ({"spot": False, "flex_start": False}, Obtainability.ON_DEMAND),
    ],
)
def test_the_plan_names_the_mode_it_read(settings: dict[str, Any], mode: Obtainability) -> None:
    args = cluster_args()
    args["tpu_pools"][0] |= settings
    assert plan_cluster("serve", args).tpu_pools[0].obtainability is mode


REFUSALS = [
    (
        {"spot": True, "reservation": "r"},
        "tpu_pools[0].reservation: 'r', but the pool also asks for spot: Compute Engine cannot create Spot VMs from a "
        "reservation; allowed: one of spot, reservation, flex start, queued provisioning (or none: on demand)",
    ),
    (
        {"spot": True, "flex_start": True},
        "tpu_pools[0].flex_start: true, but the pool also asks for spot: flex start nodes are a provisioning model of "
        "their own, with no reservation and no Spot VMs; allowed: one of spot, reservation, flex start, queued "
        "provisioning (or none: on demand)",
    ),
    (
        {"reservation": "r", "queued_provisioning": True},
        "tpu_pools[0].queued_provisioning: true, but the pool also asks for reservation: queued provisioning nodes are "
        "a provisioning model of their own, with no reservation and no Spot VMs; allowed: one of spot, reservation, "
        "flex start, queued provisioning (or none: on demand)",
    ),
    (
        {"flex_start": True, "queued_provisioning": True},
        "tpu_pools[0].queued_provisioning: true, but the pool also asks for flex start: queued provisioning nodes are "
        "a provisioning model of their own, with no reservation and no Spot VMs; allowed: one of spot, reservation, "
        "flex start, queued provisioning (or none: on demand)",
    ),
    (
        {"flex_start": True, "min_nodes": 1, "max_nodes": 2},
        "tpu_pools[0].min_nodes: 1 is not allowed on this pool (flex start), whose nodes GKE creates only when capacity is "
        "obtained and removes when idle; allowed: 0 (or leave it out)",
    ),
    (
        {"flex_start": True, "max_run_duration": 8 * 86400},
        "tpu_pools[0].max_run_duration: 691200 seconds is more than the 7 days (604800 seconds) a flex start VM runs; "
        "allowed: 1 to 604800",
    ),
    (
        {"max_run_duration": 3600},
        "tpu_pools[0].max_run_duration: 3600 is not allowed on this pool (on demand); allowed: leave it out (this project "
        "bounds the run time of flex start and queued provisioning nodes only)",
    ),
    (
        {"flex_start": "yes"},
        "tpu_pools[0].flex_start: 'yes' is not allowed; allowed: true or false",
    ),
    (
        {"reservation": ""},
        "tpu_pools[0].reservation: '' is not allowed; allowed: the name of a reservation",
    ),
]


@pytest.mark.parametrize(("settings", "message"), REFUSALS)
def test_forbidden_combinations_are_refused_with_the_reason(settings: dict[str, Any], message: str) -> None:
    args = cluster_args()
    args["tpu_pools"][0] |= settings
    with pytest.raises(ArgError) as refused:
        plan_cluster("serve", args)
    assert str(refused.value) == message


@pytest.mark.parametrize("key", ["flex_start", "queued_provisioning"])
def test_flex_start_and_queued_provisioning_are_refused_on_autopilot(key: str) -> None:
    args = cluster_args()
    args["mode"] = "autopilot"  # type: ignore[typeddict-item]
    args["tpu_pools"][0] |= {key: True}
    with pytest.raises(ArgError) as refused:
        plan_cluster("serve", args)
    assert str(refused.value) == (
        f"tpu_pools[0].{key}: true is not allowed on Autopilot, which has no node pool to set it on; allowed: false"
    )
