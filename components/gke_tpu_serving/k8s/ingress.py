"""Pure builders of ingress NetworkPolicies, shared by every namespace the project creates (a Tenant's and a scenario
instance's): who may reach which pods on which ports. The cluster enforces them (GkeTpuCluster: Dataplane V2)."""

from collections.abc import Mapping, Sequence

import pulumi_kubernetes as k8s

from gke_tpu_serving.k8s.pods import Exposure

# Google Front Ends and health checkers: where a global external Application Load Balancer (a GKE Gateway of class
# gke-l7-global-external-managed) and its health checks reach container-native (NEG) backends from.
GOOGLE_FRONT_END_RANGES = ("35.191.0.0/16", "130.211.0.0/22")
ANYWHERE = "0.0.0.0/0"
"""Every address outside the cluster: the clients of a load balancer that passes their packets through."""
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""The label the API server sets on every namespace to its own name: what a NetworkPolicy selects a namespace by."""
KUBE_SYSTEM = "kube-system"
"""kube-system: kube-dns replies and GKE's own agents."""
MANAGED_PROMETHEUS_NAMESPACE = "gmp-system"
"""Where Managed Service for Prometheus runs its collectors, a DaemonSet that scrapes the pods a PodMonitoring selects
on the collector's own node (https://cloud.google.com/stackdriver/docs/managed-prometheus/setup-managed: "Managed
collection runs Prometheus-based collectors as a Daemonset ... only scraping targets on colocated nodes"; the
collector is gmp-system/collector in its self-monitoring PodMonitoring; read 2026-12-07)."""
DENY_INGRESS = "deny-ingress"
"""The NetworkPolicy that selects every pod of a namespace and allows nothing: what no `allow-*` lets in is refused."""


def load_balancer_sources(exposure: Exposure) -> tuple[str, ...]:
    """Where the clients of a server's Service come from. A passthrough load balancer (internal or public) delivers
    the clients' own packets to the pods, so its serving port is open to every address outside the cluster; who may
    reach the load balancer is its own business (internal: the VPC). cluster-ip: nobody outside the cluster."""
    return (ANYWHERE,) if exposure is not Exposure.CLUSTER_IP else ()


def ingress_peers(
    *, namespaces: Sequence[str] = (), cidrs: Sequence[str] = (), same_namespace: bool = False
) -> list[k8s.networking.v1.NetworkPolicyPeerArgs]:
    """The sources a rule lets in: every pod of the policy's own namespace, every pod of the named namespaces, and
    addresses outside the cluster in the given ranges."""
    peers: list[k8s.networking.v1.NetworkPolicyPeerArgs] = []
    if same_namespace:
        peers.append(k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=k8s.meta.v1.LabelSelectorArgs()))
    if namespaces:
        peers.append(
            k8s.networking.v1.NetworkPolicyPeerArgs(
                namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                    match_expressions=[
                        k8s.meta.v1.LabelSelectorRequirementArgs(
                            key=NAMESPACE_NAME_LABEL, operator="In", values=list(namespaces)
                        )
                    ]
                )
            )
        )
    peers.extend(
        k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=cidr)) for cidr in cidrs
    )
    return peers


def ingress_policy_spec(
    peers: Sequence[k8s.networking.v1.NetworkPolicyPeerArgs],
    *,
    pod_labels: Mapping[str, str] | None = None,
    ports: Sequence[int] = (),
) -> k8s.networking.v1.NetworkPolicySpecArgs:
    """An ingress-only policy: the pods with `pod_labels` (every pod of the namespace without) accept `peers` on the
    TCP `ports` (every port without). No peers: the policy only selects its pods, so it denies what no other policy
    allows. Egress stays open (DNS, Google APIs, model hubs)."""
    rule = None
    if peers:
        rule = k8s.networking.v1.NetworkPolicyIngressRuleArgs(
            from_=list(peers),
            ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=port, protocol="TCP") for port in ports] or None,
        )
    return k8s.networking.v1.NetworkPolicySpecArgs(
        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(pod_labels) if pod_labels else None),
        policy_types=["Ingress"],
        ingress=[rule] if rule is not None else None,
    )
