"""TenantGateway: authenticated access to each tenant's Ray dashboard, notebook and serving endpoints, through a GKE
Gateway with Identity-Aware Proxy, or through an existing Istio ingress gateway (Kubeflow). Its args, their checks and
the routing specs are in gateway_spec.py."""

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from gke_tpu_serving.errors import ArgError, allowed_values, component_errors
from gke_tpu_serving.names import check_dns_label
from gke_tpu_serving.options import inherited_dependencies
from gke_tpu_serving.tenancy.gateway_spec import (
    CERTMAP_ANNOTATION,
    IAP_ANNOTATION,
    IAP_ROLE,
    IAP_SECRET_KEY,
    LISTENER,
    AccessMode,
    GatewayRouteArgs,
    GatewayTenantArgs,
    TenantGatewayArgs,
    check_tenant_gateway_args,
    gateway_spec,
    http_route_rules,
    virtual_service_routes,
)

__all__ = [
    "AccessMode",
    "GatewayRouteArgs",
    "GatewayTenantArgs",
    "TenantGateway",
    "TenantGatewayArgs",
    "check_tenant_gateway_args",
]


class TenantGateway(pulumi.ComponentResource):
    """Authenticated access to tenants' services, never a public unauthenticated path. Mode iap: one Gateway (class
    gke-l7-global-external-managed, HTTPS only) with a Certificate Manager map of Google-managed certificates, an
    HTTPRoute per tenant hostname (only namespaces labelled as tenants may attach), and on every routed Service a
    GCPBackendPolicy enabling IAP and a HealthCheckPolicy; IAP access (roles/iap.httpsResourceAccessor) is granted to
    each tenant's members under an IAM condition on the tenant's hostname. Mode istio: a VirtualService per tenant on
    an existing Istio ingress gateway and an AuthorizationPolicy that refuses unauthenticated requests through it.
    Pass the cluster's Kubernetes provider in `opts`.

    Every Kubernetes object waits for `opts.depends_on`; a tenant's objects in its namespace (secret, route, policies)
    also wait for what `tenant_depends_on` lists under the tenant's name (Python callers: its Tenant component), and
    for no other tenant's, so the dependency edges grow with the tenants, not with their square."""

    urls: pulumi.Output[dict[str, str]]
    """Each tenant's base URL, by tenant name."""
    gateway_name: pulumi.Output[str] | None
    """iap mode: the Gateway's name (its address is the load balancer's IP to point the hostnames at)."""

    def __init__(
        self,
        name: str,
        args: TenantGatewayArgs,
        opts: pulumi.ResourceOptions | None = None,
        tenant_depends_on: Mapping[str, Sequence[pulumi.Resource]] | None = None,
    ) -> None:
        super().__init__("gke-tpu-serving:index:TenantGateway", name, None, opts)
        with component_errors("TenantGateway", name):
            check_dns_label(name)
            mode = check_tenant_gateway_args(args)
            tenant_needs = _tenant_needs(args, tenant_depends_on or {})
        needs = inherited_dependencies(opts)
        self.gateway_name = None
        if mode is AccessMode.IAP:
            self._iap(name, args, needs, tenant_needs)
        else:
            self._istio(name, args, needs, tenant_needs)
        self.urls = pulumi.Output.from_input({t["name"]: f"https://{t['hostname']}/" for t in args["tenants"]})
        self.register_outputs({"urls": self.urls, "gateway_name": self.gateway_name})

    def _iap(
        self,
        name: str,
        args: TenantGatewayArgs,
        needs: list[pulumi.Resource],
        tenant_needs: Mapping[str, list[pulumi.Resource]],
    ) -> None:
        project = args["project"]
        child = pulumi.ResourceOptions(parent=self, depends_on=needs)
        gateway_namespace = args.get("namespace", "tenant-gateway")
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=gateway_namespace, labels={"gke-tpu-serving/gateway": name}),
            opts=child,
        )
        certificate_map = gcp.certificatemanager.CertificateMap(
            f"{name}-certificates",
            gcp.certificatemanager.CertificateMapArgs(
                name=name, project=project, description="Google-managed certificates of the tenants' hostnames"
            ),
            opts=child,
        )
        entries = []
        for tenant in args["tenants"]:
            # Load balancer authorization: Google issues the certificate once the hostname resolves to the gateway.
            certificate = gcp.certificatemanager.Certificate(
                f"{name}-{tenant['name']}-certificate",
                gcp.certificatemanager.CertificateArgs(
                    name=f"{name}-{tenant['name']}",
                    project=project,
                    managed=gcp.certificatemanager.CertificateManagedArgs(domains=[tenant["hostname"]]),
                ),
                opts=child,
            )
            entries.append(
                gcp.certificatemanager.CertificateMapEntry(
                    f"{name}-{tenant['name']}-certificate-entry",
                    gcp.certificatemanager.CertificateMapEntryArgs(
                        name=f"{name}-{tenant['name']}",
                        project=project,
                        map=certificate_map.name,
                        hostname=tenant["hostname"],
                        certificates=[certificate.id],
                    ),
                    opts=child,
                )
            )
        gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version="gateway.networking.k8s.io/v1",
            kind="Gateway",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=name,
                namespace=gateway_namespace,
                annotations={CERTMAP_ANNOTATION: certificate_map.name, IAP_ANNOTATION: "true"},
            ),
            spec=gateway_spec(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, *entries, *needs]),
        )
        self.gateway_name = pulumi.Output.from_input(name)
        for tenant in args["tenants"]:
            in_namespace = [gateway, *needs, *tenant_needs[tenant["name"]]]
            self._iap_tenant(name, gateway_namespace, tenant, args, in_namespace, needs)

    def _iap_tenant(
        self,
        name: str,
        gateway_namespace: str,
        tenant: GatewayTenantArgs,
        args: TenantGatewayArgs,
        needs: list[pulumi.Resource],
        iam_needs: list[pulumi.Resource],
    ) -> None:
        child = pulumi.ResourceOptions(parent=self, depends_on=needs)
        tenant_name, namespace, hostname = tenant["name"], tenant["namespace"], tenant["hostname"]
        secret_name = f"{name}-iap-oauth"
        # GCPBackendPolicy reads the OAuth client secret from its own namespace.
        secret = k8s.core.v1.Secret(
            f"{name}-{tenant_name}-iap-oauth",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=secret_name, namespace=namespace),
            type="Opaque",
            string_data={IAP_SECRET_KEY: pulumi.Output.secret(args["iap_client_secret"])},
            opts=child,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-{tenant_name}-route",
            api_version="gateway.networking.k8s.io/v1",
            kind="HTTPRoute",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace),
            spec={
                "parentRefs": [{"name": name, "namespace": gateway_namespace, "sectionName": LISTENER}],
                "hostnames": [hostname],
                "rules": http_route_rules(tenant["routes"]),
            },
            opts=child,
        )
        services: dict[str, GatewayRouteArgs] = {}
        for route in tenant["routes"]:
            services.setdefault(route["service"], route)
        for service, route in services.items():
            iap = {"enabled": True, "clientID": args["iap_client_id"], "oauth2ClientSecret": {"name": secret_name}}
            health = {"port": route["port"], "requestPath": route.get("health_check_path", "/")}
            policies = {
                "iap": ("GCPBackendPolicy", {"iap": iap}, [secret, *needs]),
                "health": ("HealthCheckPolicy", {"config": {"type": "HTTP", "httpHealthCheck": health}}, needs),
            }
            for suffix, (kind, default, after) in policies.items():
                k8s.apiextensions.CustomResource(
                    f"{name}-{tenant_name}-{service}-{suffix}",
                    api_version="networking.gke.io/v1",
                    kind=kind,
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{service}-{suffix}", namespace=namespace),
                    spec={"default": default, "targetRef": {"group": "", "kind": "Service", "name": service}},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=after),
                )
        # The web scope's IAP policy, narrowed to the tenant's own hostname: members of one team cannot pass IAP to
        # another team's hostname, and no backend service name (which GKE generates) is needed.
        # Each binding is named by its member, not its position: adding a member adds one binding and changes none.
        # The alias is the name by position that earlier versions used, so existing bindings are renamed, not
        # replaced (after that first `pulumi up`, every binding has its member's name and the alias matches nothing).
        # A project IAM binding: neither the Gateway nor the tenant's namespace has to exist first.
        for index, member in enumerate(tenant["members"]):
            gcp.iap.WebIamMember(
                f"{name}-{tenant_name}-iap-{member.replace(':', '-')}",
                gcp.iap.WebIamMemberArgs(
                    project=args["project"],
                    role=IAP_ROLE,
                    member=member,
                    condition=gcp.iap.WebIamMemberConditionArgs(
                        title=f"tenant-{tenant_name}",
                        description=f"IAP access to {hostname} only",
                        expression=f'request.host == "{hostname}"',
                    ),
                ),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=iam_needs,
                    aliases=[pulumi.Alias(name=f"{name}-{tenant_name}-iap-{index}")],
                ),
            )

    def _istio(
        self,
        name: str,
        args: TenantGatewayArgs,
        needs: list[pulumi.Resource],
        tenant_needs: Mapping[str, list[pulumi.Resource]],
    ) -> None:
        istio_gateway = args["istio_gateway"]
        gateway_namespace = istio_gateway.split("/")[0]
        for tenant in args["tenants"]:
            namespace = tenant["namespace"]
            child = pulumi.ResourceOptions(parent=self, depends_on=[*needs, *tenant_needs[tenant["name"]]])
            k8s.apiextensions.CustomResource(
                f"{name}-{tenant['name']}-virtual-service",
                api_version="networking.istio.io/v1",
                kind="VirtualService",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace),
                spec={
                    "hosts": [tenant["hostname"]],
                    "gateways": [istio_gateway],
                    "http": virtual_service_routes(namespace, tenant["routes"]),
                },
                opts=child,
            )
            k8s.apiextensions.CustomResource(
                f"{name}-{tenant['name']}-require-authentication",
                api_version="security.istio.io/v1",
                kind="AuthorizationPolicy",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-require-authentication", namespace=namespace),
                spec={
                    "action": "DENY",
                    "rules": [
                        {"from": [{"source": {"namespaces": [gateway_namespace], "notRequestPrincipals": ["*"]}}]}
                    ],
                },
                opts=child,
            )


def _tenant_needs(
    args: TenantGatewayArgs, tenant_depends_on: Mapping[str, Sequence[pulumi.Resource]]
) -> dict[str, list[pulumi.Resource]]:
    """What each tenant's objects wait for besides the caller's depends_on, by tenant name; ArgError for a name that
    is not one of the tenants."""
    names = [tenant["name"] for tenant in args["tenants"]]
    for key in tenant_depends_on:
        if key not in names:
            raise ArgError(("tenant_depends_on",), f"{key!r} is not a tenant; allowed: {allowed_values(names)}")
    return {name: list(tenant_depends_on.get(name, ())) for name in names}
