"""The args every Ray cluster component takes (RayService, RayCluster): their checks and what they become in the pods.

Pure: imports nothing from Pulumi, so the stack config runs the same checks at load.
"""

import re
from collections.abc import Mapping, Sequence
from typing import Any

from gke_tpu_serving.catalog.versions import RAY_VERSION
from gke_tpu_serving.errors import ArgError, require_enum
from gke_tpu_serving.k8s.accelerator_pods import check_cluster_mode
from gke_tpu_serving.k8s.gcsfuse import CacheMedium, FileCache, gcs_fuse_mount
from gke_tpu_serving.names import check_bucket_name, check_pinned_image, dns_label_at
from gke_tpu_serving.ray.groups import (
    GPU_RESOURCE,
    Head,
    WorkerGroup,
    check_head,
    cpu_worker_group,
    gpu_worker_group,
    tpu_worker_group,
)
from gke_tpu_serving.ray.spec import AUTH_TOKEN_SECRET_KEY as AUTH_TOKEN_SECRET_KEY
from gke_tpu_serving.ray.spec import (
    AUTOSCALER_REQUESTS,
    RayAuth,
    RayAuthMode,
    RayPod,
    autoscaling_enabled,
    ray_cluster_spec,
)
from gke_tpu_serving.tenancy.quota import Resources, parse_quantity

DEFAULT_WEIGHTS_MOUNT = "/data/weights"
TPU_RESOURCE = "google.com/tpu"
MIN_RAY_VERSION_TOKEN_AUTH = (2, 52, 0)
_RAY_VERSION = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
GROUP_CHECKS: dict[str, Any] = {
    "tpu_worker_groups": tpu_worker_group,
    "gpu_worker_groups": gpu_worker_group,
    "cpu_worker_groups": cpu_worker_group,
}
"""The args key of each kind of worker group and the builder that checks it."""


def check_worker_groups(args: Mapping[str, Any]) -> tuple[WorkerGroup, ...]:
    """Every TPU, GPU and CPU group of the args, in that order, with unique names, placed for the args'
    cluster_mode."""
    mode = check_cluster_mode(args)
    groups: list[WorkerGroup] = []
    names: set[str] = set()
    for key, check in GROUP_CHECKS.items():
        group_list: list[Any] = args.get(key) or []
        for index, group_args in enumerate(group_list):
            try:
                group = check(group_args, mode)
            except ArgError as error:
                raise error.within((key, index)) from None
            if group.name in names:
                raise ArgError((key, index, "group_name"), f"{group.name!r} is used twice; allowed: unique names")
            names.add(group.name)
            groups.append(group)
    return tuple(groups)


def check_ray_version(args: Mapping[str, Any], auth: RayAuthMode) -> str:
    version = args.get("ray_version", RAY_VERSION)
    match = _RAY_VERSION.match(version) if isinstance(version, str) else None
    if match is None:
        raise ArgError(("ray_version",), f"{version!r} is not allowed; allowed: a Ray release such as 2.60.0")
    if auth is RayAuthMode.TOKEN and tuple(int(part) for part in match.groups()) < MIN_RAY_VERSION_TOKEN_AUTH:
        raise ArgError(
            ("ray_version",),
            f"{version!r} has no token authentication (Ray 2.52.0 added it); allowed: 2.52.0 or later, or auth "
            "disabled",
        )
    return version


def _check_path(key: str, value: object) -> None:
    if not isinstance(value, str) or not value.startswith("/") or value.rstrip("/") == "":
        raise ArgError((key,), f"{value!r} is not allowed; allowed: an absolute directory path other than /")


def check_common_args(args: Mapping[str, Any], image: object) -> tuple[Head, RayAuthMode, tuple[WorkerGroup, ...]]:
    """The namespace, image, auth, head, worker groups and worker volumes of the args (`image`: the image with its
    default applied); returns the head, the auth mode and the groups. Raises ArgError."""
    dns_label_at(("namespace",), args.get("namespace"))
    check_pinned_image(image, at=("image",))
    auth = require_enum(("auth",), args.get("auth", RayAuthMode.TOKEN), RayAuthMode)
    if auth is RayAuthMode.DISABLED and args.get("auth_token") is not None:
        raise ArgError(("auth_token",), "set, but auth is disabled; allowed: auth token, or no auth_token")
    try:
        head = check_head(args.get("head") or {})  # type: ignore[arg-type]
    except ArgError as error:
        raise error.within(("head",)) from None
    groups = check_worker_groups(args)
    if "weights_bucket" in args:
        check_bucket_name(args["weights_bucket"], at=("weights_bucket",))
    for key in ("weights_mount_path", "compile_cache_path"):
        if key in args:
            _check_path(key, args[key])
    return head, auth, groups


def worker_pod(args: Mapping[str, Any], image: str, env: Mapping[str, str], run_as_user: int | None = None) -> RayPod:
    """The workers' pod: the weights bucket read-only through GCS FUSE and the local compile cache, when asked."""
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    annotations: dict[str, str] = {}
    if "weights_bucket" in args:
        # The file cache on local disk: a restarted worker reads the weights from the node, not the bucket.
        weights = gcs_fuse_mount(
            args["weights_bucket"], volume_name="weights", file_cache=FileCache(medium=CacheMedium.DISK)
        )
        volumes += weights.volumes
        mounts.append(weights.volume_mount(args.get("weights_mount_path", DEFAULT_WEIGHTS_MOUNT)))
        annotations |= weights.pod_annotations
    if "compile_cache_path" in args:
        volumes.append({"name": "compile-cache", "emptyDir": {}})
        mounts.append({"name": "compile-cache", "mountPath": args["compile_cache_path"]})
    return RayPod(
        image=image,
        service_account_name=args["service_account_name"],
        env=env,
        volumes=volumes,
        volume_mounts=mounts,
        annotations=annotations,
        run_as_user=run_as_user,
    )


def args_cluster_spec(
    args: Mapping[str, Any],
    *,
    image: str,
    ray_version: str,
    head: Head,
    groups: Sequence[WorkerGroup],
    auth: RayAuth,
    run_as_user: int | None = None,
    head_labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The Ray cluster spec of checked args: the head and every group's workers run `image` as the args'
    ServiceAccount with the args' env; the workers also mount what the args ask for (worker_pod). The head pod
    carries `head_labels` (head_pod_labels: what its disruption budget selects)."""
    env = dict(args.get("env") or {})
    head_pod = RayPod(
        image=image,
        service_account_name=args["service_account_name"],
        env=env,
        labels=head_labels or {},
        run_as_user=run_as_user,
    )
    workers = worker_pod(args, image, env, run_as_user=run_as_user)
    return ray_cluster_spec(
        ray_version=ray_version, head=head, head_pod=head_pod, groups=[(group, workers) for group in groups], auth=auth
    )


def auth_token_secret_name(name: str) -> str:
    """The Secret (key auth_token) in which a Ray cluster component keeps the token it is given (auth_token)."""
    return f"{name}-ray-auth"


def head_service_name(name: str) -> str:
    """The head Service KubeRay creates (dashboard 8265, client 10001, GCS 6379, Serve 8000)."""
    return f"{name}-head-svc"


def max_requests(head: Head, groups: Sequence[WorkerGroup]) -> Resources:
    """What the cluster requests at its largest, as a namespace's quota counts it: the head (with the autoscaler
    beside it when a group scales) and every group at max_replicas, num_of_hosts pods each."""
    largest = Resources(cpu=parse_quantity(head.cpu), memory=parse_quantity(head.memory))
    if autoscaling_enabled(groups):
        largest += Resources(
            cpu=parse_quantity(AUTOSCALER_REQUESTS["cpu"]), memory=parse_quantity(AUTOSCALER_REQUESTS["memory"])
        )
    for group in groups:
        pod = Resources(
            cpu=parse_quantity(group.cpu),
            memory=parse_quantity(group.memory),
            tpu_chips=group.accelerator_resources.get(TPU_RESOURCE, 0),
            gpus=group.accelerator_resources.get(GPU_RESOURCE, 0),
        )
        largest += pod.times(group.max_replicas * group.num_of_hosts)
    return largest
