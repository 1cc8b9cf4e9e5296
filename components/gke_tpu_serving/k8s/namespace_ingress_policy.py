"""NamespaceIngressPolicy: default-deny ingress for a namespace, and the explicit allows of what must reach its
servers."""

from dataclasses import dataclass
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from gke_tpu_serving.errors import ArgError, PathPart, component_errors, require_cidr
from gke_tpu_serving.k8s.ingress import DENY_INGRESS, ingress_peers, ingress_policy_spec
from gke_tpu_serving.names import dns_label_at
from gke_tpu_serving.options import inherited_dependencies

ALLOW_PREFIX = "allow-"
"""Each allow is the NetworkPolicy `allow-<name>`, beside `deny-ingress`."""
_MAX_ALLOW_NAME = 63 - len(ALLOW_PREFIX)


class IngressAllowArgs(TypedDict):
    """Who may reach which pods of the namespace, on which ports."""

    name: str
    """What the allow is for, e.g. monitoring: the NetworkPolicy is allow-<name> (a DNS-1123 label)."""
    pod_labels: NotRequired[dict[str, str]]
    """The pods it lets traffic in to, by their labels. Default: every pod of the namespace."""
    ports: NotRequired[list[int]]
    """TCP ports (on the pods, not the Service). Default: every port."""
    same_namespace: NotRequired[bool]
    """Let in every pod of the namespace itself. Default: false."""
    from_namespaces: NotRequired[list[str]]
    """Let in every pod of these namespaces, e.g. gmp-system. Default: none."""
    from_cidrs: NotRequired[list[str]]
    """Let in these address ranges outside the cluster (CIDR), e.g. a load balancer's clients. Default: none."""


class NamespaceIngressPolicyArgs(TypedDict):
    """Arguments of NamespaceIngressPolicy."""

    namespace: str
    """The namespace (it must exist, or be created by a resource this component depends on)."""
    allows: list[IngressAllowArgs]
    """What may come in; everything else is refused. Empty: nothing comes in."""


@dataclass(frozen=True)
class _Allow:
    name: str
    pod_labels: dict[str, str]
    ports: tuple[int, ...]
    same_namespace: bool
    namespaces: tuple[str, ...]
    cidrs: tuple[str, ...]


def _check_allow(at: tuple[PathPart, ...], allow: IngressAllowArgs) -> _Allow:
    name = dns_label_at((*at, "name"), allow.get("name"))
    if len(name) > _MAX_ALLOW_NAME:
        raise ArgError((*at, "name"), f"{name!r} is too long; allowed: at most {_MAX_ALLOW_NAME} characters")
    ports = tuple(allow.get("ports", []))
    for index, port in enumerate(ports):
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ArgError((*at, "ports", index), f"{port!r} is not allowed; allowed: a port from 1 to 65535")
    namespaces = tuple(allow.get("from_namespaces", []))
    for index, namespace in enumerate(namespaces):
        dns_label_at((*at, "from_namespaces", index), namespace)
    given_cidrs = allow.get("from_cidrs", [])
    cidrs = tuple(require_cidr((*at, "from_cidrs", index), cidr) for index, cidr in enumerate(given_cidrs))
    same_namespace = bool(allow.get("same_namespace", False))
    if not (same_namespace or namespaces or cidrs):
        raise ArgError(
            at, "lets nothing in; allowed: same_namespace true, or at least one of from_namespaces and from_cidrs"
        )
    return _Allow(name, dict(allow.get("pod_labels") or {}), ports, same_namespace, namespaces, cidrs)


def check_namespace_ingress_args(args: NamespaceIngressPolicyArgs) -> tuple[str, list[_Allow]]:
    """Check the args (pure); raises ArgError."""
    namespace = dns_label_at(("namespace",), args.get("namespace"))
    allows = args.get("allows")
    if not isinstance(allows, list):
        raise ArgError(("allows",), f"{allows!r} is not allowed; allowed: a list of allows")
    checked = [_check_allow(("allows", index), allow) for index, allow in enumerate(allows)]
    seen: set[str] = set()
    for index, allow in enumerate(checked):
        if allow.name in seen:
            raise ArgError(("allows", index, "name"), f"{allow.name!r} is listed twice; allowed: one allow per name")
        seen.add(allow.name)
    return namespace, checked


class NamespaceIngressPolicy(pulumi.ComponentResource):
    """Default-deny ingress for a namespace: the NetworkPolicy deny-ingress selects every pod and allows nothing, and
    one NetworkPolicy allow-<name> per allow lets in exactly its sources on its ports. Egress stays open. The cluster
    must enforce NetworkPolicies (GkeTpuCluster does: Dataplane V2). Pass the cluster's Kubernetes provider in
    `opts`."""

    namespace: pulumi.Output[str]
    """The namespace the policies apply to."""

    def __init__(self, name: str, args: NamespaceIngressPolicyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gke-tpu-serving:index:NamespaceIngressPolicy", name, None, opts)
        with component_errors("NamespaceIngressPolicy", name):
            namespace, allows = check_namespace_ingress_args(args)
        child = pulumi.ResourceOptions(parent=self, depends_on=inherited_dependencies(opts))

        def policy(role: str, spec: k8s.networking.v1.NetworkPolicySpecArgs) -> k8s.networking.v1.NetworkPolicy:
            return k8s.networking.v1.NetworkPolicy(
                f"{name}-{role}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=role, namespace=namespace),
                spec=spec,
                opts=child,
            )

        deny = policy(DENY_INGRESS, ingress_policy_spec([]))
        for allow in allows:
            peers = ingress_peers(namespaces=allow.namespaces, cidrs=allow.cidrs, same_namespace=allow.same_namespace)
            spec = ingress_policy_spec(peers, pod_labels=allow.pod_labels, ports=allow.ports)
            policy(ALLOW_PREFIX + allow.name, spec)
        self.namespace = deny.metadata.namespace
        self.register_outputs({"namespace": self.namespace})
