"""Pure builders of KubeRay (ray.io/v1) specs: the head group, TPU, GPU and CPU worker groups, the auth block, and a
RayService's serveConfigV2 from typed application specs.

One code path for every Ray cluster this package renders: `ray_cluster_spec()` is a RayCluster's `spec` and a
RayService's `spec.rayClusterConfig` alike. Imports nothing from Pulumi and renders Kubernetes JSON (camelCase), so
the result is checked against the upstream CRDs as it is, and the same checks run when the stack config loads.
"""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NotRequired, TypedDict

import yaml

from gke_tpu_serving.catalog import (
    ClusterMode,
    GpuAcceleratorType,
    TpuGeneration,
    gpu_accelerator,
    gpu_machine,
    tpu_slice_of_args,
)
from gke_tpu_serving.errors import ArgError, PathPart, require_int
from gke_tpu_serving.k8s.accelerator_pods import (
    AUTOPILOT_EPHEMERAL_STORAGE,
    check_autopilot_pod,
    check_capacity,
    gpu_pod_placement,
    tpu_pod_placement,
)
from gke_tpu_serving.k8s.pod_security import restricted_container_security_context, restricted_pod_security_context
from gke_tpu_serving.names import dns_label_at

GCS_PORT = 6379
DASHBOARD_PORT = 8265
CLIENT_PORT = 10001
SERVE_PORT = 8000
HEAD_PORTS = {"gcs-server": GCS_PORT, "dashboard": DASHBOARD_PORT, "client": CLIENT_PORT, "serve": SERVE_PORT}
"""The head container's ports, named as KubeRay looks them up: it builds the Serve Service from the port named
"serve" and the head Service from all of them."""

RAY_CLUSTER_NAME_MAX = 47
"""KubeRay refuses longer RayService names (it derives the RayCluster's and its Services' names from them)."""

TPU_WEBHOOK_REASON = "Number of workers in worker group not equal to specified topology"
"""The KubeRay TPU webhook's (GKE Ray add-on) admission message for a numOfHosts that does not fit the topology."""

GPU_RESOURCE = "nvidia.com/gpu"
TPU_RAY_RESOURCE = "TPU"
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
NO_GPU_ENV = {"NVIDIA_VISIBLE_DEVICES": "void"}
"""CUDA images set NVIDIA_VISIBLE_DEVICES=all: a pod that requests no GPU would otherwise see every GPU of its node."""


AUTOSCALER_REQUESTS: Mapping[str, str] = {"cpu": "500m", "memory": "512Mi"}
"""Requests (and memory limit) of the autoscaler container KubeRay adds to the head pod of an autoscaled cluster."""

_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
_IMPORT_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*[:.][A-Za-z_][A-Za-z0-9_]*$")
_JSON_SCALARS = (str, int, float, bool, type(None))


class RayAuthMode(Enum):
    """Ray's own authentication of its dashboard, job API and control plane (not of Serve's HTTP traffic)."""

    TOKEN = "token"
    """A random token that KubeRay generates into a Secret and gives every Ray container (KubeRay >= 1.5.1,
    Ray >= 2.52)."""
    DISABLED = "disabled"
    """No authentication: anything that reaches the head Service can run code on the cluster (CVE-2023-48022)."""


class RayHeadArgs(TypedDict):
    """The Ray head pod: GCS, dashboard, Serve controller and (CPU-only) Serve ingress replicas."""

    cpu: NotRequired[str]
    """CPU request, e.g. "2"; Ray advertises it as the head's CPUs. Default: "2"."""
    memory: NotRequired[str]
    """Memory request and limit, e.g. "8Gi". Default: "8Gi"."""


class TpuWorkerGroupArgs(TypedDict):
    """A worker group on TPU slices: each replica is one slice of num_of_hosts pods, one per TPU VM."""

    group_name: str
    """Name of the group (DNS-1123 label)."""
    tpu_generation: TpuGeneration
    """TPU generation of the node pool."""
    tpu_machine_type: str
    """Its machine type, e.g. ct4p-hightpu-4t."""
    tpu_topology: str
    """The slice topology, e.g. 2x2x1."""
    num_of_hosts: NotRequired[int]
    """Pods per slice. Default: what the KubeRay TPU webhook demands, max(chips / chips per VM, 1); any other value
    is refused here rather than by the webhook in the cluster."""
    replicas: NotRequired[int]
    """Slices to start with. Default: 1."""
    min_replicas: NotRequired[int]
    """Fewest slices the autoscaler keeps. Default: replicas."""
    max_replicas: NotRequired[int]
    """Most slices the autoscaler adds. Default: replicas."""
    cpu: NotRequired[str]
    """CPU request of each pod. Default: "8"."""
    memory: NotRequired[str]
    """Memory request and limit of each pod. Default: "32Gi"."""
    ephemeral_storage: NotRequired[str]
    """Ephemeral-storage request (and limit) of each pod, for the local compile cache and the GCS FUSE file cache.
    Default: none on Standard (the node's boot disk), "50Gi" on Autopilot (which gives 1 GiB unless asked)."""
    tpu_spot: NotRequired[bool]
    """Autopilot: run on Spot TPU capacity. Standard ignores it (the node pool decides). Default: false."""
    tpu_reservation: NotRequired[str]
    """Autopilot: consume this specific reservation. Standard ignores it (the node pool consumes it). Default:
    none."""
    tpu_zone: NotRequired[str]
    """Autopilot: pin the group's pods to this zone. Standard ignores it (the node pool's zone applies). Default:
    a zone GKE chooses."""


class GpuWorkerGroupArgs(TypedDict):
    """A worker group on a GPU node pool, autoscaled by Ray: from zero workers by default."""

    group_name: str
    """Name of the group (DNS-1123 label)."""
    accelerator_type: GpuAcceleratorType
    """GPU type of the node pool, e.g. nvidia-l4."""
    machine_type: str
    """Machine type of the node pool, e.g. g2-standard-8; it bounds the GPUs one worker can have."""
    gpus: NotRequired[int]
    """nvidia.com/gpu of each worker. Default: every GPU of the machine."""
    replicas: NotRequired[int]
    """Workers to start with. Default: min_replicas."""
    min_replicas: NotRequired[int]
    """Fewest workers the autoscaler keeps. Default: 0 (no GPU is paid for while nothing needs one)."""
    max_replicas: NotRequired[int]
    """Most workers the autoscaler adds. Default: 1."""
    cpu: NotRequired[str]
    """CPU request of each worker. Default: "4"."""
    memory: NotRequired[str]
    """Memory request and limit of each worker. Default: "16Gi"."""
    ephemeral_storage: NotRequired[str]
    """Ephemeral-storage request (and limit) of each pod, for the local compile cache and the GCS FUSE file cache.
    Default: none on Standard (the node's boot disk), "50Gi" on Autopilot (which gives 1 GiB unless asked)."""
    spot: NotRequired[bool]
    """Autopilot: run on Spot GPU capacity. Standard ignores it (the node pool decides). Default: false."""
    zone: NotRequired[str]
    """Autopilot: pin the group's pods to this zone. Standard ignores it (the node pool's zone applies). Default:
    a zone GKE chooses."""


class CpuWorkerGroupArgs(TypedDict):
    """A worker group without accelerators, autoscaled by Ray."""

    group_name: str
    """Name of the group (DNS-1123 label)."""
    replicas: NotRequired[int]
    """Workers to start with. Default: min_replicas."""
    min_replicas: NotRequired[int]
    """Fewest workers the autoscaler keeps. Default: 0."""
    max_replicas: NotRequired[int]
    """Most workers the autoscaler adds. Default: 1."""
    cpu: NotRequired[str]
    """CPU request of each worker. Default: "2"."""
    memory: NotRequired[str]
    """Memory request and limit of each worker. Default: "8Gi"."""


class ServeDeploymentArgs(TypedDict):
    """Overrides for one deployment of a Serve application (Serve's deployment schema)."""

    name: str
    """The deployment's name as the application declares it, e.g. StableDiffusion."""
    num_replicas: NotRequired[int]
    """Replicas of the deployment. Default: the application's own."""
    max_ongoing_requests: NotRequired[int]
    """Requests one replica handles at once. Default: the application's own."""
    num_cpus: NotRequired[float]
    """CPUs each replica reserves (ray_actor_options.num_cpus). Default: the application's own."""
    num_gpus: NotRequired[float]
    """GPUs each replica reserves (ray_actor_options.num_gpus). Default: the application's own."""
    resources: NotRequired[dict[str, float]]
    """Custom Ray resources each replica reserves (ray_actor_options.resources), e.g. {"TPU": 4}."""


class ServeApplicationArgs(TypedDict):
    """One Ray Serve application, built from code already in the image (no runtime installs)."""

    name: str
    """Application name (unique in the RayService)."""
    import_path: str
    """module:attribute of the application or its builder, e.g. sd_serve.app:build_app."""
    route_prefix: NotRequired[str]
    """HTTP route prefix. Default: "/"."""
    args: NotRequired[dict[str, Any]]
    """Arguments passed to the application builder (JSON values). Default: none."""
    env: NotRequired[dict[str, str]]
    """Environment variables of the application's replicas (runtime_env.env_vars). Default: none."""
    deployments: NotRequired[list[ServeDeploymentArgs]]
    """Per-deployment overrides. Default: none."""


@dataclass(frozen=True)
class RayPod:
    """What the pods of a group share besides the group's shape: image, identity, environment, volumes."""

    image: str
    service_account_name: Any
    """The Kubernetes ServiceAccount: a string, or a value the caller's framework resolves later."""
    env: Mapping[str, str] = field(default_factory=dict)
    volumes: Sequence[Mapping[str, Any]] = ()
    volume_mounts: Sequence[Mapping[str, Any]] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    run_as_user: int | None = None
    """The image user's UID, where the image names its user (the kubelet enforces non-root only on a number)."""


@dataclass(frozen=True)
class WorkerGroup:
    """A worker group with every default resolved and checked."""

    name: str
    replicas: int
    min_replicas: int
    max_replicas: int
    cpu: str
    memory: str
    num_of_hosts: int = 1
    accelerator_resources: Mapping[str, int] = field(default_factory=dict)
    """Container requests and limits that claim the accelerators of one pod."""
    ray_resources: Mapping[str, int] = field(default_factory=dict)
    """Custom resources the pod advertises to Ray (rayStartParams.resources)."""
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: Sequence[Mapping[str, str]] = ()
    ephemeral_storage: str | None = None
    """Ephemeral-storage request and limit of each pod, where it asks for one."""

    @property
    def autoscaled(self) -> bool:
        return self.min_replicas != self.max_replicas

    @property
    def gpus(self) -> int:
        return self.accelerator_resources.get(GPU_RESOURCE, 0)


@dataclass(frozen=True)
class Head:
    cpu: str
    memory: str


def check_quantity(path: Sequence[PathPart], value: object) -> str:
    """A Kubernetes resource quantity such as "4", "500m" or "16Gi"."""
    if not isinstance(value, str) or not _QUANTITY.match(value):
        raise ArgError(path, f'{value!r} is not allowed; allowed: a Kubernetes quantity such as "4", "500m" or "16Gi"')
    return value


def check_ray_name(path: Sequence[PathPart], value: object) -> str:
    """The name of a RayService or RayCluster: a DNS-1035 label of at most 47 characters."""
    name = dns_label_at(path, value)
    if not name[0].isalpha() or len(name) > RAY_CLUSTER_NAME_MAX:
        raise ArgError(
            path,
            f"{name!r} is not allowed; allowed: at most {RAY_CLUSTER_NAME_MAX} characters starting with a letter "
            "(KubeRay derives its RayCluster and Service names from it)",
        )
    return name


def check_head(args: RayHeadArgs) -> Head:
    return Head(
        cpu=check_quantity(("cpu",), args.get("cpu", "2")),
        memory=check_quantity(("memory",), args.get("memory", "8Gi")),
    )


def _replicas(args: Mapping[str, Any], *, fixed: bool) -> tuple[int, int, int]:
    """(replicas, min_replicas, max_replicas). A fixed group keeps `replicas` (default 1) unless bounds are given; any
    other group autoscales from min_replicas (default 0) to max_replicas (default 1), starting at min_replicas."""
    if fixed:
        replicas = require_int(("replicas",), args.get("replicas", 1), minimum=0)
        minimum = require_int(("min_replicas",), args.get("min_replicas", replicas), minimum=0)
        maximum = require_int(("max_replicas",), args.get("max_replicas", max(replicas, minimum)), minimum=1)
    else:
        minimum = require_int(("min_replicas",), args.get("min_replicas", 0), minimum=0)
        maximum = require_int(("max_replicas",), args.get("max_replicas", max(minimum, 1)), minimum=1)
        replicas = require_int(("replicas",), args.get("replicas", minimum), minimum=0)
    if minimum > maximum:
        key = "min_replicas" if "min_replicas" in args else "replicas"
        raise ArgError((key,), f"{minimum} is more than max_replicas {maximum}; allowed: 0 to {maximum}")
    if not minimum <= replicas <= maximum:
        raise ArgError(
            ("replicas",), f"{replicas} is not allowed; allowed: {minimum} to {maximum} (min_replicas to max_replicas)"
        )
    return replicas, minimum, maximum


def _group(args: Mapping[str, Any], *, fixed: bool, cpu: str, memory: str, **shape: Any) -> WorkerGroup:
    """The parts every group shares: name, replica bounds, CPU and memory (`cpu`, `memory`: the defaults)."""
    name = dns_label_at(("group_name",), args.get("group_name"))
    replicas, minimum, maximum = _replicas(args, fixed=fixed)
    return WorkerGroup(
        name=name,
        replicas=replicas,
        min_replicas=minimum,
        max_replicas=maximum,
        cpu=check_quantity(("cpu",), args.get("cpu", cpu)),
        memory=check_quantity(("memory",), args.get("memory", memory)),
        **shape,
    )


def _ephemeral_storage(args: Mapping[str, Any], mode: ClusterMode) -> str | None:
    default = AUTOPILOT_EPHEMERAL_STORAGE if mode is ClusterMode.AUTOPILOT else None
    value = args.get("ephemeral_storage", default)
    return None if value is None else check_quantity(("ephemeral_storage",), value)


def tpu_worker_group(args: TpuWorkerGroupArgs, mode: ClusterMode = ClusterMode.STANDARD) -> WorkerGroup:
    """Check a TPU group as the KubeRay TPU webhook would; raises ArgError (paths relative to the group). Its pods
    select and claim the slice's hosts as `mode` needs (_accelerator_pods)."""
    shape = tpu_slice_of_args(args)
    expected = shape.kuberay_num_of_hosts
    hosts = require_int(("num_of_hosts",), args.get("num_of_hosts", expected), minimum=1)
    if hosts != expected:
        raise ArgError(
            ("num_of_hosts",),
            f"{hosts} does not fit a {shape.topology} slice of {shape.machine_type} ({shape.chips} chips, "
            f"{shape.chips_per_vm} per host), and the KubeRay TPU webhook would refuse the group: "
            f'"{TPU_WEBHOOK_REASON}"; allowed: {expected} (max(chips / chips per host, 1))',
        )
    capacity = check_capacity(args, spot="tpu_spot", reservation="tpu_reservation", zone="tpu_zone")
    placement = tpu_pod_placement(shape, mode, **capacity)
    return _group(
        args,
        fixed=True,
        cpu="8",
        memory="32Gi",
        num_of_hosts=hosts,
        accelerator_resources=shape.accelerator_resources,
        ray_resources={TPU_RAY_RESOURCE: shape.chips_per_vm},
        node_selector=placement.node_selector,
        tolerations=placement.tolerations,
        ephemeral_storage=_ephemeral_storage(args, mode),
    )


def gpu_worker_group(args: GpuWorkerGroupArgs, mode: ClusterMode = ClusterMode.STANDARD) -> WorkerGroup:
    """Check a GPU group against the GPU catalog; raises ArgError (paths relative to the group). Its pods select
    and claim the GPUs as `mode` needs (_accelerator_pods)."""
    accelerator = gpu_accelerator(args.get("accelerator_type"))
    machine = gpu_machine(accelerator.accelerator_type, args.get("machine_type"))
    gpus = require_int(("gpus",), args.get("gpus", machine.gpus_per_vm), minimum=1)
    if gpus > machine.gpus_per_vm:
        raise ArgError(
            ("gpus",),
            f"{gpus} is more than the {machine.gpus_per_vm} GPUs of {machine.name}; "
            f"allowed: 1 to {machine.gpus_per_vm}",
        )
    placement = gpu_pod_placement(
        accelerator.accelerator_type, gpus, mode, **check_capacity(args, spot="spot", zone="zone")
    )
    return _group(
        args,
        fixed=False,
        cpu="4",
        memory="16Gi",
        accelerator_resources={GPU_RESOURCE: gpus},
        node_selector=placement.node_selector,
        # GKE taints GPU nodes so that pods without GPUs stay off them. Its admission controller adds this toleration
        # to pods that request nvidia.com/gpu anyway; stating it keeps the worker schedulable in either mode.
        tolerations=(*placement.tolerations, GPU_TOLERATION),
        ephemeral_storage=_ephemeral_storage(args, mode),
    )


def cpu_worker_group(args: CpuWorkerGroupArgs, mode: ClusterMode = ClusterMode.STANDARD) -> WorkerGroup:
    """Check a CPU group; raises ArgError (paths relative to the group). Its pods are the same in either `mode`."""
    return _group(args, fixed=False, cpu="2", memory="8Gi")


def _env(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": key, "value": value} for key, value in values.items()]


def _pod_template(
    pod: RayPod,
    *,
    container_name: str,
    requests: Mapping[str, Any],
    limits: Mapping[str, Any],
    env: Mapping[str, str],
    automount_token: bool,
    ports: Mapping[str, int] | None = None,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": container_name,
        "image": pod.image,
        "env": _env({**pod.env, **env}),
        "resources": {"requests": dict(requests), "limits": dict(limits)},
        "securityContext": restricted_container_security_context(),
    }
    if ports:
        container["ports"] = [{"name": name, "containerPort": port} for name, port in ports.items()]
    if pod.volume_mounts:
        container["volumeMounts"] = [dict(mount) for mount in pod.volume_mounts]
    spec: dict[str, Any] = {
        "serviceAccountName": pod.service_account_name,
        "automountServiceAccountToken": automount_token,
        "securityContext": restricted_pod_security_context()
        | ({"runAsUser": pod.run_as_user} if pod.run_as_user is not None else {}),
        "containers": [container],
    }
    if pod.volumes:
        spec["volumes"] = [dict(volume) for volume in pod.volumes]
    if node_selector:
        spec["nodeSelector"] = dict(node_selector)
    if tolerations:
        spec["tolerations"] = [dict(toleration) for toleration in tolerations]
    template: dict[str, Any] = {"spec": spec}
    if pod.annotations:
        template["metadata"] = {"annotations": dict(pod.annotations)}
    return template


def head_group_spec(head: Head, pod: RayPod, *, autoscaling: bool) -> dict[str, Any]:
    """The head group: a ClusterIP head Service (dashboard and job API only through port-forward or in-cluster)."""
    return {
        "serviceType": "ClusterIP",
        "rayStartParams": {},
        "template": _pod_template(
            pod,
            container_name="ray-head",
            requests={"cpu": head.cpu, "memory": head.memory},
            limits={"memory": head.memory},
            env=NO_GPU_ENV,
            # The autoscaler runs beside Ray in the head pod and talks to the Kubernetes API with the pod's token.
            automount_token=autoscaling,
            ports=HEAD_PORTS,
        ),
    }


def worker_group_spec(group: WorkerGroup, pod: RayPod) -> dict[str, Any]:
    """One entry of workerGroupSpecs."""
    # The accelerators, and the local disk an Autopilot pod must ask for; requests equal limits for both.
    claims = {name: str(count) for name, count in group.accelerator_resources.items()}
    if group.ephemeral_storage is not None:
        claims["ephemeral-storage"] = group.ephemeral_storage
    ray_start_params = {}
    if group.ray_resources:
        # KubeRay's own quoting of this parameter: a JSON object in single quotes, passed to `ray start` as is.
        ray_start_params["resources"] = "'" + json.dumps(dict(group.ray_resources), separators=(",", ":")) + "'"
    return {
        "groupName": group.name,
        "replicas": group.replicas,
        "minReplicas": group.min_replicas,
        "maxReplicas": group.max_replicas,
        "numOfHosts": group.num_of_hosts,
        "rayStartParams": ray_start_params,
        "template": _pod_template(
            pod,
            container_name="ray-worker",
            requests={"cpu": group.cpu, "memory": group.memory, **claims},
            limits={"memory": group.memory, **claims},
            env={} if group.gpus else NO_GPU_ENV,
            automount_token=False,
            node_selector=group.node_selector,
            tolerations=group.tolerations,
        ),
    }


def auth_options(mode: RayAuthMode) -> dict[str, str]:
    """The RayCluster's authOptions block."""
    return {"mode": mode.value}


def autoscaling_enabled(groups: Sequence[WorkerGroup]) -> bool:
    """Ray's autoscaler is needed when any group may change size."""
    return any(group.autoscaled for group in groups)


def ray_cluster_spec(
    *,
    ray_version: str,
    head: Head,
    head_pod: RayPod,
    groups: Sequence[tuple[WorkerGroup, RayPod]],
    auth: RayAuthMode,
) -> dict[str, Any]:
    """A RayCluster's spec, which is also a RayService's spec.rayClusterConfig."""
    autoscaling = autoscaling_enabled([group for group, _ in groups])
    spec: dict[str, Any] = {
        "rayVersion": ray_version,
        "authOptions": auth_options(auth),
        "enableInTreeAutoscaling": autoscaling,
        "headGroupSpec": head_group_spec(head, head_pod, autoscaling=autoscaling),
        "workerGroupSpecs": [worker_group_spec(group, pod) for group, pod in groups],
    }
    if autoscaling:
        spec["autoscalerOptions"] = {
            # Keep an idle accelerator worker a while: bringing one back costs a node start and minutes of compile.
            "idleTimeoutSeconds": 300,
            "upscalingMode": "Default",
            "resources": {"requests": dict(AUTOSCALER_REQUESTS), "limits": {"memory": AUTOSCALER_REQUESTS["memory"]}},
            "securityContext": restricted_container_security_context(),
        }
    return spec


def check_autopilot_ray_cluster(spec: Mapping[str, Any]) -> None:
    """ArgError (located in the spec) if Autopilot would refuse the head's or a worker group's pods of a RayCluster
    spec (ray_cluster_spec())."""
    check_autopilot_pod(spec["headGroupSpec"]["template"]["spec"], at=("headGroupSpec", "template", "spec"))
    for index, group in enumerate(spec["workerGroupSpecs"]):
        check_autopilot_pod(group["template"]["spec"], at=("workerGroupSpecs", index, "template", "spec"))


def _check_json(path: tuple[PathPart, ...], value: Any) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ArgError(path, f"key {key!r} is not allowed; allowed: string keys")
            _check_json((*path, key), item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json((*path, index), item)
    elif not isinstance(value, _JSON_SCALARS):
        raise ArgError(
            path, f"{value!r} is not allowed; allowed: JSON values (strings, numbers, booleans, lists, maps)"
        )


def _check_deployment(path: tuple[PathPart, ...], deployment: ServeDeploymentArgs) -> None:
    if not isinstance(deployment.get("name"), str) or not deployment["name"]:
        raise ArgError((*path, "name"), f"{deployment.get('name')!r} is not allowed; allowed: the deployment's name")
    for key in ("num_replicas", "max_ongoing_requests"):
        if key in deployment:
            require_int((*path, key), deployment[key], minimum=0 if key == "num_replicas" else 1)
    for key in ("num_cpus", "num_gpus"):
        value = deployment.get(key)
        if key in deployment and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            raise ArgError((*path, key), f"{value!r} is not allowed; allowed: a number >= 0")
    for resource, amount in (deployment.get("resources") or {}).items():
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
            raise ArgError((*path, "resources", resource), f"{amount!r} is not allowed; allowed: a number >= 0")


def check_serve_applications(applications: Sequence[ServeApplicationArgs]) -> None:
    """Check the applications (paths start at `applications`); raises ArgError."""
    if not isinstance(applications, list) or not applications:
        raise ArgError(("applications",), f"{applications!r} is not allowed; allowed: a non-empty list of applications")
    names: set[str] = set()
    prefixes: set[str] = set()
    for index, app in enumerate(applications):
        at: tuple[PathPart, ...] = ("applications", index)
        name = app.get("name")
        if not isinstance(name, str) or not name or name in names:
            raise ArgError((*at, "name"), f"{name!r} is not allowed; allowed: a unique, non-empty name")
        names.add(name)
        import_path = app.get("import_path")
        if not isinstance(import_path, str) or not _IMPORT_PATH.match(import_path):
            raise ArgError(
                (*at, "import_path"),
                f"{import_path!r} is not allowed; allowed: module:attribute, e.g. sd_serve.app:build_app",
            )
        prefix = app.get("route_prefix", "/")
        if not isinstance(prefix, str) or not prefix.startswith("/") or prefix in prefixes:
            raise ArgError(
                (*at, "route_prefix"), f"{prefix!r} is not allowed; allowed: a unique path starting with '/'"
            )
        prefixes.add(prefix)
        _check_json((*at, "args"), app.get("args", {}))
        for key, value in (app.get("env") or {}).items():
            if not isinstance(value, str):
                raise ArgError((*at, "env", key), f"{value!r} is not allowed; allowed: a string")
        seen: set[str] = set()
        for number, deployment in enumerate(app.get("deployments") or []):
            _check_deployment((*at, "deployments", number), deployment)
            if deployment["name"] in seen:
                raise ArgError(
                    (*at, "deployments", number, "name"), f"{deployment['name']!r} is used twice; allowed: unique names"
                )
            seen.add(deployment["name"])


def _deployment_config(deployment: ServeDeploymentArgs) -> dict[str, Any]:
    config: dict[str, Any] = {"name": deployment["name"]}
    for key in ("num_replicas", "max_ongoing_requests"):
        if key in deployment:
            config[key] = deployment[key]
    actor_options: dict[str, Any] = {key: deployment[key] for key in ("num_cpus", "num_gpus") if key in deployment}
    if deployment.get("resources"):
        actor_options["resources"] = dict(deployment["resources"])
    if actor_options:
        config["ray_actor_options"] = actor_options
    return config


def serve_config(applications: Sequence[ServeApplicationArgs]) -> dict[str, Any]:
    """Serve's declarative config (ServeDeploySchema) of the applications."""
    rendered = []
    for app in applications:
        config: dict[str, Any] = {
            "name": app["name"],
            "route_prefix": app.get("route_prefix", "/"),
            "import_path": app["import_path"],
        }
        if app.get("args"):
            config["args"] = app["args"]
        if app.get("env"):
            config["runtime_env"] = {"env_vars": dict(app["env"])}
        if app.get("deployments"):
            config["deployments"] = [_deployment_config(d) for d in app["deployments"]]
        rendered.append(config)
    # Every node's proxy listens where the Serve Service (the head port named "serve") sends traffic.
    return {"http_options": {"host": "0.0.0.0", "port": SERVE_PORT}, "applications": rendered}


def serve_config_v2(applications: Sequence[ServeApplicationArgs]) -> str:
    """serveConfigV2: the Serve config as the YAML text KubeRay submits to the cluster."""
    return yaml.safe_dump(serve_config(applications), sort_keys=False)
