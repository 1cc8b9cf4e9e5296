"""GKE Autopilot as an alternative to Standard: the Autopilot cluster's inputs, every refusal with its message (from
the component and from the stack config), the pod placement both modes render from the catalog, and the same Llama
scenario rendered in both modes by changing one config key."""

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT, allowed, args_factory, program_with_stacks
from manifest_validation import validate_manifest
from tree_leaves import leaves

from gke_tpu_serving import ClusterMode, GkeTpuCluster, GkeTpuClusterArgs
from gke_tpu_serving.catalog import GpuAcceleratorType, TpuGeneration, tpu_slice
from gke_tpu_serving.cluster.plan import plan_cluster
from gke_tpu_serving.errors import ArgError
from gke_tpu_serving.k8s.accelerator_pods import (
    AcceleratorPodPlacement,
    check_autopilot_pod,
    check_capacity,
    gpu_pod_placement,
    pool_pod_placement,
    tpu_pod_placement,
)
from gke_tpu_serving.offline import PreviewResult, kubernetes_manifests, run_program
from stacks.config import ConfigError, parse

PREFIX = "gke-tpu-serving:"
GKE = "gcp:container/cluster:Cluster"
POOL = "gcp:container/nodePool:NodePool"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NODES_EMAIL = "gke-nodes@demo-project.iam.gserviceaccount.com"
V6E_8T = tpu_slice(TpuGeneration.V6E, "ct6e-standard-8t", "2x4")


# The autopilot stack's cluster: regional, one v6e 2x4 shape that the vLLM pods select.
BASE_AUTOPILOT_ARGS: GkeTpuClusterArgs = {
    "project": "demo-project",
    "location": "us-central1",
    "mode": ClusterMode.AUTOPILOT,
    "node_service_account_email": NODES_EMAIL,
    "tpu_pools": [
        {
            "name": "v6e-2x4",
            "generation": TpuGeneration.V6E,
            "machine_type": "ct6e-standard-8t",
            "topology": "2x4",
            "max_nodes": 2,
        }
    ],
}
autopilot_args = args_factory(BASE_AUTOPILOT_ARGS)


# The cluster


def test_autopilot_cluster_has_no_node_pools(pulumi_mocks: Any) -> None:
    args = autopilot_args()
    del args["node_service_account_email"]
    GkeTpuCluster("serve", args)
    result = pulumi_mocks.settle()
    component = result.one("gke-tpu-serving:index:GkeTpuCluster", "serve")
    children = sorted((r.type, r.name) for r in result.resources if r.parent == component.urn)
    assert children == [
        ("gcp:container/cluster:Cluster", "serve-cluster"),
        ("gcp:projects/iAMMember:IAMMember", "serve-nodes-role"),
        ("gcp:serviceaccount/account:Account", "serve-nodes"),
        ("pulumi:providers:kubernetes", "serve-k8s"),
    ]
    assert result.of_type(POOL) == []


def test_autopilot_cluster_inputs_keep_identity_add_ons_and_the_node_account(pulumi_mocks: Any) -> None:
    GkeTpuCluster("serve", autopilot_args(ray_operator=True, private_nodes=True))
    cluster = pulumi_mocks.settle().one(GKE, "serve-cluster").inputs
    assert cluster["enableAutopilot"] is True
    assert cluster["clusterAutoscaling"] == {
        "autoProvisioningDefaults": {
            "serviceAccount": NODES_EMAIL,
            "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
        }
    }
    assert cluster["workloadIdentityConfig"] == {"workloadPool": "demo-project.svc.id.goog"}
    assert cluster["addonsConfig"] == {
        "gcsFuseCsiDriverConfig": {"enabled": True},
        "rayOperatorConfigs": [
            {
                "enabled": True,
                "rayClusterLoggingConfig": {"enabled": True},
                "rayClusterMonitoringConfig": {"enabled": True},
            }
        ],
    }
    assert cluster["monitoringConfig"] == {
        "enableComponents": ["SYSTEM_COMPONENTS"],
        "managedPrometheus": {"enabled": True},
    }
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"
    assert cluster["privateClusterConfig"] == {"enablePrivateNodes": True}
    assert cluster["releaseChannel"] == {"channel": "REGULAR"}
    assert cluster["location"] == "us-central1"


def test_autopilot_cluster_sets_none_of_standards_node_settings(pulumi_mocks: Any) -> None:
    # Autopilot nodes are always shielded and behind the GKE metadata server; these fields conflict with it.
    GkeTpuCluster("serve", autopilot_args())
    cluster = pulumi_mocks.settle().one(GKE, "serve-cluster").inputs
    for standard_only in ("nodeConfig", "initialNodeCount", "removeDefaultNodePool", "enableShieldedNodes"):
        assert standard_only not in cluster


def test_plan_exposes_the_mode_and_keeps_the_pool_entries_as_shapes() -> None:
    plan = plan_cluster("serve", autopilot_args())
    assert plan.mode is ClusterMode.AUTOPILOT and plan.autopilot
    (pool,) = plan.tpu_pools
    assert (pool.tpu_slice, pool.min_nodes, pool.max_nodes, pool.requested_zone) == (V6E_8T, 0, 2, None)
    assert plan_cluster("serve", autopilot_args(mode=ClusterMode.STANDARD)).autopilot is False


# Refusals, from the component and from the stack config

V6E_POOL = ("tpu_pools", 0)
REFUSALS: list[tuple[str, dict[str, Any], tuple[Any, ...], str]] = [
    (
        "zonal_location",
        {"location": "us-central1-b"},
        ("location",),
        "'us-central1-b' is a zone, but Autopilot clusters are regional; allowed: a region, e.g. 'us-central1' (a "
        "pool's zone pins its pods to one zone)",
    ),
    (
        "system_pool",
        {"system_pool": {"machine_type": "e2-standard-8"}},
        ("system_pool",),
        "{'machine_type': 'e2-standard-8'} is not allowed on Autopilot, which runs system pods on nodes it manages; "
        "allowed: leave it out",
    ),
    (
        "tpu_min_nodes",
        {"tpu_pools": [{**autopilot_args()["tpu_pools"][0], "min_nodes": 1}]},
        (*V6E_POOL, "min_nodes"),
        "1 is not allowed on Autopilot, which creates nodes for pending pods and removes idle ones; allowed: leave "
        "it out (the maximum node count still bounds the replicas placed on the pool)",
    ),
    (
        "gpu_min_nodes",
        {
            "gpu_pools": [
                {
                    "name": "l4",
                    "accelerator_type": GpuAcceleratorType.NVIDIA_L4,
                    "machine_type": "g2-standard-8",
                    "min_nodes": 0,
                }
            ]
        },
        ("gpu_pools", 0, "min_nodes"),
        "0 is not allowed on Autopilot, which creates nodes for pending pods and removes idle ones; allowed: leave "
        "it out (the maximum node count still bounds the replicas placed on the pool)",
    ),
    (
        "dataplane_v1",
        {"dataplane_v2": False},
        ("dataplane_v2",),
        "false is not allowed on Autopilot, which always runs Dataplane V2; allowed: true",
    ),
    (
        "gke_version_below_autopilot_trillium",
        # Enough for v6e node pools on Standard, not for v6e on Autopilot.
        {"min_master_version": "1.31.2-gke.1115000"},
        ("min_master_version",),
        "GKE version '1.31.2-gke.1115000' is below 1.31.2-gke.1384000, the minimum for TPU v6e on Autopilot",
    ),
    (
        "unknown_mode",
        {"mode": "serverless"},
        ("mode",),
        f"'serverless' is not allowed; allowed: {allowed(ClusterMode)}",
    ),
]


@pytest.mark.parametrize(("overrides", "path", "reason"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_plan_refuses_what_autopilot_does_not_allow(
    overrides: dict[str, Any], path: tuple[Any, ...], reason: str
) -> None:
    with pytest.raises(ArgError) as raised:
        plan_cluster("serve", autopilot_args(**overrides))
    assert (raised.value.path, raised.value.reason) == (path, reason)


def test_component_refuses_before_any_child_naming_itself_and_the_arg(pulumi_mocks: Any) -> None:
    with pytest.raises(
        ValueError,
        match=re.escape(
            "GkeTpuCluster 'serve': dataplane_v2: false is not allowed on Autopilot, which always runs Dataplane V2; "
            "allowed: true"
        ),
    ):
        GkeTpuCluster("serve", autopilot_args(dataplane_v2=False))
    result = pulumi_mocks.settle()
    assert [r.type for r in result.resources if r.type.startswith("gcp:")] == []


def _autopilot_stack_config() -> tuple[dict[str, Any], str]:
    config = yaml.safe_load((ROOT / "Pulumi.autopilot.yaml").read_text())["config"]
    raw = {key.removeprefix(PREFIX): value for key, value in config.items() if key.startswith(PREFIX)}
    return raw, config["gcp:project"]


CONFIG_REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    (
        "zonal_location",
        {"location": "us-central1-b"},
        "config key gke-tpu-serving:clusters[0].location: 'us-central1-b' is a zone, but Autopilot clusters are "
        "regional; allowed: a region, e.g. 'us-central1' (a pool's zone pins its pods to one zone)",
    ),
    (
        "system_pool",
        {"systemPool": {"nodeCount": 2}},
        "config key gke-tpu-serving:clusters[0].systemPool: {'node_count': 2} is not allowed on Autopilot, which runs "
        "system pods on nodes it manages; allowed: leave it out",
    ),
    (
        "dataplane_v1",
        {"dataplaneV2": False},
        "config key gke-tpu-serving:clusters[0].dataplaneV2: false is not allowed on Autopilot, which always runs "
        "Dataplane V2; allowed: true",
    ),
    (
        "gke_version_below_autopilot_trillium",
        {"minMasterVersion": "1.31.2-gke.1115000"},
        "config key gke-tpu-serving:clusters[0].minMasterVersion: GKE version '1.31.2-gke.1115000' is below "
        "1.31.2-gke.1384000, the minimum for TPU v6e on Autopilot",
    ),
    (
        "unknown_mode",
        {"mode": "serverless"},
        f"config key gke-tpu-serving:clusters[0].mode: 'serverless' is not allowed; allowed: {allowed(ClusterMode)}",
    ),
]


@pytest.mark.parametrize(
    ("cluster_keys", "message"), [c[1:] for c in CONFIG_REFUSALS], ids=[c[0] for c in CONFIG_REFUSALS]
)
def test_stack_config_refuses_what_autopilot_does_not_allow(cluster_keys: dict[str, Any], message: str) -> None:
    raw, project = _autopilot_stack_config()
    raw = copy.deepcopy(raw)
    raw["clusters"][0].update(cluster_keys)
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        parse(raw, project)


def test_stack_config_refuses_min_nodes_on_an_autopilot_pool() -> None:
    raw, project = _autopilot_stack_config()
    raw["clusters"][0]["tpuPools"][0]["minNodes"] = 1
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "config key gke-tpu-serving:clusters[0].tpuPools[0].minNodes: 1 is not allowed on Autopilot, which creates "
            "nodes for pending pods and removes idle ones; allowed: leave it out (the maximum node count still bounds "
            "the replicas placed on the pool)"
        ),
    ):
        parse(raw, project)


# Pods: what Autopilot refuses


POD_REFUSALS: list[tuple[str, dict[str, Any], tuple[Any, ...], str]] = [
    (
        "host_network",
        {"hostNetwork": True, "containers": [{"name": "sax"}]},
        ("hostNetwork",),
        "true, but Autopilot admits no pod in the node's Network namespace; allowed: false (on Autopilot a pod "
        "reaches others through its own IP or a Service)",
    ),
    (
        "host_pid",
        {"hostPID": True, "containers": [{"name": "debug"}]},
        ("hostPID",),
        "true, but Autopilot admits no pod in the node's PID namespace; allowed: false (on Autopilot a pod reaches "
        "others through its own IP or a Service)",
    ),
    (
        "privileged_container",
        {"containers": [{"name": "ok"}, {"name": "tpu", "securityContext": {"privileged": True}}]},
        ("containers", 1, "securityContext", "privileged"),
        "true, but Autopilot admits no privileged container; allowed: false (TPUs and GPUs are claimed as "
        "resources, without privileges)",
    ),
    (
        "privileged_init_container",
        {
            "initContainers": [{"name": "sysctl", "securityContext": {"privileged": True}}],
            "containers": [{"name": "a"}],
        },
        ("initContainers", 0, "securityContext", "privileged"),
        "true, but Autopilot admits no privileged container; allowed: false (TPUs and GPUs are claimed as "
        "resources, without privileges)",
    ),
]


@pytest.mark.parametrize(
    ("pod_spec", "path", "reason"), [p[1:] for p in POD_REFUSALS], ids=[p[0] for p in POD_REFUSALS]
)
def test_autopilot_refuses_privileged_and_host_namespace_pods(
    pod_spec: dict[str, Any], path: tuple[Any, ...], reason: str
) -> None:
    with pytest.raises(ArgError) as raised:
        check_autopilot_pod(pod_spec, at=("spec", "template", "spec"))
    assert (raised.value.path, raised.value.reason) == (("spec", "template", "spec", *path), reason)


def test_an_unprivileged_pod_on_its_own_network_passes() -> None:
    check_autopilot_pod(
        {"hostNetwork": False, "containers": [{"name": "vllm", "securityContext": {"privileged": False}}]}
    )


# Pods: placement from the catalog in both modes


def test_standard_tpu_pod_selects_the_slice_only_because_the_pool_is_spot_reserved_and_zoned() -> None:
    placement = tpu_pod_placement(V6E_8T, ClusterMode.STANDARD, spot=True, reservation="r", zone="us-central1-b")
    assert placement == AcceleratorPodPlacement(
        node_selector=V6E_8T.node_selector, tolerations=[], resources={"google.com/tpu": "8"}
    )


def test_autopilot_tpu_pod_selects_spot_and_zone() -> None:
    placement = tpu_pod_placement(V6E_8T, ClusterMode.AUTOPILOT, spot=True, zone="us-central1-b")
    assert placement.node_selector == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v6e-slice",
        "cloud.google.com/gke-tpu-topology": "2x4",
        "cloud.google.com/gke-spot": "true",
        "topology.kubernetes.io/zone": "us-central1-b",
    }
    assert placement.tolerations == [
        {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    assert placement.resources == {"google.com/tpu": "8"}


def test_autopilot_tpu_pod_selects_a_reservation_and_zone() -> None:
    placement = tpu_pod_placement(V6E_8T, ClusterMode.AUTOPILOT, reservation="v6e-res", zone="us-central1-b")
    assert placement.node_selector == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v6e-slice",
        "cloud.google.com/gke-tpu-topology": "2x4",
        "cloud.google.com/reservation-name": "v6e-res",
        "cloud.google.com/reservation-affinity": "specific",
        "topology.kubernetes.io/zone": "us-central1-b",
    }
    assert placement.tolerations == []


TPU_CAPACITY_KEYS = {"spot": "tpu_spot", "reservation": "tpu_reservation", "zone": "tpu_zone"}
"""Where the TPU workload components keep their capacity (check_capacity's keywords)."""


def test_a_workload_refuses_spot_beside_a_reservation() -> None:
    with pytest.raises(ArgError) as refused:
        check_capacity({"tpu_spot": True, "tpu_reservation": "v6e-res"}, **TPU_CAPACITY_KEYS)
    assert str(refused.value) == (
        "tpu_reservation: 'v6e-res', but tpu_spot is also true: Compute Engine cannot create Spot VMs from a "
        "reservation; allowed: one of them"
    )


def test_autopilot_tpu_pod_without_options_selects_the_same_as_standard() -> None:
    assert tpu_pod_placement(V6E_8T, ClusterMode.AUTOPILOT) == tpu_pod_placement(V6E_8T, ClusterMode.STANDARD)


@pytest.mark.parametrize("mode", list(ClusterMode))
def test_gpu_pod_selects_the_type_and_claims_the_machines_gpus(mode: ClusterMode) -> None:
    placement = gpu_pod_placement(GpuAcceleratorType.NVIDIA_L4, 2, mode)
    assert placement == AcceleratorPodPlacement(
        node_selector={"cloud.google.com/gke-accelerator": "nvidia-l4"},
        tolerations=[],
        resources={"nvidia.com/gpu": "2"},
    )


def test_pool_placement_reads_the_planned_pool() -> None:
    args = autopilot_args(
        tpu_pools=[{**autopilot_args()["tpu_pools"][0], "spot": True, "zone": "us-central1-b"}],
        gpu_pools=[{"name": "l4", "accelerator_type": GpuAcceleratorType.NVIDIA_L4, "machine_type": "g2-standard-24"}],
    )
    plan = plan_cluster("serve", args)
    tpu = pool_pod_placement(plan.tpu_pools[0], plan.mode)
    assert tpu.node_selector == {
        **V6E_8T.node_selector,
        "cloud.google.com/gke-spot": "true",
        "topology.kubernetes.io/zone": "us-central1-b",
    }
    gpu = pool_pod_placement(plan.gpu_pools[0], plan.mode)
    assert (gpu.node_selector, gpu.resources) == (
        {"cloud.google.com/gke-accelerator": "nvidia-l4"},
        {"nvidia.com/gpu": "2"},
    )


# The same Llama scenario in both modes


_project = program_with_stacks


@pytest.fixture(scope="module")
def both_modes(
    tmp_path_factory: pytest.TempPathFactory, shipped_stack: Callable[[str], PreviewResult]
) -> dict[str, PreviewResult]:
    autopilot = (ROOT / "Pulumi.autopilot.yaml").read_text()
    anchor = "      mode: autopilot\n"
    assert autopilot.count(anchor) == 1
    # The same stack name in a second program: derived names (buckets) include it.
    project = _project(tmp_path_factory.mktemp("modes"), {"autopilot": autopilot.replace(anchor, "")})
    return {"autopilot": shipped_stack("autopilot"), "standard": run_program(project, "autopilot")}


def _pod_spec(result: PreviewResult) -> dict[str, Any]:
    return result.one(DEPLOYMENT, "vllm-llama").inputs["spec"]["template"]["spec"]


def test_autopilot_stack_has_an_autopilot_cluster_and_no_node_pools(both_modes: dict[str, PreviewResult]) -> None:
    result = both_modes["autopilot"]
    assert result.of_type(POOL) == []
    (cluster,) = result.of_type(GKE)
    assert cluster.inputs["enableAutopilot"] is True
    assert cluster.inputs["addonsConfig"] == {"gcsFuseCsiDriverConfig": {"enabled": True}}
    assert cluster.inputs["monitoringConfig"]["managedPrometheus"] == {"enabled": True}
    assert cluster.inputs["workloadIdentityConfig"] == {"workloadPool": "your-project-id.svc.id.goog"}


def test_standard_variant_of_the_same_stack_has_the_system_and_v6e_pools(both_modes: dict[str, PreviewResult]) -> None:
    result = both_modes["standard"]
    assert sorted(p.name for p in result.of_type(POOL)) == ["llm-autopilot-system", "llm-autopilot-v6e-2x4"]
    assert "enableAutopilot" not in result.one(GKE, "llm-autopilot-cluster").inputs


def test_vllm_pods_select_and_claim_the_catalogs_v6e_host_in_autopilot(both_modes: dict[str, PreviewResult]) -> None:
    pod = _pod_spec(both_modes["autopilot"])
    assert pod["nodeSelector"] == V6E_8T.node_selector
    (container,) = pod["containers"]
    assert container["resources"]["requests"]["google.com/tpu"] == str(V6E_8T.chips_per_vm) == "8"
    assert container["resources"]["limits"]["google.com/tpu"] == "8"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TENSOR_PARALLEL_SIZE"] == "8"
    hpa = both_modes["autopilot"].one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "vllm-llama")
    assert (hpa.inputs["spec"]["minReplicas"], hpa.inputs["spec"]["maxReplicas"]) == (1, 2)


def test_the_vllm_pod_differs_between_modes_only_by_local_disk_for_the_compile_cache(
    both_modes: dict[str, PreviewResult],
) -> None:
    standard = leaves(_pod_spec(both_modes["standard"]))
    autopilot = leaves(_pod_spec(both_modes["autopilot"]))
    changed = {path: (standard.get(path), autopilot.get(path)) for path in standard.keys() | autopilot.keys()}
    assert {path: values for path, values in changed.items() if values[0] != values[1]} == {
        ".containers[0].resources.requests.ephemeral-storage": (None, "50Gi"),
        ".containers[0].resources.limits.ephemeral-storage": (None, "50Gi"),
    }


@pytest.mark.parametrize("mode", ["autopilot", "standard"])
def test_every_manifest_of_both_modes_validates_and_autopilot_admits_its_pods(
    both_modes: dict[str, PreviewResult], mode: str
) -> None:
    manifests = kubernetes_manifests(both_modes[mode])
    assert sorted(m["kind"] for m in manifests) == [
        "Deployment",
        "HorizontalPodAutoscaler",
        "Namespace",
        "NetworkPolicy",
        "NetworkPolicy",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "PodMonitoring",
        "Service",
        "ServiceAccount",
    ]
    for manifest in manifests:
        validate_manifest(manifest)
        if manifest["kind"] == "Deployment":
            check_autopilot_pod(manifest["spec"]["template"]["spec"])


@pytest.mark.parametrize(
    ("extra", "selector", "tolerations"),
    [
        (
            "          spot: true\n",
            {"cloud.google.com/gke-spot": "true"},
            [{"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
        ),
        (
            "          reservation: v6e-res\n",
            {"cloud.google.com/reservation-name": "v6e-res", "cloud.google.com/reservation-affinity": "specific"},
            [],
        ),
    ],
    ids=["spot", "reservation"],
)
def test_spot_or_reservation_and_zone_of_an_autopilot_pool_reach_the_vllm_pod(
    tmp_path: Path, extra: str, selector: dict[str, str], tolerations: list[dict[str, str]]
) -> None:
    stack = (ROOT / "Pulumi.autopilot.yaml").read_text()
    anchor = "          maxNodes: 2\n"
    assert stack.count(anchor) == 1
    extra += "          zone: us-central1-b\n"
    result = run_program(_project(tmp_path, {"capacity": stack.replace(anchor, anchor + extra)}), "capacity")
    pod = _pod_spec(result)
    assert pod["nodeSelector"] == {**V6E_8T.node_selector, **selector, "topology.kubernetes.io/zone": "us-central1-b"}
    assert pod.get("tolerations", []) == tolerations
    for manifest in kubernetes_manifests(result):
        validate_manifest(manifest)
