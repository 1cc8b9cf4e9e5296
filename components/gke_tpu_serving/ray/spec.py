"""Pure builders of KubeRay (ray.io/v1) specs: the head group, the worker groups (checked in groups.py) and the auth
block (a RayService's serveConfigV2 is built in serve.py).

One code path for every Ray cluster this package renders: `ray_cluster_spec()` is a RayCluster's `spec` and a
RayService's `spec.rayClusterConfig` alike. Imports nothing from Pulumi and renders Kubernetes JSON (camelCase), so
the result is checked against the upstream CRDs as it is, and the same checks run when the stack config loads.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from gke_tpu_serving.errors import ArgError, PathPart
from gke_tpu_serving.k8s.accelerator_pods import (
    check_autopilot_pod,
)
from gke_tpu_serving.k8s.pod_security import restricted_container_security_context, restricted_pod_security_context
from gke_tpu_serving.names import dns_label_at

# The package's __init__ re-exports these args types from here; they are defined beside their checks.
from gke_tpu_serving.ray.groups import CpuWorkerGroupArgs as CpuWorkerGroupArgs
from gke_tpu_serving.ray.groups import GpuWorkerGroupArgs as GpuWorkerGroupArgs
from gke_tpu_serving.ray.groups import Head, WorkerGroup
from gke_tpu_serving.ray.groups import RayHeadArgs as RayHeadArgs
from gke_tpu_serving.ray.groups import TpuWorkerGroupArgs as TpuWorkerGroupArgs
from gke_tpu_serving.ray.serve import SERVE_PORT
from gke_tpu_serving.ray.serve import ServeApplicationArgs as ServeApplicationArgs
from gke_tpu_serving.ray.serve import ServeDeploymentArgs as ServeDeploymentArgs

GCS_PORT = 6379
DASHBOARD_PORT = 8265
CLIENT_PORT = 10001
HEAD_PORTS = {"gcs-server": GCS_PORT, "dashboard": DASHBOARD_PORT, "client": CLIENT_PORT, "serve": SERVE_PORT}
"""The head container's ports, named as KubeRay looks them up: it builds the Serve Service from the port named
"serve" and the head Service from all of them."""

HEAD_COMPONENT = "ray-head"


def head_pod_labels(cluster: str) -> dict[str, str]:
    """The labels by which the head pod of the Ray cluster `cluster` (a RayService's or RayCluster's name) is told
    apart from other heads of its namespace: its PodDisruptionBudget selects them. KubeRay's own ray.io/cluster
    cannot serve: a RayService's cluster takes a random suffix."""
    return {"app.kubernetes.io/instance": cluster, "app.kubernetes.io/component": HEAD_COMPONENT}


RAY_CLUSTER_NAME_MAX = 47
"""KubeRay refuses longer RayService names (it derives the RayCluster's and its Services' names from them)."""

NO_GPU_ENV = {"NVIDIA_VISIBLE_DEVICES": "void"}
"""CUDA images set NVIDIA_VISIBLE_DEVICES=all: a pod that requests no GPU would otherwise see every GPU of its node."""


AUTOSCALER_REQUESTS: Mapping[str, str] = {"cpu": "500m", "memory": "512Mi"}
"""Requests (and memory limit) of the autoscaler container KubeRay adds to the head pod of an autoscaled cluster."""


class RayAuthMode(Enum):
    """Ray's own authentication of its dashboard, job API and control plane (not of Serve's HTTP traffic)."""

    TOKEN = "token"
    """A random token that KubeRay generates into a Secret and gives every Ray container (KubeRay >= 1.5.1,
    Ray >= 2.52)."""
    DISABLED = "disabled"
    """No authentication: anything that reaches the head Service can run code on the cluster (CVE-2023-48022)."""


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
    labels: Mapping[str, str] = field(default_factory=dict)
    """Labels of the pods beside KubeRay's own (KubeRay keeps a template's labels but ray.io/node-type, ray.io/group
    and ray.io/cluster: labelPod in ray-operator/controllers/ray/common/pod.go, kuberay@feeaf72f, read 2026-12-07)."""
    run_as_user: int | None = None
    """The image user's UID, where the image names its user (the kubelet enforces non-root only on a number)."""


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
    metadata = {key: dict(value) for key, value in (("labels", pod.labels), ("annotations", pod.annotations)) if value}
    if metadata:
        template["metadata"] = metadata
    return template


def head_group_spec(head: Head, pod: RayPod, *, autoscaling: bool) -> dict[str, Any]:
    """The head group: a ClusterIP head Service (dashboard and job API only through port-forward or in-cluster).

    No probes on the Ray containers, head or worker: KubeRay injects them where a container has none
    (initLivenessAndReadinessProbe in ray-operator/controllers/ray/common/pod.go, ray-project/kuberay@feeaf72f, v1.7.0's
    branch, read 2026-12-07): they ask the raylet (and, on the head, the GCS) whether they are up, give a start-up 30 s
    and a hung node 120 failures x 5 s, and on a RayService's workers the readiness probe also asks the Serve proxy.
    A Serve application's slow start (the SD app compiles its JAX programs before it serves) happens in replica actors
    while the raylet answers, and the RayService controller, not a probe, decides when Serve takes traffic; a probe of
    our own would also drop KubeRay's Serve proxy check, which it adds only where the readiness probe is unset."""
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
