"""ClusterPlan's derived facts: computed once on the plan, from the validated args."""

import copy

import pytest

from gke_tpu_serving.catalog import GpuAcceleratorType, TpuGeneration
from gke_tpu_serving.cluster.gke_tpu_cluster import GkeTpuClusterArgs
from gke_tpu_serving.cluster.plan import plan_cluster
from gke_tpu_serving.errors import ArgError

ARGS: GkeTpuClusterArgs = {
    "project": "demo-project",
    "location": "us-central1",
    "tpu_pools": [
        # Two multi-host slices of 8 hosts x 4 chips, fixed size.
        {
            "name": "v5e-4x8",
            "generation": TpuGeneration.V5E,
            "machine_type": "ct5lp-hightpu-4t",
            "topology": "4x8",
            "zone": "us-central1-a",
            "slices": 2,
        },
        # One single-host pool of 8 chips that autoscales to 3 nodes.
        {
            "name": "v6e-2x4",
            "generation": TpuGeneration.V6E,
            "machine_type": "ct6e-standard-8t",
            "topology": "2x4",
            "min_nodes": 1,
            "max_nodes": 3,
        },
    ],
    "gpu_pools": [
        {
            "name": "l4",
            "accelerator_type": GpuAcceleratorType.NVIDIA_L4,
            "machine_type": "g2-standard-24",
            "max_nodes": 2,
        }
    ],
}


def test_pool_names_list_tpu_entries_then_gpu_pools() -> None:
    assert plan_cluster("serve", ARGS).pool_names == ("v5e-4x8", "v6e-2x4", "l4")


def test_a_tpu_entry_has_one_pool_per_slice() -> None:
    plan = plan_cluster("serve", ARGS)
    assert [p.pool_name for p in plan.tpu_slices_of("v5e-4x8")] == ["v5e-4x8-0", "v5e-4x8-1"]
    assert [p.pool_name for p in plan.tpu_slices_of("v6e-2x4")] == ["v6e-2x4"]
    assert plan.tpu_slices_of("l4") == ()


def test_max_size_is_the_fixed_size_or_the_autoscaling_maximum() -> None:
    plan = plan_cluster("serve", ARGS)
    fixed, _, single_host = plan.tpu_pools
    assert (fixed.node_count, fixed.max_size, fixed.max_chips) == (8, 8, 32)
    assert (single_host.node_count, single_host.max_size, single_host.max_chips) == (None, 3, 24)


def test_cluster_maxima_sum_every_pool_at_its_largest() -> None:
    plan = plan_cluster("serve", ARGS)
    assert plan.max_tpu_chips == 32 + 32 + 24
    gpu = plan.gpu_pool("l4")
    assert gpu is not None and gpu.max_gpus == 2 * 2
    assert plan.max_gpus == 4
    assert plan.gpu_pool("v6e-2x4") is None


def test_a_runaway_slice_count_is_refused_before_any_pool_is_planned() -> None:
    args = copy.deepcopy(ARGS)
    args["tpu_pools"][0]["slices"] = 1_000_000_000
    with pytest.raises(ArgError) as refused:
        plan_cluster("serve", args)
    assert str(refused.value) == (
        "tpu_pools[0].slices: 1000000000 is more than 64 slices (node pools) for one tpuPools entry; allowed: 1 to 64 "
        "(a project limit, not GKE's: split a larger fleet into entries or clusters)"
    )
