"""GkeTpuCluster under Pulumi mocks: exact children, names, parents and inputs; bad args raise before any child."""

import re

import pulumi
import pytest
from helpers import allowed, args_factory

from gke_tpu_serving import ClusterMode, GkeTpuCluster, GkeTpuClusterArgs
from gke_tpu_serving.catalog import GpuAcceleratorType, TpuGeneration
from gke_tpu_serving.cluster.gke_tpu_cluster import NODE_SERVICE_ACCOUNT_ROLE

CLUSTER = "gke-tpu-serving:index:GkeTpuCluster"
GKE = "gcp:container/cluster:Cluster"
POOL = "gcp:container/nodePool:NodePool"

SHARED_NODE_CONFIG = {
    "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
    "workloadMetadataConfig": {"mode": "GKE_METADATA"},
    "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
}


# The dev stack's us-central1 cluster: two v5e 4x8 slices in zone a, one v6e host (1-2) in zone b.
BASE_SEED_ARGS: GkeTpuClusterArgs = {
    "project": "demo-project",
    "location": "us-central1",
    "tpu_pools": [
        {
            "name": "v5e-4x8",
            "generation": TpuGeneration.V5E,
            "machine_type": "ct5lp-hightpu-4t",
            "topology": "4x8",
            "zone": "us-central1-a",
            "slices": 2,
        },
        {
            "name": "v6e-2x4",
            "generation": TpuGeneration.V6E,
            "machine_type": "ct6e-standard-8t",
            "topology": "2x4",
            "min_nodes": 1,
            "max_nodes": 2,
        },
    ],
}
seed_args = args_factory(BASE_SEED_ARGS)


def test_children_are_typed_named_and_parented_to_the_component(pulumi_mocks) -> None:
    GkeTpuCluster("serve", seed_args())
    result = pulumi_mocks.settle()
    component = result.one(CLUSTER, "serve")
    children = sorted((r.type, r.name) for r in result.resources if r.parent == component.urn)
    assert children == [
        ("gcp:container/cluster:Cluster", "serve-cluster"),
        ("gcp:container/nodePool:NodePool", "serve-system"),
        ("gcp:container/nodePool:NodePool", "serve-v5e-4x8-0"),
        ("gcp:container/nodePool:NodePool", "serve-v5e-4x8-1"),
        ("gcp:container/nodePool:NodePool", "serve-v6e-2x4"),
        ("gcp:projects/iAMMember:IAMMember", "serve-nodes-role"),
        ("gcp:serviceaccount/account:Account", "serve-nodes"),
        ("pulumi:providers:kubernetes", "serve-k8s"),
    ]


def test_cluster_has_workload_identity_gcs_fuse_prometheus_and_shielded_nodes(pulumi_mocks) -> None:
    GkeTpuCluster("serve", seed_args())
    cluster = pulumi_mocks.settle().one(GKE, "serve-cluster").inputs
    assert cluster["name"] == "serve"
    assert cluster["location"] == "us-central1"
    assert cluster["workloadIdentityConfig"] == {"workloadPool": "demo-project.svc.id.goog"}
    assert cluster["addonsConfig"] == {"gcsFuseCsiDriverConfig": {"enabled": True}}
    assert cluster["monitoringConfig"] == {
        "enableComponents": ["SYSTEM_COMPONENTS"],
        "managedPrometheus": {"enabled": True},
    }
    assert cluster["enableShieldedNodes"] is True
    assert cluster["releaseChannel"] == {"channel": "REGULAR"}
    assert cluster["deletionProtection"] is True
    assert cluster["removeDefaultNodePool"] is True
    assert "privateClusterConfig" not in cluster


def test_ray_addon_is_enabled_with_logging_and_monitoring_when_asked(pulumi_mocks) -> None:
    GkeTpuCluster("serve", seed_args(ray_operator=True))
    addons = pulumi_mocks.settle().one(GKE, "serve-cluster").inputs["addonsConfig"]
    assert addons["rayOperatorConfigs"] == [
        {
            "enabled": True,
            "rayClusterLoggingConfig": {"enabled": True},
            "rayClusterMonitoringConfig": {"enabled": True},
        }
    ]


def test_private_nodes_option(pulumi_mocks) -> None:
    GkeTpuCluster("serve", seed_args(private_nodes=True, deletion_protection=False))
    cluster = pulumi_mocks.settle().one(GKE, "serve-cluster").inputs
    assert cluster["privateClusterConfig"] == {"enablePrivateNodes": True}
    assert cluster["deletionProtection"] is False


def test_nodes_run_as_a_dedicated_service_account_with_the_node_role_only(pulumi_mocks) -> None:
    GkeTpuCluster("serve", seed_args())
    result = pulumi_mocks.settle()
    account = result.one("gcp:serviceaccount/account:Account", "serve-nodes").inputs
    assert account["accountId"] == "serve-nodes"
    assert account["project"] == "demo-project"
    role = result.one("gcp:projects/iAMMember:IAMMember", "serve-nodes-role").inputs
    assert role["role"] == NODE_SERVICE_ACCOUNT_ROLE == "roles/container.defaultNodeServiceAccount"
    assert len(result.of_type("gcp:projects/iAMMember:IAMMember")) == 1
    for pool in result.of_type(POOL):
        assert {k: pool.inputs["nodeConfig"][k] for k in SHARED_NODE_CONFIG} == SHARED_NODE_CONFIG
        assert "serviceAccount" in pool.inputs["nodeConfig"]


def test_existing_node_service_account_is_used_instead_of_creating_one(pulumi_mocks) -> None:
    email = "gke-nodes@demo-project.iam.gserviceaccount.com"
    GkeTpuCluster("serve", seed_args(node_service_account_email=email))
    result = pulumi_mocks.settle()
    assert result.of_type("gcp:serviceaccount/account:Account") == []
    assert result.of_type("gcp:projects/iAMMember:IAMMember") == []
    assert {p.inputs["nodeConfig"]["serviceAccount"] for p in result.of_type(POOL)} == {email}


def test_multi_host_slices_get_one_compact_pool_each_with_all_their_hosts(pulumi_mocks) -> None:
    GkeTpuCluster("serve", seed_args())
    result = pulumi_mocks.settle()
    for index in (0, 1):
        pool = result.one(POOL, f"serve-v5e-4x8-{index}").inputs
        assert pool["name"] == f"v5e-4x8-{index}"
        assert pool["nodeCount"] == 8
        assert pool["nodeLocations"] == ["us-central1-a"]
        assert pool["placementPolicy"] == {"type": "COMPACT", "tpuTopology": "4x8"}
        assert pool["nodeConfig"]["machineType"] == "ct5lp-hightpu-4t"
        assert "autoscaling" not in pool


def test_single_host_pool_autoscales_without_placement_policy(pulumi_mocks) -> None:
    GkeTpuCluster("serve", seed_args())
    pool = pulumi_mocks.settle().one(POOL, "serve-v6e-2x4").inputs
    assert pool["autoscaling"] == {"minNodeCount": 1, "maxNodeCount": 2}
    assert pool["initialNodeCount"] == 1
    assert pool["nodeLocations"] == ["us-central1-b"]  # the first us-central1 zone that offers v6e
    assert pool["nodeConfig"]["machineType"] == "ct6e-standard-8t"
    assert "placementPolicy" not in pool
    assert "nodeCount" not in pool


def test_multi_host_pool_scales_to_zero_as_a_whole(pulumi_mocks) -> None:
    args = seed_args()
    args["tpu_pools"][0]["min_nodes"] = 0
    GkeTpuCluster("serve", args)
    pool = pulumi_mocks.settle().one(POOL, "serve-v5e-4x8-0").inputs
    assert pool["autoscaling"] == {"minNodeCount": 0, "maxNodeCount": 8}
    assert "nodeCount" not in pool


def test_spot_tpu_pool(pulumi_mocks) -> None:
    args = seed_args()
    args["tpu_pools"][1] |= {"spot": True}
    GkeTpuCluster("serve", args)
    pool = pulumi_mocks.settle().one(POOL, "serve-v6e-2x4").inputs
    assert pool["nodeConfig"]["spot"] is True
    assert "reservationAffinity" not in pool["nodeConfig"]
    assert pool["autoscaling"] == {"minNodeCount": 1, "maxNodeCount": 2}


def test_tpu_pool_on_a_specific_reservation(pulumi_mocks) -> None:
    args = seed_args()
    args["tpu_pools"][1] |= {"reservation": "v6e-reserved"}
    GkeTpuCluster("serve", args)
    node_config = pulumi_mocks.settle().one(POOL, "serve-v6e-2x4").inputs["nodeConfig"]
    assert node_config["spot"] is False
    assert node_config["reservationAffinity"] == {
        "consumeReservationType": "SPECIFIC_RESERVATION",
        "key": "compute.googleapis.com/reservation-name",
        "values": ["v6e-reserved"],
    }


def test_gpu_pool_installs_the_driver_and_scales_from_zero(pulumi_mocks) -> None:
    GkeTpuCluster(
        "serve",
        seed_args(
            gpu_pools=[
                {"name": "l4", "accelerator_type": GpuAcceleratorType.NVIDIA_L4, "machine_type": "g2-standard-24"}
            ]
        ),
    )
    pool = pulumi_mocks.settle().one(POOL, "serve-l4").inputs
    assert pool["autoscaling"] == {"minNodeCount": 0, "maxNodeCount": 1}
    assert pool["initialNodeCount"] == 0
    assert pool["nodeConfig"]["guestAccelerators"] == [
        {"type": "nvidia-l4", "count": 2, "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"}}
    ]
    assert "nodeLocations" not in pool


def test_system_pool_defaults(pulumi_mocks) -> None:
    GkeTpuCluster("serve", seed_args())
    pool = pulumi_mocks.settle().one(POOL, "serve-system").inputs
    assert pool["name"] == "system"
    assert pool["nodeCount"] == 1
    assert pool["nodeConfig"]["machineType"] == "e2-standard-4"


def test_kubernetes_provider_waits_for_every_node_pool(pulumi_mocks) -> None:
    GkeTpuCluster("serve", seed_args())
    result = pulumi_mocks.settle()
    provider = result.one("pulumi:providers:kubernetes", "serve-k8s")
    assert sorted(provider.options["dependsOn"]) == sorted(p.urn for p in result.of_type(POOL))


def test_bad_args_raise_before_any_child_is_registered(pulumi_mocks) -> None:
    args = seed_args()
    args["tpu_pools"][0]["topology"] = "4x4x4"
    with pytest.raises(
        ValueError,
        match=re.escape(
            "GkeTpuCluster 'serve': tpu_pools[0].topology: topology '4x4x4' is not valid for TPU v5e on "
            "ct5lp-hightpu-4t; allowed: 2x2 (single-host), 2x4, 4x4, 4x8, 8x8, 8x16, 16x16 (multi-host)"
        ),
    ):
        GkeTpuCluster("serve", args)
    result = pulumi_mocks.settle()
    assert [r for r in result.resources if r.type != "pulumi:pulumi:Stack" and r.type != CLUSTER] == []


def test_callers_in_other_languages_see_the_bad_property_in_schema_case(pulumi_mocks) -> None:
    args = seed_args()
    args["tpu_pools"][0]["generation"] = "v7"  # type: ignore[typeddict-item]
    reason = f"generation: unknown TPU generation 'v7'; allowed: {allowed(TpuGeneration)}"
    with pytest.raises(pulumi.InputPropertiesError) as error:
        GkeTpuCluster("serve", args)
    assert error.value.message == (f"GkeTpuCluster 'serve': tpu_pools[0].{reason}")
    assert error.value.errors == [
        {"property_path": "tpuPools[0].generation", "reason": reason.removeprefix("generation: ")}
    ]


def test_bad_zone_names_the_component_and_the_arg(pulumi_mocks) -> None:
    with pytest.raises(
        ValueError,
        match=re.escape(
            "GkeTpuCluster 'serve': tpu_pools[1].zone: zone 'us-central1-a' does not offer TPU v6e; allowed: "
            "us-central1-b, us-east1-d, us-east5-a, us-east5-b, europe-west4-a, asia-northeast1-b, southamerica-east1-c"
        ),
    ):
        args = seed_args()
        args["tpu_pools"][1]["zone"] = "us-central1-a"
        GkeTpuCluster("serve", args)


def test_dataplane_v2_enforces_network_policies_by_default(pulumi_mocks) -> None:
    GkeTpuCluster("serve", seed_args())
    assert pulumi_mocks.settle().one(GKE, "serve-cluster").inputs["datapathProvider"] == "ADVANCED_DATAPATH"


def test_dataplane_v2_can_be_left_off_on_standard(pulumi_mocks) -> None:
    GkeTpuCluster("serve", seed_args(dataplane_v2=False))
    assert "datapathProvider" not in pulumi_mocks.settle().one(GKE, "serve-cluster").inputs


def test_google_groups_for_rbac_is_off_unless_a_security_group_is_named(pulumi_mocks) -> None:
    GkeTpuCluster("serve", seed_args())
    assert "authenticatorGroupsConfig" not in pulumi_mocks.settle().one(GKE, "serve-cluster").inputs


def test_rbac_security_group_turns_on_google_groups_for_rbac(pulumi_mocks) -> None:
    GkeTpuCluster("serve", seed_args(rbac_security_group="gke-security-groups@example.com"))
    cluster = pulumi_mocks.settle().one(GKE, "serve-cluster").inputs
    assert cluster["authenticatorGroupsConfig"] == {"securityGroup": "gke-security-groups@example.com"}


def test_autopilot_cluster_also_gets_google_groups_for_rbac(pulumi_mocks) -> None:
    GkeTpuCluster(
        "serve",
        {
            "project": "demo-project",
            "location": "us-central1",
            "mode": ClusterMode.AUTOPILOT,
            "rbac_security_group": "gke-security-groups@example.com",
        },
    )
    cluster = pulumi_mocks.settle().one(GKE, "serve-cluster").inputs
    assert cluster["enableAutopilot"] is True
    assert cluster["authenticatorGroupsConfig"] == {"securityGroup": "gke-security-groups@example.com"}


@pytest.mark.parametrize(
    "security_group", ["ml-admins@example.com", "gke-security-groups", "gke-security-groups@", "group:x@example.com"]
)
def test_rbac_security_group_must_be_gke_security_groups_of_a_domain(pulumi_mocks, security_group: str) -> None:
    with pytest.raises(ValueError) as raised:
        GkeTpuCluster("serve", seed_args(rbac_security_group=security_group))
    assert str(raised.value) == (
        f"GkeTpuCluster 'serve': rbac_security_group: {security_group!r} is not allowed; allowed: "
        "gke-security-groups@YOUR_DOMAIN (Google Groups for RBAC reads only a group of exactly that name, whose "
        "members are the groups used in RBAC)"
    )
