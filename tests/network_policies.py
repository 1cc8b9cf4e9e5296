"""A small, pure evaluator of rendered NetworkPolicies (ingress only): may this source reach this pod on this port?

The semantics of networking.k8s.io/v1 for what the project renders: a pod that no Ingress policy selects admits
everything; a selected pod admits a connection when some rule of some selecting policy matches both its port (no
`ports`: every port) and its source (no `from`: every source). A peer with `podSelector` alone means pods of the
policy's own namespace; `namespaceSelector` selects namespaces by their labels (only `kubernetes.io/metadata.name`
here, which the API server sets); both together select those pods in those namespaces; `ipBlock` matches addresses
outside the cluster (pod traffic is judged by pod and namespace selectors, as Dataplane V2 does). Named ports are
refused: the project's policies use numbers.
"""

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Pod:
    """A pod inside the cluster: its namespace and labels."""

    namespace: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class External:
    """A client outside the cluster, by address."""

    address: str


Source = Pod | External


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector: an empty one matches everything."""
    selector = selector or {}
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for requirement in selector.get("matchExpressions") or []:
        key, operator, values = requirement["key"], requirement["operator"], requirement.get("values") or []
        present = key in labels
        matched = {
            "In": present and labels[key] in values,
            "NotIn": not present or labels[key] not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]
        if not matched:
            return False
    return True


def _peer_admits(peer: Mapping[str, Any], policy_namespace: str, source: Source) -> bool:
    if "ipBlock" in peer:
        if not isinstance(source, External):
            return False
        address = ipaddress.ip_address(source.address)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(excluded) for excluded in block.get("except") or []
        )
    if not isinstance(source, Pod):
        return False
    if "namespaceSelector" in peer:
        if not selector_matches(peer["namespaceSelector"], {NAMESPACE_NAME_LABEL: source.namespace}):
            return False
    elif source.namespace != policy_namespace:
        return False
    return "podSelector" not in peer or selector_matches(peer["podSelector"], source.labels)


def _port_admits(ports: Iterable[Mapping[str, Any]] | None, port: int) -> bool:
    listed = list(ports or [])
    for entry in listed:
        if not isinstance(entry.get("port"), int):
            raise ValueError(f"named or missing port in {entry!r}: the evaluator takes numbers only")
    return not listed or any(entry["port"] == port and entry.get("protocol", "TCP") == "TCP" for entry in listed)


def admits(policies: Iterable[Mapping[str, Any]], target: Pod, port: int, source: Source) -> bool:
    """Whether `source` may open a TCP connection to `target` on `port`, under `policies` (rendered manifests of
    kind NetworkPolicy; others are ignored)."""
    selecting = [
        policy
        for policy in policies
        if policy.get("kind") == "NetworkPolicy"
        and policy["metadata"].get("namespace") == target.namespace
        and "Ingress" in (policy["spec"].get("policyTypes") or ["Ingress"])
        and selector_matches(policy["spec"].get("podSelector"), target.labels)
    ]
    if not selecting:
        return True
    return any(
        _port_admits(rule.get("ports"), port)
        and (not rule.get("from") or any(_peer_admits(peer, target.namespace, source) for peer in rule["from"]))
        for policy in selecting
        for rule in policy["spec"].get("ingress") or []
    )
