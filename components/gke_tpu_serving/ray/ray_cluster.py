"""RayCluster: a long-running KubeRay Ray cluster for interactive and training work, scaled by Ray's autoscaler."""

from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from gke_tpu_serving.catalog.versions import RAY_IMAGE
from gke_tpu_serving.errors import component_errors, require_int
from gke_tpu_serving.k8s.pods import disruption_budget
from gke_tpu_serving.options import inherited_dependencies
from gke_tpu_serving.ray.auth_secret import ray_auth
from gke_tpu_serving.ray.cluster_args import args_cluster_spec, check_common_args, check_ray_version, head_service_name
from gke_tpu_serving.ray.groups import (
    CpuWorkerGroupArgs,
    GpuWorkerGroupArgs,
    Head,
    RayHeadArgs,
    TpuWorkerGroupArgs,
    WorkerGroup,
)
from gke_tpu_serving.ray.spec import CLIENT_PORT, DASHBOARD_PORT, RayAuth, RayAuthMode, check_ray_name, head_pod_labels

DEFAULT_RUN_AS_USER = 1000


class RayClusterArgs(TypedDict):
    """Arguments of RayCluster."""

    namespace: str
    """Namespace of the RayCluster (it must exist, e.g. a Tenant's)."""
    service_account_name: pulumi.Input[str]
    """Kubernetes ServiceAccount of every Ray pod, e.g. the Tenant's Workload Identity one. With an autoscaled group,
    KubeRay binds it to the autoscaler's Role (pods and the RayCluster, in this namespace) for the head pod."""
    image: NotRequired[str]
    """The Ray image of head and workers, pinned by tag or digest; TPU groups need JAX for TPU in it, GPU groups CUDA.
    Default: rayproject/ray at the package's pinned Ray version (versions.RAY_IMAGE)."""
    ray_version: NotRequired[str]
    """rayVersion: the Ray version inside the image. Default: the package's pinned Ray version."""
    head: NotRequired[RayHeadArgs]
    """The head pod. Default: 2 CPUs, 8Gi."""
    tpu_worker_groups: NotRequired[list[TpuWorkerGroupArgs]]
    """Worker groups on TPU slices (give min_replicas 0 and max_replicas to let the autoscaler add slices on
    demand). Default: none."""
    gpu_worker_groups: NotRequired[list[GpuWorkerGroupArgs]]
    """Worker groups on GPU nodes, from zero workers by default. Default: none."""
    cpu_worker_groups: NotRequired[list[CpuWorkerGroupArgs]]
    """Worker groups without accelerators, from zero workers by default. Default: none."""
    auth: NotRequired[RayAuthMode]
    """Ray token authentication (token, the default: KubeRay generates the token into the Secret named after the
    cluster, key auth_token; needs KubeRay >= 1.5.1 and Ray >= 2.52) or disabled. The head Service is ClusterIP
    either way."""
    auth_token: NotRequired[pulumi.Input[str]]
    """The Ray token (a Pulumi secret), for a KubeRay operator that predates authOptions or whose version is unknown
    (the GKE Ray add-on): kept in the Secret `<name>-ray-auth` (key auth_token), whose token every Ray container
    (head, workers, the autoscaler) gets as RAY_AUTH_TOKEN with RAY_AUTH_MODE=token, and no authOptions: Ray's way
    for KubeRay older than v1.5.1. Clients (a Notebook) read the same Secret. Default: none (KubeRay >= 1.5.1
    generates the token from authOptions)."""
    env: NotRequired[dict[str, str]]
    """Environment variables of every Ray container. Default: none."""
    run_as_user: NotRequired[int]
    """UID of the image's user; the kubelet needs a number to enforce non-root. Default: 1000, rayproject/ray's."""
    weights_bucket: NotRequired[str]
    """Bucket mounted read-only through GCS FUSE on every worker (datasets, base weights; write checkpoints to
    gs:// through Workload Identity instead). Default: none."""
    weights_mount_path: NotRequired[str]
    """Where weights_bucket is mounted. Default: /data/weights."""
    compile_cache_path: NotRequired[str]
    """A local-disk directory (emptyDir) on every worker for the XLA compile cache. Default: none."""


@dataclass(frozen=True)
class RayClusterSettings:
    """The args with every default resolved."""

    image: str
    head: Head
    groups: tuple[WorkerGroup, ...]
    auth: RayAuthMode
    ray_version: str
    run_as_user: int


def check_ray_cluster_args(args: RayClusterArgs) -> RayClusterSettings:
    """Check the args (pure: the stack config calls it at load); returns them with defaults resolved. Raises
    ArgError."""
    image = args.get("image", RAY_IMAGE)
    head, auth, groups = check_common_args(args, image)
    return RayClusterSettings(
        image=image,
        head=head,
        groups=groups,
        auth=auth,
        ray_version=check_ray_version(args, auth),
        run_as_user=require_int(("run_as_user",), args.get("run_as_user", DEFAULT_RUN_AS_USER), minimum=1),
    )


def ray_cluster_resource_spec(
    name: str, args: RayClusterArgs, settings: RayClusterSettings, auth: RayAuth | None = None
) -> dict[str, Any]:
    """The RayCluster's spec: the shared Ray cluster spec, recreated by KubeRay when the pods' template changes (a
    standalone RayCluster otherwise keeps running pods of the old image). `auth`: where the token comes from
    (default: authOptions)."""
    spec = args_cluster_spec(
        args,
        image=settings.image,
        ray_version=settings.ray_version,
        head=settings.head,
        groups=settings.groups,
        auth=auth or RayAuth(settings.auth),
        run_as_user=settings.run_as_user,
        head_labels=head_pod_labels(name),
    )
    return {**spec, "upgradeStrategy": {"type": "Recreate"}}


def head_disruption_budget(name: str, namespace: str, opts: pulumi.ResourceOptions) -> None:
    """The budget of the head pod of the Ray cluster `name`: no voluntary eviction while it is ready. Without GCS
    fault tolerance (an external Redis) the head, the GCS and the whole cluster share one fate: a new head drops every
    worker, and a serving cluster reloads and recompiles its models (docs.ray.io/en/latest/cluster/kubernetes/
    user-guides/kuberay-gcs-ft.html, read 2026-12-07). KubeRay itself creates no budget (no PodDisruptionBudget in
    ray-operator at kuberay@feeaf72f), and RayCluster has no scale subresource, so only an integer minAvailable works
    (ray-project/kuberay#2662). A drain of the head's node then waits for an operator; a head that is not ready may
    go (UNHEALTHY_POD_EVICTION_POLICY), and KubeRay deletes, not evicts, the pods it replaces."""
    disruption_budget(f"{name}-head", namespace, head_pod_labels(name), opts, min_available=1)


class RayCluster(pulumi.ComponentResource):
    """A KubeRay RayCluster (ray.io/v1) for notebooks, Ray Train and Ray Tune: a ClusterIP head with Ray token
    authentication, TPU worker groups sized and checked as the KubeRay TPU webhook checks them, GPU and CPU worker
    groups, Ray's in-tree autoscaler whenever a group may change size, pods that pass Pod Security `restricted`.
    Built by the same spec builders as RayService. Needs a KubeRay operator on the cluster (the GKE Ray add-on, or
    KubeRayOperator); pass the cluster's Kubernetes provider in `opts`."""

    head_service_name: pulumi.Output[str]
    """Name of the head Service KubeRay creates (GCS 6379, dashboard 8265, client 10001)."""
    ray_address: pulumi.Output[str]
    """The Ray client address, ray://<head Service>.<namespace>.svc:10001."""
    dashboard_url: pulumi.Output[str]
    """In-cluster URL of the dashboard and job API."""
    auth_token_secret_name: pulumi.Output[str]
    """The Secret (key auth_token) holding the token: `<name>-ray-auth` with auth_token, else the one KubeRay generates
    (named after the cluster); empty when auth is disabled."""

    def __init__(self, name: str, args: RayClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gke-tpu-serving:index:RayCluster", name, None, opts)
        with component_errors("RayCluster", name):
            check_ray_name((), name)
            settings = check_ray_cluster_args(args)
        namespace = args["namespace"]
        child = pulumi.ResourceOptions(parent=self, depends_on=inherited_dependencies(opts))
        auth, auth_needs = ray_auth(
            name, namespace, settings.auth, args.get("auth_token"), operator_reads_secret=False, opts=child
        )
        k8s.apiextensions.CustomResource(
            name,
            api_version="ray.io/v1",
            kind="RayCluster",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=name,
                namespace=namespace,
                labels={"app.kubernetes.io/name": "ray-cluster", "app.kubernetes.io/instance": name},
            ),
            spec=ray_cluster_resource_spec(name, args, settings, auth),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*auth_needs, *inherited_dependencies(opts)]),
        )
        head_disruption_budget(
            name, namespace, pulumi.ResourceOptions(parent=self, depends_on=inherited_dependencies(opts))
        )
        head = head_service_name(name)
        self.head_service_name = pulumi.Output.from_input(head)
        self.ray_address = pulumi.Output.from_input(f"ray://{head}.{namespace}.svc:{CLIENT_PORT}")
        self.dashboard_url = pulumi.Output.from_input(f"http://{head}.{namespace}.svc:{DASHBOARD_PORT}")
        token_secret = auth.token_secret or (name if settings.auth is RayAuthMode.TOKEN else "")
        self.auth_token_secret_name = pulumi.Output.from_input(token_secret)
        self.register_outputs(
            {
                "head_service_name": self.head_service_name,
                "ray_address": self.ray_address,
                "dashboard_url": self.dashboard_url,
                "auth_token_secret_name": self.auth_token_secret_name,
            }
        )
