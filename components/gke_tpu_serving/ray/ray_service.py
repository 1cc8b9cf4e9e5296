"""RayService: Ray Serve applications on a KubeRay Ray cluster with TPU, GPU and CPU worker groups."""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, NotRequired, TypedDict, cast

import pulumi
import pulumi_kubernetes as k8s

from gke_tpu_serving.catalog import ClusterMode
from gke_tpu_serving.errors import ArgError, PathPart, component_errors, require_enum
from gke_tpu_serving.k8s.accelerator_pods import check_cluster_mode
from gke_tpu_serving.k8s.pods import Exposure, service_exposure, unauthenticated_exposure
from gke_tpu_serving.options import inherited_dependencies
from gke_tpu_serving.ray.auth_secret import ray_auth
from gke_tpu_serving.ray.cluster_args import args_cluster_spec, check_common_args, check_ray_version, head_service_name
from gke_tpu_serving.ray.groups import (
    TPU_RAY_RESOURCE,
    CpuWorkerGroupArgs,
    GpuWorkerGroupArgs,
    Head,
    RayHeadArgs,
    TpuWorkerGroupArgs,
    WorkerGroup,
)
from gke_tpu_serving.ray.ray_cluster import head_disruption_budget
from gke_tpu_serving.ray.serve import SERVE_PORT, ServeApplicationArgs, check_serve_applications, serve_config_v2
from gke_tpu_serving.ray.spec import RayAuth, RayAuthMode, check_autopilot_ray_cluster, check_ray_name, head_pod_labels

SERVE_DOES_NOT_AUTHENTICATE = "Ray Serve's HTTP proxy (Ray token authentication covers the dashboard and jobs API only)"


class RayServiceUpgradeStrategy(Enum):
    """How KubeRay rolls out a change to the Ray cluster's spec (Serve config changes always apply in place)."""

    NEW_CLUSTER = "NewCluster"
    """A second Ray cluster beside the first, traffic switched once it serves: needs twice the accelerators."""
    NONE = "None"
    """KubeRay leaves the running cluster alone; Pulumi replaces the RayService instead (delete, then create): an
    outage while the new cluster starts, and no second set of accelerators. The default with TPU groups."""


class RayServiceArgs(TypedDict):
    """Arguments of RayService."""

    namespace: str
    """Namespace of the RayService (it must exist, e.g. WorkloadIdentity's)."""
    service_account_name: pulumi.Input[str]
    """Kubernetes ServiceAccount of every Ray pod (WorkloadIdentity's), with read access to weights_bucket."""
    image: pulumi.Input[str]
    """The Ray image of head and workers, holding the application code; pinned by tag or digest."""
    applications: list[ServeApplicationArgs]
    """The Serve applications (serveConfigV2 is generated from them)."""
    head: NotRequired[RayHeadArgs]
    """The head pod. Default: 2 CPUs, 8Gi."""
    tpu_worker_groups: NotRequired[list[TpuWorkerGroupArgs]]
    """Worker groups on TPU slices. Default: none."""
    gpu_worker_groups: NotRequired[list[GpuWorkerGroupArgs]]
    """Worker groups on GPU nodes. Default: none."""
    cpu_worker_groups: NotRequired[list[CpuWorkerGroupArgs]]
    """Worker groups without accelerators. Default: none."""
    ray_version: NotRequired[str]
    """rayVersion: the Ray version inside the image. Default: the package's pinned Ray version."""
    auth: NotRequired[RayAuthMode]
    """Ray token authentication (token, the default; needs KubeRay >= 1.5.1 and Ray >= 2.52) or disabled. The head
    Service is ClusterIP either way."""
    auth_token: NotRequired[pulumi.Input[str]]
    """The Ray token (a Pulumi secret), for a KubeRay operator that predates authOptions or whose version is unknown
    (the GKE Ray add-on): kept in the Secret `<name>-ray-auth` (key auth_token), whose token every Ray container
    (head, workers, the autoscaler) gets as RAY_AUTH_TOKEN with RAY_AUTH_MODE=token, Ray's way for KubeRay older than
    v1.5.1; authOptions names the same Secret (secretName), which KubeRay >= 1.6.0 then uses to deploy the Serve
    applications (an older operator cannot deploy them onto a token-authenticated cluster: the RayService fails
    closed). Default: none (KubeRay >= 1.5.1 generates the token from authOptions)."""
    upgrade_strategy: NotRequired[RayServiceUpgradeStrategy]
    """NewCluster or None. Default: None with TPU worker groups (a second cluster needs twice the chips),
    NewCluster otherwise."""
    exposure: NotRequired[Exposure]
    """How the Serve Service is reachable: cluster-ip, the default and the only one allowed. Ray Serve does not
    authenticate HTTP requests, so a load balancer is refused; reach it from outside the cluster through a Gateway
    with Identity-Aware Proxy (a TenantGateway route). The head (dashboard, job API) is never exposed: reach it with
    kubectl port-forward."""
    env: NotRequired[dict[str, str]]
    """Environment variables of every Ray container. Default: none."""
    weights_bucket: NotRequired[str]
    """Bucket mounted read-only through GCS FUSE on every worker. Default: none."""
    weights_mount_path: NotRequired[str]
    """Where weights_bucket is mounted. Default: /data/weights."""
    compile_cache_path: NotRequired[str]
    """A local-disk directory (emptyDir) on every worker for the XLA compile cache; the application syncs it with
    a bucket (a cache written straight onto GCS FUSE misses). Default: none."""
    cluster_mode: NotRequired[ClusterMode]
    """The cluster's mode, standard (default) or autopilot. On Autopilot the TPU and GPU workers' selectors and
    requests make GKE provision their nodes, each group's spot, reservation and zone become node selectors, and the
    accelerator workers ask for ephemeral storage for their caches."""


@dataclass(frozen=True)
class _Settings:
    """The args with every default resolved."""

    head: Head
    groups: tuple[WorkerGroup, ...]
    auth: RayAuthMode
    upgrade_strategy: RayServiceUpgradeStrategy
    exposure: Exposure
    ray_version: str
    mode: ClusterMode


def _check_fit(applications: list[ServeApplicationArgs], groups: tuple[WorkerGroup, ...]) -> None:
    """A replica that asks for more TPU chips or GPUs than any one worker has would wait forever."""
    chips = max((g.ray_resources.get(TPU_RAY_RESOURCE, 0) for g in groups), default=0)
    gpus = max((g.gpus for g in groups), default=0)
    for index, app in enumerate(applications):
        for number, deployment in enumerate(app.get("deployments") or []):
            at: tuple[PathPart, ...] = ("applications", index, "deployments", number)
            wanted = (deployment.get("resources") or {}).get(TPU_RAY_RESOURCE, 0)
            if wanted > chips:
                raise ArgError(
                    (*at, "resources", TPU_RAY_RESOURCE),
                    f"{wanted} is more than the {chips} TPU chips of any worker; allowed: 0 to {chips}",
                )
            if deployment.get("num_gpus", 0) > gpus:
                raise ArgError(
                    (*at, "num_gpus"),
                    f"{deployment['num_gpus']} is more than the {gpus} GPUs of any worker; allowed: 0 to {gpus}",
                )


def check_ray_service_args(args: RayServiceArgs) -> _Settings:
    """Check the args (pure: the stack config calls it at load); returns them with defaults resolved. Raises
    ArgError."""
    head, auth, groups = check_common_args(args, args.get("image"))
    check_serve_applications(args.get("applications"))
    _check_fit(args["applications"], groups)
    exposure = require_enum(("exposure",), args.get("exposure", Exposure.CLUSTER_IP), Exposure)
    if exposure is not Exposure.CLUSTER_IP:
        if auth is RayAuthMode.DISABLED:
            raise ArgError(("auth",), f"disabled, but exposure is {exposure.value}; allowed: token (the default)")
        raise ArgError(("exposure",), unauthenticated_exposure(exposure, SERVE_DOES_NOT_AUTHENTICATE))
    tpu = any(g.ray_resources.get(TPU_RAY_RESOURCE) for g in groups)
    default_upgrade = RayServiceUpgradeStrategy.NONE if tpu else RayServiceUpgradeStrategy.NEW_CLUSTER
    return _Settings(
        head=head,
        groups=groups,
        auth=auth,
        upgrade_strategy=require_enum(
            ("upgrade_strategy",), args.get("upgrade_strategy", default_upgrade), RayServiceUpgradeStrategy
        ),
        exposure=exposure,
        ray_version=check_ray_version(args, auth),
        mode=check_cluster_mode(args),
    )


def ray_cluster_config(
    args: RayServiceArgs,
    settings: _Settings,
    head_labels: Mapping[str, str] | None = None,
    auth: RayAuth | None = None,
) -> dict[str, Any]:
    """The RayService's spec.rayClusterConfig, its head pod labelled `head_labels` (head_pod_labels); `auth`: where
    the token comes from (default: authOptions)."""
    return args_cluster_spec(
        args,
        # The pure spec carries a build's digest reference (an Output) into the custom resource as it is.
        image=cast(str, args["image"]),
        ray_version=settings.ray_version,
        head=settings.head,
        groups=settings.groups,
        auth=auth or RayAuth(settings.auth),
        head_labels=head_labels,
    )


def check_autopilot_ray_service(args: RayServiceArgs, settings: _Settings) -> None:
    """On Autopilot, ArgError (at ray_cluster_config) if Autopilot would refuse a Ray pod; nothing on Standard."""
    if settings.mode is not ClusterMode.AUTOPILOT:
        return
    try:
        check_autopilot_ray_cluster(ray_cluster_config(args, settings))
    except ArgError as error:
        raise error.within(("ray_cluster_config",)) from None


def serve_service_name(name: str) -> str:
    """The Service KubeRay creates for Serve traffic (port 8000)."""
    return f"{name}-serve-svc"


def _serve_service(name: str, exposure: Exposure) -> dict[str, Any]:
    service_type, annotations = service_exposure(exposure)
    metadata: dict[str, Any] = {"name": serve_service_name(name)}
    if annotations:
        metadata["annotations"] = annotations
    return {"metadata": metadata, "spec": {"type": service_type}}


class RayService(pulumi.ComponentResource):
    """Ray Serve applications on a KubeRay RayService (ray.io/v1): a ClusterIP head, TPU worker groups sized and
    checked as the KubeRay TPU webhook checks them, autoscaled GPU and CPU worker groups, serveConfigV2 generated
    from typed application specs, Ray token authentication, weights read-only through GCS FUSE and a local compile
    cache on the workers. Needs a KubeRay operator on the cluster (the GKE Ray add-on, or KubeRayOperator); pass the
    cluster's Kubernetes provider in `opts`."""

    service_name: pulumi.Output[str]
    """Name of the Serve Service (port 8000) in the namespace."""
    url: pulumi.Output[str]
    """In-cluster URL of the Serve applications."""
    dashboard_service_name: pulumi.Output[str]
    """Name of the head Service: `kubectl port-forward svc/<it> 8265` reaches the dashboard."""

    def __init__(self, name: str, args: RayServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gke-tpu-serving:index:RayService", name, None, opts)
        with component_errors("RayService", name):
            check_ray_name((), name)
            settings = check_ray_service_args(args)
            check_autopilot_ray_service(args, settings)
        namespace = args["namespace"]
        child = pulumi.ResourceOptions(parent=self, depends_on=inherited_dependencies(opts))
        # The operator deploys the Serve applications through the dashboard: it needs the same token.
        auth, auth_needs = ray_auth(
            name, namespace, settings.auth, args.get("auth_token"), operator_reads_secret=True, opts=child
        )
        spec: dict[str, Any] = {
            "serveConfigV2": serve_config_v2(args["applications"]),
            "upgradeStrategy": {"type": settings.upgrade_strategy.value},
            "serveService": _serve_service(name, settings.exposure),
            "rayClusterConfig": ray_cluster_config(args, settings, head_pod_labels(name), auth),
        }
        replace = settings.upgrade_strategy is RayServiceUpgradeStrategy.NONE
        k8s.apiextensions.CustomResource(
            name,
            api_version="ray.io/v1",
            kind="RayService",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=name,
                namespace=namespace,
                labels={"app.kubernetes.io/name": "ray-service", "app.kubernetes.io/instance": name},
            ),
            spec=spec,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*auth_needs, *inherited_dependencies(opts)],
                # KubeRay does not roll a cluster change under upgradeStrategy None; replacing the RayService does,
                # freeing the accelerators first.
                replace_on_changes=["spec.rayClusterConfig"] if replace else None,
                delete_before_replace=replace,
            ),
        )
        head_disruption_budget(
            name, namespace, pulumi.ResourceOptions(parent=self, depends_on=inherited_dependencies(opts))
        )
        self.service_name = pulumi.Output.from_input(serve_service_name(name))
        self.url = pulumi.Output.from_input(f"http://{serve_service_name(name)}.{namespace}.svc:{SERVE_PORT}")
        self.dashboard_service_name = pulumi.Output.from_input(head_service_name(name))
        self.register_outputs(
            {"service_name": self.service_name, "url": self.url, "dashboard_service_name": self.dashboard_service_name}
        )
