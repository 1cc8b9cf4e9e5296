"""Default-deny ingress for a scenario instance's namespace: what must reach its servers is allowed, nothing else.

Every instance lets in its own namespace (its servers talk to each other: Saxml's admin, model and HTTP servers, a
Ray head and its workers), the pods of its `clientNamespaces` on the serving port, and a load balancer's clients on
the serving port when `exposure` asks for one; each scenario adds what else reaches its pods (Managed Prometheus, the
KubeRay operator). An instance in a tenant's namespace registers nothing: the Tenant's own policies already deny
ingress there.
"""

from collections.abc import Sequence

import pulumi

from gke_tpu_serving import Exposure, IngressAllowArgs, NamespaceIngressPolicy
from gke_tpu_serving.errors import ArgError
from gke_tpu_serving.k8s.ingress import load_balancer_sources
from gke_tpu_serving.names import check_dns_label

from .model import DeployContext, Placement, config_error

CLIENT_NAMESPACES = "client_namespaces"


def check_client_namespaces(placement: Placement) -> None:
    """An instance's `clientNamespaces`, at config load: namespace names, not its own, not in a tenant's namespace."""
    namespaces = placement.settings.get(CLIENT_NAMESPACES) or []
    if namespaces and placement.tenant is not None:
        raise config_error(
            placement.at(CLIENT_NAMESPACES),
            f"{namespaces!r} is not allowed with tenant {placement.tenant!r}; allowed: none (the tenant's "
            "NetworkPolicies decide who reaches its namespace)",
        )
    for index, namespace in enumerate(namespaces):
        try:
            check_dns_label(namespace, at=placement.at(CLIENT_NAMESPACES, index))
        except ArgError as error:
            raise config_error(error.path, error.reason) from None
        if namespace == placement.namespace:
            raise config_error(
                placement.at(CLIENT_NAMESPACES, index),
                f"{namespace!r} is the instance's own namespace, which is always let in; allowed: other namespaces",
            )


def deploy_ingress_policy(
    placement: Placement,
    context: DeployContext,
    *,
    serving_port: int,
    allows: Sequence[IngressAllowArgs] = (),
    after: pulumi.Resource,
) -> NamespaceIngressPolicy | None:
    """The instance's NamespaceIngressPolicy, once `after` (the resource that creates its namespace) exists; None in
    a tenant's namespace."""
    if context.tenant is not None:
        return None
    every: list[IngressAllowArgs] = [{"name": "same-namespace", "same_namespace": True}, *allows]
    clients = placement.settings.get(CLIENT_NAMESPACES) or []
    if clients:
        every.append({"name": "clients", "ports": [serving_port], "from_namespaces": list(clients)})
    sources = load_balancer_sources(placement.settings.get("exposure", Exposure.CLUSTER_IP))
    if sources:
        every.append({"name": "load-balancer", "ports": [serving_port], "from_cidrs": list(sources)})
    return NamespaceIngressPolicy(
        f"{placement.resource_prefix}-network",
        {"namespace": placement.namespace, "allows": every},
        opts=pulumi.ResourceOptions(provider=context.cluster.kubernetes_provider, depends_on=[after]),
    )
