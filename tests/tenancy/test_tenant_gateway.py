"""TenantGateway under Pulumi mocks: the IAP Gateway, its certificates, HTTPRoutes, backend and health-check policies
and hostname-scoped IAP access; the Istio alternative; Gateway and HTTPRoute validated against the upstream CRDs;
every object validated against its schema (the upstream CRDs for Gateway API, GKE and Istio kinds); the policy pack
accepting the IAP-protected external Gateway; bad args refused with their exact message."""

from collections import Counter
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from helpers import args_factory, assert_refused_before_any_child
from manifest_validation import validate_manifest

from gke_tpu_serving import AccessMode, TenantGateway, TenantGatewayArgs
from gke_tpu_serving.offline import kubernetes_manifests
from policy.adapter import violations
from policy.rules import RESOURCE_POLICIES

CLIENT_ID = "123456789012-abcdef.apps.googleusercontent.com"
CUSTOM = "kubernetes:{}:{}"
IAP_MEMBER = "gcp:iap/webIamMember:WebIamMember"


def tenant(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": name,
        "hostname": f"{name}.ml.example.com",
        "members": [f"group:{name}@example.com", "user:alice@example.com"],
        "routes": [
            {"path": "/ray/", "service": f"{name}-head-svc", "port": 8265},
            {
                "path": "/notebook/",
                "service": "notebook",
                "port": 8888,
                "strip_prefix": False,
                "health_check_path": "/notebook/api",
            },
        ],
        **extra,
    }


BASE_ARGS: TenantGatewayArgs = {
    "project": "demo-project",
    "tenants": [tenant("team-a"), tenant("team-b")],  # type: ignore[list-item]
    "iap_client_id": CLIENT_ID,
    "iap_client_secret": "not-a-real-secret",
}
args = args_factory(BASE_ARGS)


def _objects(result: Any) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {
        (m["kind"], m["metadata"].get("namespace", ""), m["metadata"]["name"]): m for m in kubernetes_manifests(result)
    }


def test_gateway_is_https_only_with_the_certificate_map_and_admits_tenant_namespaces_only(pulumi_mocks: Any) -> None:
    TenantGateway("tenants", args())
    gateway = _objects(pulumi_mocks.settle())[("Gateway", "tenant-gateway", "tenants")]
    assert gateway["metadata"]["annotations"] == {
        "networking.gke.io/certmap": "tenants",
        "gke-tpu-serving/identity-aware-proxy": "true",
    }
    assert gateway["spec"] == {
        "gatewayClassName": "gke-l7-global-external-managed",
        "listeners": [
            {
                "name": "https",
                "protocol": "HTTPS",
                "port": 443,
                "allowedRoutes": {
                    "kinds": [{"kind": "HTTPRoute"}],
                    "namespaces": {
                        "from": "Selector",
                        "selector": {"matchExpressions": [{"key": "gke-tpu-serving/tenant", "operator": "Exists"}]},
                    },
                },
            }
        ],
    }


def test_each_hostname_gets_a_google_managed_certificate_in_the_map(pulumi_mocks: Any) -> None:
    TenantGateway("tenants", args())
    result = pulumi_mocks.settle()
    certificate = result.one("gcp:certificatemanager/certificate:Certificate", "tenants-team-a-certificate").inputs
    assert certificate == {
        "name": "tenants-team-a",
        "project": "demo-project",
        "managed": {"domains": ["team-a.ml.example.com"]},
    }
    entry = result.one(
        "gcp:certificatemanager/certificateMapEntry:CertificateMapEntry", "tenants-team-a-certificate-entry"
    ).inputs
    assert entry["hostname"] == "team-a.ml.example.com"
    assert entry["map"] == "tenants"
    assert len(result.of_type("gcp:certificatemanager/certificate:Certificate")) == 2


def test_each_tenant_routes_its_hostname_paths_to_its_services(pulumi_mocks: Any) -> None:
    TenantGateway("tenants", args())
    route = _objects(pulumi_mocks.settle())[("HTTPRoute", "team-a", "tenants")]
    assert route["spec"] == {
        "parentRefs": [{"name": "tenants", "namespace": "tenant-gateway", "sectionName": "https"}],
        "hostnames": ["team-a.ml.example.com"],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/ray/"}}],
                "backendRefs": [{"name": "team-a-head-svc", "port": 8265}],
                "filters": [
                    {
                        "type": "URLRewrite",
                        "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
                    }
                ],
            },
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/notebook/"}}],
                "backendRefs": [{"name": "notebook", "port": 8888}],
            },
        ],
    }


def test_every_routed_service_is_behind_iap_with_the_client_secret_from_a_secret(pulumi_mocks: Any) -> None:
    TenantGateway("tenants", args())
    objects = _objects(pulumi_mocks.settle())
    policies = {key: m for key, m in objects.items() if key[0] == "GCPBackendPolicy"}
    assert sorted(policies) == [
        ("GCPBackendPolicy", "team-a", "notebook-iap"),
        ("GCPBackendPolicy", "team-a", "team-a-head-svc-iap"),
        ("GCPBackendPolicy", "team-b", "notebook-iap"),
        ("GCPBackendPolicy", "team-b", "team-b-head-svc-iap"),
    ]
    assert policies[("GCPBackendPolicy", "team-a", "team-a-head-svc-iap")]["spec"] == {
        "default": {
            "iap": {"enabled": True, "clientID": CLIENT_ID, "oauth2ClientSecret": {"name": "tenants-iap-oauth"}}
        },
        "targetRef": {"group": "", "kind": "Service", "name": "team-a-head-svc"},
    }
    secret = objects[("Secret", "team-a", "tenants-iap-oauth")]
    assert secret["stringData"] == {"key": "[secret]"}


def test_health_checks_ask_each_backend_for_a_path_that_needs_no_credentials(pulumi_mocks: Any) -> None:
    TenantGateway("tenants", args())
    objects = _objects(pulumi_mocks.settle())
    assert objects[("HealthCheckPolicy", "team-a", "notebook-health")]["spec"] == {
        "default": {"config": {"type": "HTTP", "httpHealthCheck": {"port": 8888, "requestPath": "/notebook/api"}}},
        "targetRef": {"group": "", "kind": "Service", "name": "notebook"},
    }
    ray = objects[("HealthCheckPolicy", "team-a", "team-a-head-svc-health")]["spec"]["default"]["config"]
    assert ray["httpHealthCheck"] == {"port": 8265, "requestPath": "/"}


def test_iap_access_is_granted_to_each_teams_members_for_its_own_hostname_only(pulumi_mocks: Any) -> None:
    TenantGateway("tenants", args())
    grants = {r.name: r.inputs for r in pulumi_mocks.settle().of_type(IAP_MEMBER)}
    assert sorted(grants) == [
        "tenants-team-a-iap-group-team-a@example.com",
        "tenants-team-a-iap-user-alice@example.com",
        "tenants-team-b-iap-group-team-b@example.com",
        "tenants-team-b-iap-user-alice@example.com",
    ]
    assert grants["tenants-team-b-iap-group-team-b@example.com"] == {
        "project": "demo-project",
        "role": "roles/iap.httpsResourceAccessor",
        "member": "group:team-b@example.com",
        "condition": {
            "title": "tenant-team-b",
            "description": "IAP access to team-b.ml.example.com only",
            "expression": 'request.host == "team-b.ml.example.com"',
        },
    }


def test_every_object_fits_its_schema(pulumi_mocks: Any) -> None:
    TenantGateway("tenants", args())
    manifests = kubernetes_manifests(pulumi_mocks.settle())
    assert Counter(m["kind"] for m in manifests) == {
        "Namespace": 1,
        "Gateway": 1,
        "HTTPRoute": 2,
        "Secret": 2,
        "GCPBackendPolicy": 4,
        "HealthCheckPolicy": 4,
    }
    for manifest in manifests:
        validate_manifest(manifest)


def test_the_iap_protected_external_gateway_passes_the_policy_pack(pulumi_mocks: Any) -> None:
    TenantGateway("tenants", args())
    # The resource policies only: alone, without the tenants' Services, the routes dangle (plan-integrity's domain).
    assert violations(pulumi_mocks.settle(), RESOURCE_POLICIES) == []


def test_istio_mode_routes_through_the_existing_gateway_and_requires_an_authenticated_principal(
    pulumi_mocks: Any,
) -> None:
    TenantGateway(
        "tenants",
        {
            "project": "demo-project",
            "mode": AccessMode.ISTIO,
            "istio_gateway": "kubeflow/kubeflow-gateway",
            "tenants": [tenant("team-a", members=[])],  # type: ignore[list-item]
        },
    )
    result = pulumi_mocks.settle()
    objects = _objects(result)
    assert objects[("VirtualService", "team-a", "tenants")]["spec"] == {
        "hosts": ["team-a.ml.example.com"],
        "gateways": ["kubeflow/kubeflow-gateway"],
        "http": [
            {
                "name": "ray",
                "match": [{"uri": {"prefix": "/ray/"}}],
                "route": [
                    {"destination": {"host": "team-a-head-svc.team-a.svc.cluster.local", "port": {"number": 8265}}}
                ],
                "rewrite": {"uri": "/"},
            },
            {
                "name": "notebook",
                "match": [{"uri": {"prefix": "/notebook/"}}],
                "route": [{"destination": {"host": "notebook.team-a.svc.cluster.local", "port": {"number": 8888}}}],
            },
        ],
    }
    assert objects[("AuthorizationPolicy", "team-a", "tenants-require-authentication")]["spec"] == {
        "action": "DENY",
        "rules": [{"from": [{"source": {"namespaces": ["kubeflow"], "notRequestPrincipals": ["*"]}}]}],
    }
    assert {m["kind"] for m in objects.values()} == {"VirtualService", "AuthorizationPolicy"}
    for manifest in objects.values():
        validate_manifest(manifest)
    assert result.of_type(IAP_MEMBER) == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"iap_client_id": "not-an-id"},
            "iap_client_id: 'not-an-id' is not allowed; allowed: an OAuth client id, "
            "NUMBER-ID.apps.googleusercontent.com",
        ),
        ({"iap_client_secret": None}, "iap_client_secret: missing; required with mode iap (IAP's OAuth client secret)"),
        (
            {"tenants": [tenant("team-a"), tenant("team-b", hostname="team-a.ml.example.com")]},
            "tenants[1].hostname: 'team-a.ml.example.com' is also tenant 'team-a''s; allowed: one hostname per tenant "
            "(IAP access is granted per hostname)",
        ),
        (
            {"tenants": [tenant("team-a", members=[])]},
            "tenants[0].members: [] is not allowed; allowed: a non-empty list of members",
        ),
        (
            {"tenants": [tenant("team-a", members=["alice@example.com"])]},
            "tenants[0].members[0]: 'alice@example.com' is not a member; allowed: group:GROUP_EMAIL (a Google Group "
            "under Google Groups for RBAC) or user:USER_EMAIL",
        ),
        (
            {"tenants": [tenant("team-a", routes=[{"path": "/ray", "service": "s", "port": 8265}])]},
            "tenants[0].routes[0].path: '/ray' is not allowed; allowed: a path such as /ray/ ending in /",
        ),
        (
            {
                "tenants": [
                    tenant(
                        "team-a",
                        routes=[
                            {"path": "/ray/", "service": "s", "port": 8265},
                            {"path": "/ray/", "service": "t", "port": 8000},
                        ],
                    )
                ]
            },
            "tenants[0].routes[1].path: '/ray/' is routed twice; allowed: one route per path",
        ),
        (
            {"tenants": [tenant("team-a", routes=[{"path": "/ray/", "service": "s", "port": 0}])]},
            "tenants[0].routes[0].port: 0 is not allowed; allowed: a port from 1 to 65535",
        ),
        (
            {"tenants": [tenant("team-a", hostname="localhost")]},
            "tenants[0].hostname: 'localhost' is not allowed; allowed: a DNS name such as team-a.ml.example.com",
        ),
        (
            {
                "mode": AccessMode.ISTIO,
                "istio_gateway": "kubeflow-gateway",
                "iap_client_id": None,
                "iap_client_secret": None,
            },
            "istio_gateway: 'kubeflow-gateway' is not allowed; allowed: NAMESPACE/NAME of the Istio ingress gateway",
        ),
        (
            {"mode": AccessMode.ISTIO, "istio_gateway": "kubeflow/kubeflow-gateway"},
            "iap_client_id: applies to mode iap only; mode istio authenticates at the Istio gateway",
        ),
    ],
)
def test_bad_args_are_refused_before_anything_is_created(
    pulumi_mocks: Any, extra: dict[str, Any], message: str
) -> None:
    given = args(**extra)
    for key in [k for k, v in given.items() if v is None]:
        del given[key]  # type: ignore[misc]
    assert_refused_before_any_child(pulumi_mocks, TenantGateway, "tenants", given, message)


def _team_namespaces() -> dict[str, list[pulumi.Resource]]:
    """Stand-ins for the Tenant components the stack passes: one Namespace per team."""
    return {name: [k8s.core.v1.Namespace(f"{name}-namespace")] for name in ("team-a", "team-b")}


def _waits_for(result: Any) -> dict[str, list[str]]:
    """Each Kubernetes object and IAP binding of the gateway, by name: the names of what it waits for (dependsOn)."""
    names = {r.urn: r.name for r in result.resources}
    return {
        r.name: sorted(names[urn] for urn in r.options.get("dependsOn", []))
        for r in result.resources
        if r.type.startswith("kubernetes:") or r.type == IAP_MEMBER
    }


def test_a_teams_objects_wait_for_the_gateway_and_their_own_team_only(pulumi_mocks: Any) -> None:
    TenantGateway("tenants", args(), tenant_depends_on=_team_namespaces())
    waits = _waits_for(pulumi_mocks.settle())
    for team in ("team-a", "team-b"):
        own = f"{team}-namespace"
        assert waits[f"tenants-{team}-iap-oauth"] == sorted(["tenants-gateway", own])
        assert waits[f"tenants-{team}-route"] == sorted(["tenants-gateway", own])
        assert waits[f"tenants-{team}-notebook-iap"] == sorted(["tenants-gateway", own, f"tenants-{team}-iap-oauth"])
        assert waits[f"tenants-{team}-notebook-health"] == sorted(["tenants-gateway", own])
        # A project IAM binding: nothing in the cluster has to exist first.
        assert waits[f"tenants-{team}-iap-group-{team}@example.com"] == []
    assert waits["tenants-namespace"] == []
    assert waits["tenants-gateway"] == [
        "tenants-namespace",
        "tenants-team-a-certificate-entry",
        "tenants-team-b-certificate-entry",
    ]


def test_what_every_object_waits_for_comes_from_opts(pulumi_mocks: Any) -> None:
    before = k8s.core.v1.Namespace("before")
    TenantGateway("tenants", args(), opts=pulumi.ResourceOptions(depends_on=[before]))
    waits = _waits_for(pulumi_mocks.settle())
    assert waits["tenants-namespace"] == ["before"]
    assert waits["tenants-team-a-route"] == ["before", "tenants-gateway"]
    assert waits["tenants-team-b-iap-user-alice@example.com"] == ["before"]


def test_istio_mode_objects_wait_for_their_own_team_only(pulumi_mocks: Any) -> None:
    istio: TenantGatewayArgs = {
        "project": "demo-project",
        "mode": AccessMode.ISTIO,
        "istio_gateway": "kubeflow/kubeflow-gateway",
        "tenants": [tenant("team-a", members=[]), tenant("team-b", members=[])],  # type: ignore[list-item]
    }
    TenantGateway("tenants", istio, tenant_depends_on=_team_namespaces())
    waits = _waits_for(pulumi_mocks.settle())
    for team in ("team-a", "team-b"):
        assert waits[f"tenants-{team}-virtual-service"] == [f"{team}-namespace"]
        assert waits[f"tenants-{team}-require-authentication"] == [f"{team}-namespace"]


def test_waiting_for_a_team_that_is_not_a_tenant_is_refused(pulumi_mocks: Any) -> None:
    with pytest.raises(ValueError) as raised:
        TenantGateway("tenants", args(), tenant_depends_on={"team-c": []})
    assert (
        str(raised.value)
        == "TenantGateway 'tenants': tenant_depends_on: 'team-c' is not a tenant; allowed: team-a, team-b"
    )
    assert [r.type for r in pulumi_mocks.settle().resources] == [
        "pulumi:pulumi:Stack",
        "gke-tpu-serving:index:TenantGateway",
    ]
