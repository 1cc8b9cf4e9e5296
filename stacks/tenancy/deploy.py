"""Registers the tenants, their Ray clusters and notebooks, and each cluster's gateway."""

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import pulumi

from gke_tpu_serving import (
    AccessMode,
    GkeTpuCluster,
    Notebook,
    RayAuthMode,
    RayCluster,
    RayClusterArgs,
    Tenant,
    TenantArgs,
    TenantGateway,
)
from gke_tpu_serving.tenancy.tenant import DEFAULT_SYSTEM_NAMESPACES

from ..tokens import generated_token
from .model import Tenancy, gateway_args, notebook_name, ray_cluster_name, stack_generates_ray_token


def notebook_token(secret: str, tenant: str) -> str:
    """Each team's Jupyter token, derived from one stack secret: teams do not share tokens, and the operator needs
    no secret per team."""
    return hmac.new(secret.encode(), f"jupyter-token:{tenant}".encode(), hashlib.sha256).hexdigest()


def _notebook_token_output(secret: pulumi.Input[str], tenant: str) -> pulumi.Output[str]:
    return pulumi.Output.secret(secret).apply(lambda value: notebook_token(value, tenant))


def deploy(
    tenancy: Tenancy, clusters: Mapping[str, GkeTpuCluster], secrets: Mapping[str, Any]
) -> tuple[dict[str, Tenant], dict[str, Any]]:
    """Register the tenants, their Ray clusters and notebooks, and each cluster's gateway; returns the Tenant
    components by name (scenario instances that name a tenant deploy into its namespace, waiting for it) and the
    `tenants` stack output."""
    outputs: dict[str, Any] = {}
    components: dict[str, Tenant] = {}
    settings = tenancy.settings
    istio = settings.get("mode", AccessMode.IAP) is AccessMode.ISTIO
    for parsed in tenancy.tenants:
        name = parsed.config["name"]
        on_cluster = pulumi.ResourceOptions(provider=clusters[parsed.cluster.name].kubernetes_provider)
        tenant_args: TenantArgs = {**parsed.args}
        if istio:
            # The Istio ingress gateway's pods are in the cluster: let them into the team's namespace.
            tenant_args["ingress_namespaces"] = [*DEFAULT_SYSTEM_NAMESPACES, settings["istio_gateway"].split("/")[0]]
        tenant = Tenant(name, tenant_args, opts=on_cluster)
        components[name] = tenant
        entry: dict[str, Any] = {
            "namespace": tenant.namespace,
            "serviceAccount": tenant.service_account_name,
            "iamMember": tenant.member,
        }
        if parsed.hostname and parsed.routes:
            entry["url"] = f"https://{parsed.hostname}/"
        in_tenant = pulumi.ResourceOptions(provider=on_cluster.provider, depends_on=[tenant])
        if parsed.ray_cluster is not None:
            ray_args: RayClusterArgs = {**parsed.ray_cluster, "service_account_name": tenant.service_account_name}
            if (
                stack_generates_ray_token(parsed.cluster)
                and ray_args.get("auth", RayAuthMode.TOKEN) is RayAuthMode.TOKEN
            ):
                ray_args["auth_token"] = generated_token(f"{name}-ray-auth-token")
            ray_cluster = RayCluster(ray_cluster_name(parsed.config), ray_args, opts=in_tenant)
            entry["rayCluster"] = {"address": ray_cluster.ray_address, "dashboard": ray_cluster.dashboard_url}
        if parsed.notebook is not None:
            token = _notebook_token_output(secrets["notebookSecret"], name)
            notebook = Notebook(
                notebook_name(name),
                {**parsed.notebook, "service_account_name": tenant.service_account_name, "token": token},
                opts=in_tenant,
            )
            entry["rayAddress"] = notebook.ray_address
            entry["notebookToken"] = token
        outputs[name] = entry
    for cluster_name in sorted({t.cluster.name for t in tenancy.tenants}):
        routed = [t for t in tenancy.tenants if t.cluster.name == cluster_name and t.routes]
        if not routed:
            continue
        gateway = gateway_args(routed, settings, routed[0].args["project"])
        if gateway["mode"] is AccessMode.IAP:
            gateway["iap_client_secret"] = secrets["iapClientSecret"]
        TenantGateway(
            f"{cluster_name}-tenants",
            gateway,
            opts=pulumi.ResourceOptions(provider=clusters[cluster_name].kubernetes_provider),
            # A team's routes and backend policies go into its namespace: they wait for that team only.
            tenant_depends_on={t.config["name"]: [components[t.config["name"]]] for t in routed},
        )
    return components, outputs
