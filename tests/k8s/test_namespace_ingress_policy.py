"""NamespaceIngressPolicy under Pulumi mocks: deny-ingress plus one allow-<name> per allow, each validated against the
Kubernetes schema and judged by the NetworkPolicy evaluator; bad args refused with their exact message; the
evaluator's own semantics on hand-written policies."""

from typing import Any

import pulumi
import pytest
from helpers import args_factory, assert_refused_before_any_child
from manifest_validation import validate_manifest
from network_policies import External, Pod, admits

from gke_tpu_serving import (
    Exposure,
    NamespaceIngressPolicy,
    NamespaceIngressPolicyArgs,
    WorkloadIdentity,
    WorkloadIdentityMode,
)
from gke_tpu_serving.k8s.ingress import load_balancer_sources
from gke_tpu_serving.offline import kubernetes_manifests

BASE_ARGS: NamespaceIngressPolicyArgs = {
    "namespace": "serving",
    "allows": [
        {"name": "same-namespace", "same_namespace": True},
        {"name": "monitoring", "ports": [8000], "from_namespaces": ["gmp-system"]},
        {"name": "load-balancer", "pod_labels": {"app": "server"}, "ports": [8000], "from_cidrs": ["0.0.0.0/0"]},
    ],
}
args = args_factory(BASE_ARGS)
SERVER = Pod("serving", {"app": "server"})
SIDECAR_JOB = Pod("serving", {"app": "job"})


def _policies(mocks: Any) -> list[dict[str, Any]]:
    manifests = kubernetes_manifests(mocks.settle())
    for manifest in manifests:
        validate_manifest(manifest)
    return manifests


def test_denies_every_pod_then_allows_each_source_by_name(pulumi_mocks: Any) -> None:
    NamespaceIngressPolicy("serving", args())
    result = pulumi_mocks.settle()
    assert {r.name for r in result.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")} == {
        "serving-deny-ingress",
        "serving-allow-same-namespace",
        "serving-allow-monitoring",
        "serving-allow-load-balancer",
    }
    by_name = {m["metadata"]["name"]: m for m in _policies(pulumi_mocks)}
    assert by_name["deny-ingress"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert by_name["allow-load-balancer"]["spec"] == {
        "podSelector": {"matchLabels": {"app": "server"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 8000, "protocol": "TCP"}]}],
    }


@pytest.mark.parametrize(
    ("target", "port", "source", "admitted"),
    [
        (SERVER, 8000, Pod("serving"), True),
        (SERVER, 9999, Pod("serving"), True),
        (SERVER, 8000, Pod("gmp-system"), True),
        (SERVER, 8001, Pod("gmp-system"), False),
        (SERVER, 8000, Pod("kube-system"), False),
        (SERVER, 8000, External("198.51.100.1"), True),
        (SERVER, 8001, External("198.51.100.1"), False),
        (SIDECAR_JOB, 8000, External("198.51.100.1"), False),
        (SIDECAR_JOB, 8000, Pod("gmp-system"), True),
    ],
)
def test_who_gets_in(pulumi_mocks: Any, target: Pod, port: int, source: Any, admitted: bool) -> None:
    NamespaceIngressPolicy("serving", args())
    assert admits(_policies(pulumi_mocks), target, port, source) is admitted


def test_no_allows_lets_nothing_in(pulumi_mocks: Any) -> None:
    NamespaceIngressPolicy("serving", args(allows=[]))
    policies = _policies(pulumi_mocks)
    assert [p["metadata"]["name"] for p in policies] == ["deny-ingress"]
    assert not admits(policies, SERVER, 8000, Pod("serving"))


def test_children_wait_for_what_creates_the_namespace(pulumi_mocks: Any) -> None:
    identity = WorkloadIdentity(
        "id",
        {
            "project": "p",
            "namespace": "serving",
            "service_account_name": "sa",
            "mode": WorkloadIdentityMode.FEDERATED,
            "create_namespace": True,
        },
    )
    NamespaceIngressPolicy("serving", args(), opts=pulumi.ResourceOptions(depends_on=[identity]))
    result = pulumi_mocks.settle()
    deny = result.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "serving-deny-ingress")
    # The engine expands a component dependency to the component's children, the namespace among them.
    assert result.one("kubernetes:core/v1:Namespace", "id-namespace").urn in deny.options["dependsOn"]


@pytest.mark.parametrize(
    ("allows", "reason"),
    [
        (
            [{"name": "nobody"}],
            "allows[0]: lets nothing in; allowed: same_namespace true, or at least one of from_namespaces and "
            "from_cidrs",
        ),
        (
            [{"name": "web", "ports": [0], "same_namespace": True}],
            "allows[0].ports[0]: 0 is not allowed; allowed: a port from 1 to 65535",
        ),
        (
            [{"name": "web", "from_cidrs": ["10.0.0.1/8"]}],
            "allows[0].from_cidrs[0]: '10.0.0.1/8' is not allowed; allowed: a network in CIDR notation, e.g. 10.0.0.0/8",
        ),
        (
            [{"name": "a", "same_namespace": True}, {"name": "a", "same_namespace": True}],
            "allows[1].name: 'a' is listed twice; allowed: one allow per name",
        ),
        (
            [{"name": "x" * 58, "same_namespace": True}],
            f"allows[0].name: {'x' * 58!r} is too long; allowed: at most 57 characters",
        ),
    ],
)
def test_bad_allows_are_refused_before_any_child(pulumi_mocks: Any, allows: Any, reason: str) -> None:
    assert_refused_before_any_child(pulumi_mocks, NamespaceIngressPolicy, "serving", args(allows=allows), reason)


def test_bad_namespace_source_is_refused(pulumi_mocks: Any) -> None:
    allows = [{"name": "web", "from_namespaces": ["Kube_System"]}]
    reason = (
        "allows[0].from_namespaces[0]: 'Kube_System' is not a valid DNS-1123 label; allowed: 1-63 characters of "
        "lowercase letters, digits and '-', starting and ending with a letter or digit"
    )
    assert_refused_before_any_child(pulumi_mocks, NamespaceIngressPolicy, "serving", args(allows=allows), reason)


@pytest.mark.parametrize(
    ("exposure", "sources"),
    [
        (Exposure.CLUSTER_IP, ()),
        (Exposure.INTERNAL_LOAD_BALANCER, ("0.0.0.0/0",)),
        (Exposure.PUBLIC_LOAD_BALANCER, ("0.0.0.0/0",)),
    ],
)
def test_load_balancers_pass_their_clients_through(exposure: Exposure, sources: tuple[str, ...]) -> None:
    assert load_balancer_sources(exposure) == sources


def test_the_evaluator_reads_selectors_and_blocks_as_kubernetes_does() -> None:
    policy = {
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "a"},
        "spec": {
            "podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]},
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "b"}},
                            "podSelector": {"matchLabels": {"role": "client"}},
                        }
                    ]
                },
                {"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}], "ports": [{"port": 443}]},
            ],
        },
    }
    web = Pod("a", {"tier": "web"})
    assert admits([policy], web, 80, Pod("b", {"role": "client"}))
    assert not admits([policy], web, 80, Pod("b", {"role": "other"}))
    assert not admits([policy], web, 80, Pod("a", {"role": "client"}))
    assert admits([policy], web, 443, External("10.2.0.1"))
    assert not admits([policy], web, 443, External("10.1.0.1"))
    assert not admits([policy], web, 80, External("10.2.0.1"))
    # A pod no policy selects takes everything.
    assert admits([policy], Pod("a", {"tier": "db"}), 5432, External("203.0.113.1"))
