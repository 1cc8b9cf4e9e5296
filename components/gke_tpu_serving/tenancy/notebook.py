"""Notebook: a team's JupyterLab, connected to the team's Ray cluster through the Ray client."""

import re
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from gke_tpu_serving.errors import ArgError, component_errors, require_int
from gke_tpu_serving.k8s.pods import (
    disruption_budget,
    restricted_container_security_context,
    restricted_pod_security_context,
    secret_env_vars,
)
from gke_tpu_serving.names import check_dns_label, check_pinned_image, dns_label_at
from gke_tpu_serving.options import inherited_dependencies
from gke_tpu_serving.ray.cluster_args import AUTH_TOKEN_SECRET_KEY
from gke_tpu_serving.tenancy.quota import parse_quantity

PORT = 8888
RAY_CLIENT_PORT = 10001
WORKSPACE = "/workspace"
_VERSION_TAG = re.compile(r"^(\d+\.\d+\.\d+)(?:$|[-_.])")
# Sizes of the notebook pod and its workspace unless the args say otherwise (the stack counts them against quota).
DEFAULTS = {"cpu": "2", "memory": "8Gi", "memory_limit": "16Gi", "storage": "50Gi"}


class NotebookArgs(TypedDict):
    """Arguments of Notebook."""

    namespace: str
    """The tenant's namespace (it must exist)."""
    service_account_name: pulumi.Input[str]
    """The tenant's Workload Identity Kubernetes ServiceAccount; the notebook acts as the team's workloads do."""
    image: str
    """A JupyterLab image with Ray installed (the Ray client needs the cluster's exact Ray version), pinned by tag or
    digest, e.g. a team image built FROM rayproject/ray:2.49.1-py311 with jupyterlab added."""
    ray_cluster: str
    """Name of the team's RayCluster; the notebook's RAY_ADDRESS is ray://<ray_cluster>-head-svc:10001."""
    ray_version: str
    """Ray version of that RayCluster, e.g. 2.49.1."""
    ray_auth_token_secret: NotRequired[str]
    """The Secret holding the RayCluster's token under the key auth_token (KubeRay's, named after the cluster, when
    the cluster has token auth): the notebook gets RAY_AUTH_MODE=token and RAY_AUTH_TOKEN from it. Default: none
    (the cluster has no token auth)."""
    image_ray_version: NotRequired[str]
    """Ray version installed in the image. Default: read from the image tag when it starts with one (2.49.1-py311)."""
    token: pulumi.Input[str]
    """Jupyter's access token, a Pulumi secret (passed through a Kubernetes Secret)."""
    base_url: NotRequired[str]
    """URL path Jupyter serves under, as the gateway routes it. Default: "/notebook/"."""
    cpu: NotRequired[str]
    """CPU request. Default: "2"."""
    memory: NotRequired[str]
    """Memory request. Default: "8Gi"."""
    memory_limit: NotRequired[str]
    """Memory limit. Default: "16Gi"."""
    storage: NotRequired[str]
    """Size of the workspace volume (a PersistentVolumeClaim mounted at /workspace). Default: "50Gi"."""
    run_as_user: NotRequired[int]
    """UID the image's user has (the kubelet needs a number to enforce non-root). Default: 1000, rayproject/ray's."""


def image_ray_version(image: str) -> str | None:
    """The Ray version a tag such as `rayproject/ray:2.49.1-py311` or `team/notebook:2.49.1` names, or None."""
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    if ":" not in last:
        return None
    match = _VERSION_TAG.match(last.rsplit(":", 1)[1])
    return match.group(1) if match else None


def ray_address(ray_cluster: str) -> str:
    """The Ray client address of a RayCluster's head Service (KubeRay names it <cluster>-head-svc)."""
    return f"ray://{ray_cluster}-head-svc:{RAY_CLIENT_PORT}"


def check_notebook_args(args: NotebookArgs) -> None:
    """Check the args (pure: the stack config calls it at load); raises ArgError."""
    names = ["namespace", "ray_cluster"] + (["ray_auth_token_secret"] if "ray_auth_token_secret" in args else [])
    for key in names:
        dns_label_at((key,), args.get(key))
    check_pinned_image(args.get("image"), at=("image",))
    cluster_version = args.get("ray_version")
    if not isinstance(cluster_version, str) or not re.fullmatch(r"\d+\.\d+\.\d+", cluster_version):
        raise ArgError(("ray_version",), f"{cluster_version!r} is not a Ray version; allowed: e.g. '2.49.1'")
    version = args.get("image_ray_version") or image_ray_version(args["image"])
    if version is None:
        raise ArgError(
            ("image_ray_version",),
            f"missing, and the tag of image {args['image']!r} names no Ray version; required: the Ray version "
            "installed in the image",
        )
    if version != cluster_version:
        # The Ray client refuses to connect across versions; better at preview than in the first notebook cell.
        raise ArgError(
            ("image_ray_version",),
            f"Ray {version} in image {args['image']!r} does not match Ray {cluster_version} of RayCluster "
            f"{args['ray_cluster']!r}; allowed: {cluster_version} (the Ray client needs the same version)",
        )
    for key, default in DEFAULTS.items():
        parse_quantity(args.get(key, default), at=(key,))
    base_url = args.get("base_url", "/notebook/")
    if not re.fullmatch(r"/([a-z0-9-]+/)*", base_url):
        raise ArgError(("base_url",), f"{base_url!r} is not allowed; allowed: a path such as /notebook/ ending in /")
    require_int(("run_as_user",), args.get("run_as_user", 1000), minimum=1)


def _ray_auth_env(args: NotebookArgs) -> list[k8s.core.v1.EnvVarArgs]:
    if "ray_auth_token_secret" not in args:
        return []
    # The Ray client reads both, as KubeRay sets them in the cluster's own containers.
    token = k8s.core.v1.SecretKeySelectorArgs(name=args["ray_auth_token_secret"], key=AUTH_TOKEN_SECRET_KEY)
    return [
        k8s.core.v1.EnvVarArgs(name="RAY_AUTH_MODE", value="token"),
        k8s.core.v1.EnvVarArgs(name="RAY_AUTH_TOKEN", value_from=k8s.core.v1.EnvVarSourceArgs(secret_key_ref=token)),
    ]


class Notebook(pulumi.ComponentResource):
    """JupyterLab for a team: a Deployment running as the team's ServiceAccount with token auth on, RAY_ADDRESS set to
    the team's RayCluster, a workspace PersistentVolumeClaim and a ClusterIP Service on 8888 (reach it through the
    team's authenticated gateway route). The image's Ray version must equal the cluster's. Pass the cluster's
    Kubernetes provider in `opts`."""

    service_name: pulumi.Output[str]
    """Name of the ClusterIP Service (port 8888)."""
    ray_address: pulumi.Output[str]
    """The Ray client address the notebook connects to."""

    def __init__(self, name: str, args: NotebookArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gke-tpu-serving:index:Notebook", name, None, opts)
        with component_errors("Notebook", name):
            check_dns_label(name)
            check_notebook_args(args)
        namespace = args["namespace"]
        base_url = args.get("base_url", "/notebook/")
        labels = {"app.kubernetes.io/name": "jupyterlab", "app.kubernetes.io/instance": name}
        child = pulumi.ResourceOptions(parent=self, depends_on=inherited_dependencies(opts))
        metadata = k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels)

        token_env = secret_env_vars(f"{name}-token", namespace, {"JUPYTER_TOKEN": args["token"]}, child)
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-workspace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-workspace", namespace=namespace, labels=labels),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=["ReadWriteOnce"],
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(
                    requests={"storage": args.get("storage", DEFAULTS["storage"])}
                ),
            ),
            opts=child,
        )
        api = k8s.core.v1.HTTPGetActionArgs(path=f"{base_url}api", port="http")
        k8s.apps.v1.Deployment(
            name,
            metadata=metadata,
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                # The workspace volume attaches to one node at a time.
                strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        service_account_name=args["service_account_name"],
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="jupyterlab",
                                image=args["image"],
                                command=[
                                    "jupyter",
                                    "lab",
                                    "--ip=0.0.0.0",
                                    f"--port={PORT}",
                                    "--no-browser",
                                    f"--ServerApp.base_url={base_url}",
                                    f"--ServerApp.root_dir={WORKSPACE}",
                                ],
                                ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=PORT)],
                                env=[
                                    k8s.core.v1.EnvVarArgs(name="RAY_ADDRESS", value=ray_address(args["ray_cluster"])),
                                    k8s.core.v1.EnvVarArgs(name="HOME", value=WORKSPACE),
                                    *token_env,
                                    *_ray_auth_env(args),
                                ],
                                resources=k8s.core.v1.ResourceRequirementsArgs(
                                    requests={
                                        "cpu": args.get("cpu", DEFAULTS["cpu"]),
                                        "memory": args.get("memory", DEFAULTS["memory"]),
                                    },
                                    limits={"memory": args.get("memory_limit", DEFAULTS["memory_limit"])},
                                ),
                                # /api answers without the token: a probe needs no secret.
                                readiness_probe=k8s.core.v1.ProbeArgs(http_get=api, period_seconds=10),
                                liveness_probe=k8s.core.v1.ProbeArgs(
                                    http_get=api, period_seconds=30, initial_delay_seconds=30, failure_threshold=4
                                ),
                                volume_mounts=[k8s.core.v1.VolumeMountArgs(name="workspace", mount_path=WORKSPACE)],
                                security_context=restricted_container_security_context(),
                            )
                        ],
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="workspace",
                                persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                                    claim_name=claim.metadata.name
                                ),
                            )
                        ],
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True,
                            run_as_user=args.get("run_as_user", 1000),
                            fs_group=100,  # the image user's group owns the workspace volume
                            seccomp_profile=restricted_pod_security_context().seccomp_profile,
                        ),
                        # The Ray client and Google APIs (through Workload Identity) need no Kubernetes API token.
                        automount_service_account_token=False,
                    ),
                ),
            ),
            opts=child,
        )
        service = k8s.core.v1.Service(
            name,
            metadata=metadata,
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=labels,
                ports=[k8s.core.v1.ServicePortArgs(name="http", port=PORT, target_port="http", protocol="TCP")],
            ),
            opts=child,
        )
        # A drain may move the notebook (its workspace is on the volume; a running kernel is lost either way): a
        # budget that refused it would hold the node until someone deleted the pod.
        disruption_budget(name, namespace, labels, child, max_unavailable=1)
        self.service_name = service.metadata.name
        self.ray_address = pulumi.Output.from_input(ray_address(args["ray_cluster"]))
        self.register_outputs({"service_name": self.service_name, "ray_address": self.ray_address})
