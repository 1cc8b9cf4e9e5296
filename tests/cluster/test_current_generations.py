"""The current TPU generations end to end: a vLLM stack on a TPU v5p host renders and validates, and TPU7x (Ironwood)
pools get the workload policy GKE places their multi-host slices with."""

from pathlib import Path
from typing import Any

import pytest
from helpers import args_factory, program_with_stacks
from manifest_validation import validate_manifest

from gke_tpu_serving import GkeTpuCluster, GkeTpuClusterArgs
from gke_tpu_serving.catalog import TpuGeneration
from gke_tpu_serving.cluster.plan import plan_cluster
from gke_tpu_serving.errors import ArgError
from gke_tpu_serving.offline import kubernetes_manifests, run_program

POOL = "gcp:container/nodePool:NodePool"
RESOURCE_POLICY = "gcp:compute/resourcePolicy:ResourcePolicy"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"

TPU7X: GkeTpuClusterArgs = {
    "project": "demo-project",
    "location": "us-central1",
    "tpu_pools": [
        {
            "name": "ironwood-1",
            "generation": TpuGeneration.TPU7X,
            "machine_type": "tpu7x-standard-4t",
            "topology": "2x2x1",
        },
        {
            "name": "ironwood-16",
            "generation": TpuGeneration.TPU7X,
            "machine_type": "tpu7x-standard-4t",
            "topology": "4x4x4",
        },
    ],
}
tpu7x_args = args_factory(TPU7X)


def test_a_single_host_tpu7x_pool_has_no_placement_and_lands_in_its_zone(pulumi_mocks: Any) -> None:
    GkeTpuCluster("iw", tpu7x_args())
    result = pulumi_mocks.settle()
    pool = result.one(POOL, "iw-ironwood-1").inputs
    assert pool["nodeConfig"]["machineType"] == "tpu7x-standard-4t"
    assert pool["nodeLocations"] == ["us-central1-c"]  # the one zone that offers TPU7x
    assert pool["nodeCount"] == 1
    assert "placementPolicy" not in pool


def test_a_multi_host_tpu7x_pool_is_placed_by_a_high_throughput_workload_policy(pulumi_mocks: Any) -> None:
    GkeTpuCluster("iw", tpu7x_args())
    result = pulumi_mocks.settle()
    (policy,) = result.of_type(RESOURCE_POLICY)
    assert policy.name == "iw-ironwood-16-workload-policy"
    assert policy.inputs == {
        "name": "ironwood-16-iw",
        "project": "demo-project",
        "region": "us-central1",
        "workloadPolicy": {"type": "HIGH_THROUGHPUT", "acceleratorTopology": "4x4x4"},
    }
    pool = result.one(POOL, "iw-ironwood-16").inputs
    assert pool["nodeCount"] == 16
    assert pool["placementPolicy"] == {"type": "COMPACT", "tpuTopology": "4x4x4", "policyName": "ironwood-16-iw"}


def test_a_tpu7x_cluster_below_its_minimum_gke_version_is_refused() -> None:
    with pytest.raises(ArgError) as refused:
        plan_cluster("iw", tpu7x_args(min_master_version="1.33.5-gke.100"))
    assert "TPU tpu7x" in str(refused.value) and "1.34.0-gke.2201000" in str(refused.value)


def test_a_workload_policy_name_too_long_for_compute_engine_is_refused() -> None:
    args = tpu7x_args()
    args["tpu_pools"][1]["name"] = "ironwood-" + "x" * 31
    with pytest.raises(ArgError) as refused:
        plan_cluster("a-cluster-name-of-twenty-four", args)
    assert str(refused.value) == (
        "tpu_pools[1].name: 'ironwood-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' makes the workload policy name "
        "'ironwood-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-a-cluster-name-of-twenty-four', 70 characters; allowed: at most 63 "
        "for pool and cluster names together (a TPU7x multi-host pool needs one)"
    )


def test_other_generations_keep_their_compact_topology_placement(pulumi_mocks: Any) -> None:
    args = tpu7x_args()
    args["tpu_pools"] = [
        {"name": "v5p", "generation": TpuGeneration.V5P, "machine_type": "ct5p-hightpu-4t", "topology": "2x2x4"}
    ]
    GkeTpuCluster("p", args)
    result = pulumi_mocks.settle()
    assert result.of_type(RESOURCE_POLICY) == []
    assert result.one(POOL, "p-v5p").inputs["placementPolicy"] == {"type": "COMPACT", "tpuTopology": "2x2x4"}


# --- vLLM on a TPU v5p host, end to end ------------------------------------------------------------------------------

V5P_STACK = """config:
  gcp:project: your-project-id
  gke-tpu-serving:clusters:
    - name: llm-v5p
      location: us-central1
      tpuPools:
        - name: v5p-2x2x1
          generation: v5p
          machineType: ct5p-hightpu-4t
          topology: 2x2x1
          zone: us-central1-a
          minNodes: 1
          maxNodes: 2
  gke-tpu-serving:llama:
    cluster: llm-v5p
    pool: v5p-2x2x1
    maxModelLen: 4096
    targetQueueLength: 10
"""


def test_a_vllm_stack_on_a_v5p_host_renders_and_validates(tmp_path: Path) -> None:
    result = run_program(program_with_stacks(tmp_path, {"v5p": V5P_STACK}), "v5p")
    (pool,) = [p for p in result.of_type(POOL) if p.inputs["name"] == "v5p-2x2x1"]
    assert pool.inputs["nodeConfig"]["machineType"] == "ct5p-hightpu-4t"
    assert pool.inputs["nodeLocations"] == ["us-central1-a"]
    assert pool.inputs["autoscaling"] == {"minNodeCount": 1, "maxNodeCount": 2}
    assert "placementPolicy" not in pool.inputs
    pod = result.one(DEPLOYMENT, "vllm-llama").inputs["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v5p-slice",
        "cloud.google.com/gke-tpu-topology": "2x2x1",
    }
    (server,) = [c for c in pod["containers"] if c["resources"]["limits"].get("google.com/tpu")]
    assert server["resources"]["limits"]["google.com/tpu"] == server["resources"]["requests"]["google.com/tpu"] == "4"
    # Tensor parallel over the host's 4 chips (140 GB of bf16 70B weights in 4 x 95 GB of HBM).
    assert {"name": "TENSOR_PARALLEL_SIZE", "value": "4"} in server["env"]
    manifests = kubernetes_manifests(result)
    assert manifests
    for manifest in manifests:
        validate_manifest(manifest)
