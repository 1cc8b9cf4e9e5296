"""The vLLM server's pod template, built from typed pulumi_kubernetes `*Args` from checked settings, without
creating any resource."""

from collections.abc import Mapping
from typing import Any

import pulumi_kubernetes as k8s

from gke_tpu_serving.k8s.gcsfuse import FileCache, gcs_fuse_mount
from gke_tpu_serving.k8s.pods import (
    restricted_container_security_context,
    restricted_pod_security_context,
)
from gke_tpu_serving.vllm.deployment_spec import (
    COMPILE_CACHE_DIR,
    PORT,
    STARTUP_PROBE_PERIOD_SECONDS,
    WEIGHTS_MOUNT,
    VllmDeploymentWithHpaArgs,
    VllmSettings,
    WeightsSource,
)


def _volume_args(volume: Mapping[str, Any]) -> k8s.core.v1.VolumeArgs:
    """A GCS FUSE mount's volume (Kubernetes JSON, the form custom resources share) as typed Args."""
    csi, empty_dir = volume.get("csi"), volume.get("emptyDir")
    return k8s.core.v1.VolumeArgs(
        name=volume["name"],
        csi=k8s.core.v1.CSIVolumeSourceArgs(
            driver=csi["driver"], read_only=csi["readOnly"], volume_attributes=csi["volumeAttributes"]
        )
        if csi is not None
        else None,
        empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
            medium=empty_dir.get("medium"), size_limit=empty_dir.get("sizeLimit")
        )
        if empty_dir is not None
        else None,
    )


def pod_template(
    name: str,
    labels: dict[str, str],
    args: VllmDeploymentWithHpaArgs,
    settings: VllmSettings,
    secret_env: list[k8s.core.v1.EnvVarArgs],
) -> k8s.core.v1.PodTemplateSpecArgs:
    """The server's pod: vLLM on every chip of one host, weights through GCS FUSE, the compile cache on local disk,
    probes sized for weight loading and compilation."""
    shape = settings.shape
    placement = settings.placement
    staged = settings.source is WeightsSource.STAGED
    weights = gcs_fuse_mount(
        args["weights_bucket"],
        volume_name="weights",
        read_only=staged,
        file_cache=FileCache(size_limit=settings.file_cache_size),
    )
    weights_path = args.get("weights_path", "models/" + args["model"])
    env = {
        "MODEL": f"{WEIGHTS_MOUNT}/{weights_path}" if staged else args["model"],
        # The launcher splits the names at spaces (ids and aliases hold none: check_vllm_args).
        "SERVED_MODEL_NAME": " ".join([args["model"], *args.get("model_aliases", [])]),
        "TENSOR_PARALLEL_SIZE": str(shape.chips),
        "MAX_MODEL_LEN": str(settings.max_model_len),
        "MAX_NUM_SEQS": str(settings.max_num_seqs),
        "PORT": str(PORT),
        "COMPILE_CACHE_DIR": COMPILE_CACHE_DIR,
    }
    if settings.max_num_batched_tokens is not None:
        env["MAX_NUM_BATCHED_TOKENS"] = str(settings.max_num_batched_tokens)
    if not staged:
        env["DOWNLOAD_DIR"] = WEIGHTS_MOUNT
    if "compile_cache_bucket" in args:
        env["COMPILE_CACHE_BUCKET"] = args["compile_cache_bucket"]
        # One folder per shape: a new context length or host type compiles other programs.
        env["COMPILE_CACHE_PREFIX"] = (
            f"xla-cache/{name}/{shape.machine_type}-tp{shape.chips}-len{settings.max_model_len}"
        )
    health = k8s.core.v1.HTTPGetActionArgs(path="/health", port="http")
    volumes = [
        *(_volume_args(volume) for volume in weights.volumes),
        k8s.core.v1.VolumeArgs(name="dshm", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(medium="Memory")),
        # Local disk, not the FUSE mount: XLA's cache writes many small files that FUSE handles badly.
        k8s.core.v1.VolumeArgs(name="compile-cache", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs()),
    ]
    volume_mounts = [
        k8s.core.v1.VolumeMountArgs(name=weights.volume_name, mount_path=WEIGHTS_MOUNT, read_only=weights.read_only),
        k8s.core.v1.VolumeMountArgs(name="dshm", mount_path="/dev/shm"),
        k8s.core.v1.VolumeMountArgs(name="compile-cache", mount_path=COMPILE_CACHE_DIR),
    ]
    local_disk = {"ephemeral-storage": settings.ephemeral_storage} if settings.ephemeral_storage else {}
    return k8s.core.v1.PodTemplateSpecArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels, annotations=weights.pod_annotations),
        spec=k8s.core.v1.PodSpecArgs(
            service_account_name=args["service_account_name"],
            node_selector=placement.node_selector,
            tolerations=[
                k8s.core.v1.TolerationArgs(key=t["key"], operator=t["operator"], value=t["value"], effect=t["effect"])
                for t in placement.tolerations
            ]
            or None,
            termination_grace_period_seconds=60,  # time to save the compile cache on the way out
            containers=[
                k8s.core.v1.ContainerArgs(
                    name="vllm",
                    image=args["image"],
                    ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=PORT)],
                    env=[k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in env.items()] + secret_env,
                    resources=k8s.core.v1.ResourceRequirementsArgs(
                        requests={
                            "cpu": settings.cpu,
                            "memory": settings.memory,
                            **local_disk,
                            **placement.resources,
                        },
                        limits={"memory": settings.memory_limit, **local_disk, **placement.resources},
                    ),
                    startup_probe=k8s.core.v1.ProbeArgs(
                        http_get=health,
                        period_seconds=STARTUP_PROBE_PERIOD_SECONDS,
                        failure_threshold=settings.startup_probe_failure_threshold,
                    ),
                    readiness_probe=k8s.core.v1.ProbeArgs(
                        http_get=health, period_seconds=5, timeout_seconds=5, failure_threshold=3
                    ),
                    liveness_probe=k8s.core.v1.ProbeArgs(
                        http_get=health, period_seconds=15, timeout_seconds=5, failure_threshold=4
                    ),
                    volume_mounts=volume_mounts,
                    security_context=restricted_container_security_context(),
                )
            ],
            volumes=volumes,
            security_context=restricted_pod_security_context(),
            # The server never calls the Kubernetes API. Workload Identity (the GKE metadata server) and the GCS
            # FUSE CSI driver (kubelet's token request) work without a token in the pod.
            automount_service_account_token=False,
        ),
    )
