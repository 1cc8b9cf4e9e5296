"""The tenants' config types, their validated form, and the names and gateway args that parse and deploy share."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NotRequired, TypedDict

import pulumi

from gke_tpu_serving import (
    AccessMode,
    ContainerDefaultsArgs,
    GatewayRouteArgs,
    GatewayTenantArgs,
    NotebookArgs,
    RayAuthMode,
    RayClusterArgs,
    RayHeadArgs,
    TenantArgs,
    TenantGatewayArgs,
    TenantMemberArgs,
    TenantQuotaArgs,
)
from gke_tpu_serving.ray.cluster_args import auth_token_secret_name, head_service_name
from gke_tpu_serving.ray.spec import DASHBOARD_PORT

from ..model import Cluster


class WorkerGroupConfig(TypedDict):
    """A worker group of the team's RayCluster, autoscaled by Ray between minReplicas and maxReplicas."""

    name: str
    """The group's name (a DNS-1123 label)."""
    pool: NotRequired[str]
    """The `name` of a tpuPools or gpuPools entry of the team's cluster: a TPU group (one replica is one slice) or
    a GPU group. Default: none, a CPU group."""
    min_replicas: NotRequired[int]
    """Fewest replicas (slices, GPU or CPU workers) the autoscaler keeps. Default: 0."""
    max_replicas: NotRequired[int]
    """Most replicas the autoscaler adds. Default: what the pool holds at its maximum size (1 for a CPU group)."""
    gpus: NotRequired[int]
    """GPU groups: nvidia.com/gpu of each worker. Default: every GPU of the pool's machine."""
    cpu: NotRequired[str]
    """CPU request of each pod. Default: 8 on TPU hosts, 4 on GPU workers, 2 on CPU workers."""
    memory: NotRequired[str]
    """Memory request and limit of each pod. Default: 32Gi on TPU hosts, 16Gi on GPU workers, 8Gi on CPU workers."""


class RayClusterConfig(TypedDict):
    """The team's RayCluster: the notebook connects to it and the gateway routes its dashboard."""

    ray_version: NotRequired[str]
    """Its Ray version; the image and the notebook image must carry the same. Default: versions.RAY_VERSION."""
    name: NotRequired[str]
    """Its name (the head Service is <name>-head-svc). Default: the tenant's name."""
    image: NotRequired[str]
    """The Ray image, pinned by tag or digest; TPU groups need JAX for TPU in it. Default: versions.RAY_IMAGE."""
    head: NotRequired[RayHeadArgs]
    """The head pod's cpu and memory. Default: 2 CPUs, 8Gi."""
    worker_groups: NotRequired[list[WorkerGroupConfig]]
    """CPU, TPU and GPU worker groups. Default: none (a head only)."""
    auth: NotRequired[RayAuthMode]
    """Ray token authentication: token (default; the notebook gets the token KubeRay generates) or disabled."""


class NotebookConfig(TypedDict):
    """The team's JupyterLab."""

    image: str
    """JupyterLab with Ray installed, pinned by tag or digest."""
    image_ray_version: NotRequired[str]
    """Ray version in the image. Default: read from the image tag."""
    cpu: NotRequired[str]
    """CPU request. Default: "2"."""
    memory: NotRequired[str]
    """Memory request. Default: "8Gi"."""
    memory_limit: NotRequired[str]
    """Memory limit. Default: "16Gi"."""
    storage: NotRequired[str]
    """Workspace volume size. Default: "50Gi"."""


class TenantConfig(TypedDict):
    """gke-tpu-serving:tenants[]: one team on a cluster of `clusters`."""

    name: str
    """The team's name (a DNS-1123 label)."""
    cluster: str
    """The `name` of the cluster in `clusters` the team works on."""
    members: list[TenantMemberArgs]
    """group:EMAIL or user:EMAIL with role admin, contributor or viewer; at least one admin."""
    quota: TenantQuotaArgs
    """cpu, memory (requests), tpuChips, gpus, memoryLimit."""
    namespace: NotRequired[str]
    """The team's namespace. Default: its name."""
    container_defaults: NotRequired[ContainerDefaultsArgs]
    """LimitRange defaults for containers without requests."""
    hostname: NotRequired[str]
    """Hostname of the team's routes. Default: <name>.<tenancy.domain>."""
    ray_cluster: NotRequired[RayClusterConfig]
    """The team's RayCluster: its dashboard is routed at /ray/ and the notebook connects to it."""
    notebook: NotRequired[NotebookConfig]
    """A JupyterLab for the team, routed at /notebook/ (needs rayCluster)."""
    routes: NotRequired[list[GatewayRouteArgs]]
    """More paths of the team's hostname, e.g. a Ray Serve endpoint: {path: /serve/, service: ..., port: 8000}."""


class TenancyConfig(TypedDict):
    """gke-tpu-serving:tenancy: how teams reach their services, and the quota rule."""

    domain: NotRequired[str]
    """Parent domain of the teams' default hostnames, e.g. ml.example.com. Required if a team sets no hostname."""
    mode: NotRequired[AccessMode]
    """iap (default: GKE Gateway with Identity-Aware Proxy) or istio (an existing Istio/Kubeflow ingress gateway)."""
    iap_client_id: NotRequired[str]
    """iap: the OAuth client id; its secret is the iapClientSecret secret key."""
    istio_gateway: NotRequired[str]
    """istio: NAMESPACE/NAME of the ingress gateway, e.g. kubeflow/kubeflow-gateway."""
    gateway_namespace: NotRequired[str]
    """iap: namespace of the Gateway. Default: tenant-gateway."""
    allow_overcommit: NotRequired[bool]
    """Let the teams' accelerator quotas sum to more than the cluster's pools hold. Default: false."""


@dataclass(frozen=True)
class ParsedTenant:
    index: int
    config: TenantConfig
    cluster: Cluster
    args: TenantArgs
    hostname: str | None
    routes: list[GatewayRouteArgs] = field(default_factory=list)
    notebook: NotebookArgs | None = None
    ray_cluster: RayClusterArgs | None = None


@dataclass(frozen=True)
class Tenancy:
    """The validated tenants and the shared access settings."""

    tenants: tuple[ParsedTenant, ...]
    settings: TenancyConfig


def notebook_name(tenant: str) -> str:
    return f"{tenant}-notebook"


def stack_generates_ray_token(cluster: Cluster) -> bool:
    """Whether the stack gives a team's RayCluster its token (in a Secret every Ray container and the notebook read):
    on the GKE Ray add-on, whose KubeRay version is not documented and may predate authOptions (KubeRay 1.5.1). Else
    KubeRay generates it from authOptions."""
    return cluster.plan.ray_operator


def ray_cluster_name(config: TenantConfig) -> str:
    return config.get("ray_cluster", {}).get("name", config["name"])


def ray_token_secret(config: TenantConfig, cluster: Cluster) -> str:
    """The Secret (key auth_token) holding the team's Ray token: the stack's on the Ray add-on, else the one KubeRay
    generates, named after the cluster."""
    name = ray_cluster_name(config)
    return auth_token_secret_name(name) if stack_generates_ray_token(cluster) else name


def tenant_routes(config: TenantConfig, name: str) -> list[GatewayRouteArgs]:
    """The team's gateway routes: its Ray dashboard at /ray/, its notebook at /notebook/, then its own `routes`."""
    routes: list[GatewayRouteArgs] = []
    if "ray_cluster" in config:
        head = head_service_name(ray_cluster_name(config))
        routes.append({"path": "/ray/", "service": head, "port": DASHBOARD_PORT})
    if "notebook" in config:
        routes.append(
            {
                "path": "/notebook/",
                "service": notebook_name(name),
                "port": 8888,
                "strip_prefix": False,
                "health_check_path": "/notebook/api",
            }
        )
    return routes + list(config.get("routes", []))


def gateway_args(
    tenants: Sequence[ParsedTenant], settings: TenancyConfig, project: pulumi.Input[str]
) -> TenantGatewayArgs:
    args: TenantGatewayArgs = {
        "project": project,
        "mode": settings.get("mode", AccessMode.IAP),
        "tenants": [
            GatewayTenantArgs(
                name=t.config["name"],
                namespace=t.args["namespace"],
                hostname=str(t.hostname),
                members=[m["member"] for m in t.config["members"]],
                routes=t.routes,
            )
            for t in tenants
            if t.routes
        ],
    }
    for key in ("iap_client_id", "istio_gateway"):
        if key in settings:
            args[key] = settings[key]
    if "gateway_namespace" in settings:
        args["namespace"] = settings["gateway_namespace"]
    return args
