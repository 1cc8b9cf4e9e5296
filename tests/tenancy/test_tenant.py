"""Tenant under Pulumi mocks: namespace, role bindings, Ray roles, quota, limit range, network policies and the team's
Workload Identity, per tenant; every object validated against the Kubernetes schemas; bad args refused with their
exact message; the pure quota arithmetic the stack config uses."""

from decimal import Decimal
from typing import Any

import pytest
from helpers import allowed, args_factory, assert_refused_before_any_child
from manifest_validation import validate_manifest

from gke_tpu_serving import Tenant, TenantArgs, TenantRole
from gke_tpu_serving.errors import ArgError
from gke_tpu_serving.offline import kubernetes_manifests
from gke_tpu_serving.tenancy.quota import Demand, Resources, check_capacity, check_demands, check_member, parse_quantity

ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


BASE_ARGS: TenantArgs = {
    "project": "demo-project",
    "namespace": "team-a",
    "members": [
        {"member": "group:team-a-admins@example.com", "role": TenantRole.ADMIN},
        {"member": "group:team-a@example.com", "role": TenantRole.CONTRIBUTOR},
        {"member": "user:alice@example.com", "role": TenantRole.CONTRIBUTOR},
        {"member": "user:auditor@example.com", "role": TenantRole.VIEWER},
    ],
    "quota": {"cpu": "96", "memory": "384Gi", "tpu_chips": 16},
}
args = args_factory(BASE_ARGS)


def _by_kind_and_name(result: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["kind"], m["metadata"]["name"]): m for m in kubernetes_manifests(result)}


def test_namespace_is_labelled_for_the_team_and_enforces_restricted_pod_security(pulumi_mocks: Any) -> None:
    Tenant("team-a", args())
    namespace = _by_kind_and_name(pulumi_mocks.settle())[("Namespace", "team-a")]
    assert namespace["metadata"]["labels"] == {
        "gke-tpu-serving/tenant": "team-a",
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }


def test_members_are_bound_to_the_built_in_roles_and_the_ray_roles(pulumi_mocks: Any) -> None:
    Tenant("team-a", args())
    bindings = {
        r.inputs["metadata"]["name"]: (r.inputs["roleRef"], r.inputs["subjects"])
        for r in pulumi_mocks.settle().of_type(ROLE_BINDING)
    }

    def subjects(*pairs: tuple[str, str]) -> list[dict[str, str]]:
        return [{"kind": kind, "name": name, "apiGroup": "rbac.authorization.k8s.io"} for kind, name in pairs]

    admins = subjects(("Group", "team-a-admins@example.com"))
    contributors = subjects(("Group", "team-a@example.com"), ("User", "alice@example.com"))
    viewers = subjects(("User", "auditor@example.com"))
    cluster_role = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole"}
    role = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role"}
    assert bindings == {
        "admin-members": ({**cluster_role, "name": "admin"}, admins),
        "admin-ray": ({**role, "name": "ray-editor"}, admins),
        "contributor-members": ({**cluster_role, "name": "edit"}, contributors),
        "contributor-ray": ({**role, "name": "ray-editor"}, contributors),
        "viewer-members": ({**cluster_role, "name": "view"}, viewers),
        "viewer-ray": ({**role, "name": "ray-viewer"}, viewers),
    }


def test_ray_roles_cover_kuberays_three_kinds(pulumi_mocks: Any) -> None:
    Tenant("team-a", args())
    objects = _by_kind_and_name(pulumi_mocks.settle())
    resources = ["rayclusters", "rayservices", "rayjobs"]
    assert objects[("Role", "ray-editor")]["rules"] == [
        {
            "apiGroups": ["ray.io"],
            "resources": resources,
            "verbs": ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"],
        }
    ]
    assert objects[("Role", "ray-viewer")]["rules"] == [
        {"apiGroups": ["ray.io"], "resources": resources, "verbs": ["get", "list", "watch"]}
    ]


def test_a_role_without_members_gets_no_binding(pulumi_mocks: Any) -> None:
    Tenant("team-a", args(members=[{"member": "user:alice@example.com", "role": TenantRole.ADMIN}]))
    names = sorted(r.inputs["metadata"]["name"] for r in pulumi_mocks.settle().of_type(ROLE_BINDING))
    assert names == ["admin-members", "admin-ray"]


def test_quota_caps_requests_of_cpu_memory_tpu_chips_and_gpus(pulumi_mocks: Any) -> None:
    Tenant("team-a", args())
    quota = _by_kind_and_name(pulumi_mocks.settle())[("ResourceQuota", "tenant-quota")]
    assert quota["metadata"]["namespace"] == "team-a"
    assert quota["spec"]["hard"] == {
        "requests.cpu": "96",
        "requests.memory": "384Gi",
        "requests.google.com/tpu": "16",
        "requests.nvidia.com/gpu": "0",
    }


def test_memory_limits_are_capped_only_when_asked(pulumi_mocks: Any) -> None:
    Tenant("team-a", args(quota={"cpu": "8", "memory": "32Gi", "memory_limit": "64Gi", "gpus": 2}))
    hard = _by_kind_and_name(pulumi_mocks.settle())[("ResourceQuota", "tenant-quota")]["spec"]["hard"]
    assert hard == {
        "requests.cpu": "8",
        "requests.memory": "32Gi",
        "requests.google.com/tpu": "0",
        "requests.nvidia.com/gpu": "2",
        "limits.memory": "64Gi",
    }


def test_limit_range_gives_containers_requests_and_a_memory_limit_but_no_cpu_limit(pulumi_mocks: Any) -> None:
    Tenant("team-a", args(container_defaults={"cpu": "500m"}))
    limits = _by_kind_and_name(pulumi_mocks.settle())[("LimitRange", "container-defaults")]["spec"]["limits"]
    assert limits == [
        {"type": "Container", "defaultRequest": {"cpu": "500m", "memory": "512Mi"}, "default": {"memory": "2Gi"}}
    ]


def test_network_policies_deny_other_namespaces_but_the_gateway_and_system_ones(pulumi_mocks: Any) -> None:
    Tenant("team-a", args())
    policies = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in pulumi_mocks.settle().of_type(NETWORK_POLICY)}
    every_pod: dict[str, Any] = {}
    assert policies == {
        "deny-ingress": {"podSelector": every_pod, "policyTypes": ["Ingress"]},
        "allow-same-namespace": {
            "podSelector": every_pod,
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": every_pod}]}],
        },
        "allow-gateway": {
            "podSelector": every_pod,
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": "35.191.0.0/16"}}, {"ipBlock": {"cidr": "130.211.0.0/22"}}]}],
        },
        "allow-system-namespaces": {
            "podSelector": every_pod,
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchExpressions": [
                                    {
                                        "key": "kubernetes.io/metadata.name",
                                        "operator": "In",
                                        "values": ["kube-system", "gmp-system"],
                                    }
                                ]
                            }
                        }
                    ]
                }
            ],
        },
    }


def test_other_ingress_namespaces_replace_the_defaults(pulumi_mocks: Any) -> None:
    Tenant("team-a", args(ingress_namespaces=["kube-system", "gmp-system", "istio-system"]))
    policy = pulumi_mocks.settle().one(NETWORK_POLICY, "team-a-allow-system-namespaces").inputs
    (peer,) = policy["spec"]["ingress"][0]["from"]
    assert peer["namespaceSelector"]["matchExpressions"][0]["values"] == ["kube-system", "gmp-system", "istio-system"]


def test_the_teams_workload_identity_is_federated_in_its_namespace(pulumi_mocks: Any) -> None:
    tenant = Tenant("team-a", args())
    result = pulumi_mocks.settle()
    account = _by_kind_and_name(result)[("ServiceAccount", "workloads")]
    assert account["metadata"]["namespace"] == "team-a"
    assert "annotations" not in account["metadata"]
    assert pulumi_mocks.resolve(tenant.member) == (
        "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/"
        "demo-project.svc.id.goog/subject/ns/team-a/sa/workloads"
    )


def test_everything_waits_for_the_namespace(pulumi_mocks: Any) -> None:
    Tenant("team-a", args())
    result = pulumi_mocks.settle()
    namespace_urn = result.one("kubernetes:core/v1:Namespace", "team-a-namespace").urn
    namespaced = [r for r in result.resources if r.type.startswith("kubernetes:") and "Namespace" not in r.type]
    assert len(namespaced) == 15
    assert [r.name for r in namespaced if namespace_urn not in r.options.get("dependsOn", [])] == []


def test_every_object_passes_schema_validation(pulumi_mocks: Any) -> None:
    Tenant("team-a", args())
    manifests = kubernetes_manifests(pulumi_mocks.settle())
    assert sorted(m["kind"] for m in manifests) == [
        "LimitRange",
        "Namespace",
        "NetworkPolicy",
        "NetworkPolicy",
        "NetworkPolicy",
        "NetworkPolicy",
        "ResourceQuota",
        "Role",
        "Role",
        "RoleBinding",
        "RoleBinding",
        "RoleBinding",
        "RoleBinding",
        "RoleBinding",
        "RoleBinding",
        "ServiceAccount",
    ]
    for manifest in manifests:
        validate_manifest(manifest)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"members": [{"member": "team-a@example.com", "role": TenantRole.ADMIN}]},
            "members[0].member: 'team-a@example.com' is not a member; allowed: group:GROUP_EMAIL (a Google Group under "
            "Google Groups for RBAC) or user:USER_EMAIL",
        ),
        (
            {"members": [{"member": "serviceAccount:ci@p.iam.gserviceaccount.com", "role": TenantRole.ADMIN}]},
            "members[0].member: 'serviceAccount:ci@p.iam.gserviceaccount.com' is not a member; allowed: "
            "group:GROUP_EMAIL (a Google Group under Google Groups for RBAC) or user:USER_EMAIL",
        ),
        (
            {"members": [{"member": "user:alice@example", "role": TenantRole.ADMIN}]},
            "members[0].member: 'user:alice@example' is not a member; allowed: group:GROUP_EMAIL (a Google Group under "
            "Google Groups for RBAC) or user:USER_EMAIL",
        ),
        (
            {"members": [{"member": "user:alice@example.com", "role": TenantRole.VIEWER}]},
            "members: no member has role admin; allowed: at least one admin (who manages the rest)",
        ),
        (
            {
                "members": [
                    {"member": "user:alice@example.com", "role": TenantRole.ADMIN},
                    {"member": "user:alice@example.com", "role": TenantRole.VIEWER},
                ]
            },
            "members[1].member: 'user:alice@example.com' is listed twice; allowed: one role per member",
        ),
        (
            {"members": [{"member": "user:alice@example.com", "role": "owner"}]},
            f"members[0].role: 'owner' is not allowed; allowed: {allowed(TenantRole)}",
        ),
        (
            {"namespace": "Team_A"},
            "namespace: 'Team_A' is not a valid DNS-1123 label; allowed: 1-63 characters of "
            "lowercase letters, digits and '-', starting and ending with a letter or digit",
        ),
        (
            {"quota": {"cpu": "lots", "memory": "1Gi"}},
            "quota.cpu: 'lots' is not a Kubernetes quantity; allowed: e.g. '500m', '4', '16Gi', '1G'",
        ),
        (
            {"quota": {"cpu": "8", "memory": "1Gi", "tpu_chips": -4}},
            "quota.tpu_chips: -4 is not allowed; allowed: an integer >= 0",
        ),
        (
            {"container_defaults": {"memory": "4Gi"}},
            "container_defaults.memory_limit: '2Gi' is less than the default memory request '4Gi'; allowed: at least "
            "the request",
        ),
    ],
)
def test_bad_args_are_refused_before_anything_is_created(
    pulumi_mocks: Any, extra: dict[str, Any], message: str
) -> None:
    assert_refused_before_any_child(pulumi_mocks, Tenant, "team-a", args(**extra), message)


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("500m", Decimal("0.5")),
        ("4", Decimal(4)),
        ("1.5", Decimal("1.5")),
        ("16Gi", Decimal(16 * 2**30)),
        ("1G", Decimal(10**9)),
    ],
)
def test_quantities_parse_as_kubernetes_reads_them(text: str, amount: Decimal) -> None:
    assert parse_quantity(text) == amount


def test_members_map_to_rbac_subject_kinds() -> None:
    assert check_member("group:ml@example.com") == ("Group", "ml@example.com")
    assert check_member("user:alice@example.com") == ("User", "alice@example.com")


QUOTA = Resources(cpu=Decimal(96), memory=Decimal(384 * 2**30), tpu_chips=16)


def test_demands_within_the_quota_pass() -> None:
    demands = [
        Demand(("llama",), "team-a", Resources(cpu=Decimal(32), memory=Decimal(256 * 2**30), tpu_chips=16)),
        Demand(("tenants", 0, "notebook"), "team-a", Resources(cpu=Decimal(2), memory=Decimal(8 * 2**30))),
    ]
    check_demands("team-a", "team-a", QUOTA, demands)


def test_a_deployment_outside_the_tenants_namespace_is_refused() -> None:
    with pytest.raises(ArgError) as raised:
        check_demands("team-a", "team-a", QUOTA, [Demand(("llama",), "llama", Resources())])
    assert str(raised.value) == "llama.namespace: 'llama' is not the namespace of tenant 'team-a'; allowed: 'team-a'"


def test_demands_above_the_quota_are_refused_naming_the_one_that_crosses_it() -> None:
    demands = [
        Demand(("tenants", 0, "notebook"), "team-a", Resources(cpu=Decimal(2), tpu_chips=0)),
        Demand(("llama",), "team-a", Resources(cpu=Decimal(32), tpu_chips=24)),
    ]
    with pytest.raises(ArgError) as raised:
        check_demands("team-a", "team-a", QUOTA, demands)
    assert str(raised.value) == (
        "llama: requests 24 TPU chips (google.com/tpu) at its maximum scale, which brings tenant 'team-a' to 24; "
        "allowed: its quota of 16"
    )


def test_memory_above_the_quota_is_shown_in_gibibytes() -> None:
    demands = [Demand(("llama",), "team-a", Resources(memory=Decimal(512 * 2**30)))]
    with pytest.raises(ArgError) as raised:
        check_demands("team-a", "team-a", QUOTA, demands)
    assert str(raised.value) == (
        "llama: requests 512Gi memory at its maximum scale, which brings tenant 'team-a' to 512Gi; allowed: its "
        "quota of 384Gi"
    )


def test_accelerator_quotas_above_the_clusters_capacity_are_refused() -> None:
    with pytest.raises(ArgError) as raised:
        check_capacity(("tenants",), "tpu_chips", [("team-a", 16), ("team-b", 8)], 16, "shared")
    assert str(raised.value) == (
        "tenants: the tenants of cluster 'shared' are promised 24 TPU chips (google.com/tpu) (team-a 16, team-b 8), "
        "more than its pools' 16 at their maximum size; allowed: quotas that sum to at most 16, or "
        "allowOvercommit: true"
    )
    check_capacity(("tenants",), "tpu_chips", [("team-a", 8), ("team-b", 8)], 16, "shared")
