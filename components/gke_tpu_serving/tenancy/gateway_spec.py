"""TenantGateway's args, their checks (pure: the stack config runs them at load) and the pure builders of its
Gateway API and Istio routing specs."""

import re
from collections.abc import Sequence
from enum import Enum
from typing import Any, NotRequired, TypedDict

import pulumi

from gke_tpu_serving.errors import ArgError, PathPart
from gke_tpu_serving.names import dns_label_at
from gke_tpu_serving.tenancy.quota import check_member
from gke_tpu_serving.tenancy.tenant import TENANT_LABEL

# GKE's global external Application Load Balancer (Envoy-based): IAP and Certificate Manager certificate maps work
# with it, and it reaches NEG backends from the Google Front End ranges the Tenant's NetworkPolicy lets in.
GATEWAY_CLASS = "gke-l7-global-external-managed"
CERTMAP_ANNOTATION = "networking.gke.io/certmap"
# Marks an external Gateway whose every backend sits behind IAP (this component attaches the GCPBackendPolicy); the
# policy pack's exposure rule accepts it as authenticated rather than public.
IAP_ANNOTATION = "gke-tpu-serving/identity-aware-proxy"
IAP_ROLE = "roles/iap.httpsResourceAccessor"
IAP_SECRET_KEY = "key"  # the key GKE's Gateway controller reads the OAuth client secret from
LISTENER = "https"
_HOSTNAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")
_PATH = re.compile(r"^/([a-z0-9-]+/)+$")
_CLIENT_ID = re.compile(r"^[0-9]+-[a-z0-9]+\.apps\.googleusercontent\.com$")


class AccessMode(Enum):
    """How tenants' services are reached from outside the cluster."""

    IAP = "iap"
    """A GKE Gateway (gke-l7-global-external-managed) with Google-managed certificates and Identity-Aware Proxy on
    every backend; each tenant's members get roles/iap.httpsResourceAccessor for their own hostname only."""
    ISTIO = "istio"
    """VirtualServices on an existing Istio ingress gateway (Kubeflow's), and an AuthorizationPolicy per tenant that
    refuses requests through it without an authenticated request principal (the platform's RequestAuthentication)."""


class GatewayRouteArgs(TypedDict):
    """One path of a tenant's hostname and the Service behind it."""

    path: str
    """Path prefix, e.g. /ray/ (lowercase segments, ending in /)."""
    service: str
    """Service in the tenant's namespace, e.g. team-a-head-svc (a RayCluster's head) or a serving Service."""
    port: int
    """Its port, e.g. 8265 for the Ray dashboard."""
    strip_prefix: NotRequired[bool]
    """Rewrite the path prefix to / before the request reaches the Service (the Ray dashboard and Serve apps expect
    to be at the root). Default: true. A notebook serving under its own base URL sets false."""
    health_check_path: NotRequired[str]
    """Path the load balancer's health check requests (it must answer 200 without credentials). Default: /."""


class GatewayTenantArgs(TypedDict):
    """One tenant's hostname, who may use it, and its routes."""

    name: str
    """The tenant's name."""
    namespace: str
    """The tenant's namespace, where its routes and backend policies live."""
    hostname: str
    """The tenant's hostname, e.g. team-a.ml.example.com (point its DNS at the gateway's address)."""
    members: list[str]
    """IAP mode: group:EMAIL or user:EMAIL allowed through IAP to this hostname."""
    routes: list[GatewayRouteArgs]
    """Paths and the Services behind them."""


class TenantGatewayArgs(TypedDict):
    """Arguments of TenantGateway."""

    project: pulumi.Input[str]
    """GCP project of the cluster (certificates and IAP access are granted there)."""
    tenants: list[GatewayTenantArgs]
    """The tenants reached through the gateway."""
    mode: NotRequired[AccessMode]
    """iap (default) or istio."""
    namespace: NotRequired[str]
    """iap: namespace of the Gateway, created by the component. Default: "tenant-gateway"."""
    iap_client_id: NotRequired[str]
    """iap: the OAuth client's id (NUMBER-ID.apps.googleusercontent.com)."""
    iap_client_secret: NotRequired[pulumi.Input[str]]
    """iap: the OAuth client's secret, a Pulumi secret (copied into a Kubernetes Secret in each tenant namespace)."""
    istio_gateway: NotRequired[str]
    """istio: the ingress gateway, NAMESPACE/NAME, e.g. kubeflow/kubeflow-gateway."""


def _check_routes(at: tuple[PathPart, ...], routes: object) -> None:
    if not isinstance(routes, list) or not routes:
        raise ArgError(at, f"{routes!r} is not allowed; allowed: a non-empty list of routes")
    paths: set[str] = set()
    for index, route in enumerate(routes):
        path = route.get("path")
        if not isinstance(path, str) or not _PATH.match(path):
            raise ArgError((*at, index, "path"), f"{path!r} is not allowed; allowed: a path such as /ray/ ending in /")
        if path in paths:
            raise ArgError((*at, index, "path"), f"{path!r} is routed twice; allowed: one route per path")
        paths.add(path)
        dns_label_at((*at, index, "service"), route.get("service"))
        port = route.get("port")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ArgError((*at, index, "port"), f"{port!r} is not allowed; allowed: a port from 1 to 65535")
        health = route.get("health_check_path", "/")
        if not isinstance(health, str) or not health.startswith("/"):
            raise ArgError((*at, index, "health_check_path"), f"{health!r} is not allowed; allowed: a path from /")


def check_tenant_gateway_args(args: TenantGatewayArgs) -> AccessMode:
    """Check the args (pure: the stack config calls it at load); returns the mode. Raises ArgError."""
    mode = args.get("mode", AccessMode.IAP)
    if not isinstance(mode, AccessMode):
        raise ArgError(("mode",), f"{mode!r} is not allowed; allowed: {', '.join(m.value for m in AccessMode)}")
    tenants = args.get("tenants")
    if not isinstance(tenants, list) or not tenants:
        raise ArgError(("tenants",), f"{tenants!r} is not allowed; allowed: a non-empty list of tenants")
    hostnames: dict[str, str] = {}
    for index, tenant in enumerate(tenants):
        at: tuple[PathPart, ...] = ("tenants", index)
        name = dns_label_at((*at, "name"), tenant.get("name"))
        dns_label_at((*at, "namespace"), tenant.get("namespace"))
        hostname = tenant.get("hostname")
        if not isinstance(hostname, str) or not _HOSTNAME.match(hostname) or len(hostname) > 253:
            raise ArgError(
                (*at, "hostname"), f"{hostname!r} is not allowed; allowed: a DNS name such as team-a.ml.example.com"
            )
        if hostname in hostnames:
            raise ArgError(
                (*at, "hostname"),
                f"{hostname!r} is also tenant {hostnames[hostname]!r}'s; allowed: one hostname per tenant (IAP access "
                "is granted per hostname)",
            )
        hostnames[hostname] = name
        members = tenant.get("members")
        if mode is AccessMode.IAP and (not isinstance(members, list) or not members):
            raise ArgError((*at, "members"), f"{members!r} is not allowed; allowed: a non-empty list of members")
        for member_index, member in enumerate(members or []):
            check_member(member, at=(*at, "members", member_index))
        _check_routes((*at, "routes"), tenant.get("routes"))
    if mode is AccessMode.IAP:
        dns_label_at(("namespace",), args.get("namespace", "tenant-gateway"))
        client_id = args.get("iap_client_id")
        if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
            raise ArgError(
                ("iap_client_id",),
                f"{client_id!r} is not allowed; allowed: an OAuth client id, NUMBER-ID.apps.googleusercontent.com",
            )
        if args.get("iap_client_secret") is None:
            raise ArgError(("iap_client_secret",), "missing; required with mode iap (IAP's OAuth client secret)")
    else:
        for key in ("iap_client_id", "iap_client_secret"):
            if args.get(key) is not None:
                raise ArgError((key,), "applies to mode iap only; mode istio authenticates at the Istio gateway")
        gateway = args.get("istio_gateway")
        parts = gateway.split("/") if isinstance(gateway, str) else []
        if len(parts) != 2:
            raise ArgError(
                ("istio_gateway",), f"{gateway!r} is not allowed; allowed: NAMESPACE/NAME of the Istio ingress gateway"
            )
        for part in parts:
            dns_label_at(("istio_gateway",), part)
    return mode


def http_route_rules(routes: Sequence[GatewayRouteArgs]) -> list[dict[str, Any]]:
    """The HTTPRoute rules of a tenant's routes: a path prefix each, rewritten to / unless the backend serves under
    its own prefix."""
    rules = []
    for route in routes:
        rule: dict[str, Any] = {
            "matches": [{"path": {"type": "PathPrefix", "value": route["path"]}}],
            "backendRefs": [{"name": route["service"], "port": route["port"]}],
        }
        if route.get("strip_prefix", True):
            rule["filters"] = [
                {
                    "type": "URLRewrite",
                    "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
                }
            ]
        rules.append(rule)
    return rules


def virtual_service_routes(namespace: str, routes: Sequence[GatewayRouteArgs]) -> list[dict[str, Any]]:
    """The Istio VirtualService http routes of a tenant's routes."""
    result = []
    for route in routes:
        entry: dict[str, Any] = {
            "name": route["path"].strip("/").replace("/", "-"),
            "match": [{"uri": {"prefix": route["path"]}}],
            "route": [
                {
                    "destination": {
                        "host": f"{route['service']}.{namespace}.svc.cluster.local",
                        "port": {"number": route["port"]},
                    }
                }
            ],
        }
        if route.get("strip_prefix", True):
            entry["rewrite"] = {"uri": "/"}
        result.append(entry)
    return result


def gateway_spec() -> dict[str, Any]:
    """HTTPS only (certificates from the map), and only tenant namespaces may attach routes."""
    return {
        "gatewayClassName": GATEWAY_CLASS,
        "listeners": [
            {
                "name": LISTENER,
                "protocol": "HTTPS",
                "port": 443,
                "allowedRoutes": {
                    "kinds": [{"kind": "HTTPRoute"}],
                    "namespaces": {
                        "from": "Selector",
                        "selector": {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]},
                    },
                },
            }
        ],
    }
