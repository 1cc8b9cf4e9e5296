"""Stable Diffusion on TPU v4 (or GPUs) through Ray Serve on KubeRay.

The namespace and the `ray-sd` Kubernetes ServiceAccount with direct Workload Identity Federation, the weights
bucket it reads through GCS FUSE, a compile-cache bucket it writes, the KubeRay operator's Helm chart where the
cluster has no Ray add-on, and the RayService: the workloads/stable_diffusion image's `sd_serve.app:build_app` with
an ingress and the model deployment, one replica per TPU host or GPU worker.
"""

from typing import Any, NotRequired, cast

import pulumi

from gke_tpu_serving import (
    BucketAccess,
    Exposure,
    RayAuthMode,
    RayService,
    RayServiceArgs,
    ServeDeploymentArgs,
    WorkloadIdentityMode,
)
from gke_tpu_serving.cluster.plan import GpuPoolPlan
from gke_tpu_serving.errors import ArgError, format_path, require_int
from gke_tpu_serving.ray.cluster_args import max_requests
from gke_tpu_serving.ray.groups import worker_defaults
from gke_tpu_serving.ray.ray_service import (
    RayServiceUpgradeStrategy,
    check_autopilot_ray_service,
    check_ray_service_args,
)
from gke_tpu_serving.ray.serve import SERVE_PORT
from gke_tpu_serving.tenancy.quota import Resources

from ..images import LLAMA, STABLE_DIFFUSION, STABLE_DIFFUSION_CUDA, ImageBuild
from ..ingress import deploy_ingress_policy
from ..model import DeployContext, Placement, Scenario, StackInfo, StorageScenarioConfig, StorageSpec, config_error
from ..placement import (
    autopilot_args,
    autopilot_refusal,
    check_image,
    deployed_image,
    gpu_capacity_args,
    placement_outputs,
    refuse_unauthenticated_exposure,
    tpu_capacity_args,
)
from ..storage import (
    bucket_name,
    cache_bucket_name,
    check_storage,
    deploy_bucket,
    deploy_cache_bucket,
    deploy_identity,
    deploy_stager,
    grant_for,
    stager_grant,
    storage_outputs,
)
from ..tokens import generated_token
from .ray_operator import RayOperator, check_operator, operator_ingress, operator_of, stack_generates_ray_token
from .stable_diffusion_commands import commands
from .stable_diffusion_shapes import check_batch_sizes, check_shapes, startup_compile
from .stable_diffusion_weights import DEFAULT_MODEL, deploy_staging

STORAGE = StorageSpec(
    default_namespace="stable-diffusion",
    service_account="ray-sd",
    mode=WorkloadIdentityMode.FEDERATED,
    access=BucketAccess.READ,
    bucket_role="weights",
)
SERVICE_NAME = "stable-diffusion"
"""The RayService of the unnamed instance; a named instance appends `-<name>`."""
IMPORT_PATH = "sd_serve.app:build_app"
WEIGHTS_MOUNT = "/data/weights"
COMPILE_CACHE_DIR = "/var/cache/jax"
# The catalog has no sourced shape for TPU v4's ct4p-hightpu-4t, so nothing derives the worker's requests there: they
# are set here, explicitly. Every other host's are derived from its machine shape (ray/groups.py, worker_defaults).
TPU_WORKER_CPU, TPU_WORKER_MEMORY = "32", "128Gi"


class Config(StorageScenarioConfig):
    """gke-tpu-serving:stableDiffusion: the cluster and a single-host TPU or GPU pool, the namespace, the buckets
    and the Ray Serve application."""

    image: NotRequired[str]
    """A prebuilt Ray image (workloads/stable_diffusion: JAX for TPU, or its CUDA variant on GPU pools), pinned by
    digest or tag. Default: `pulumi up` builds the variant for the pool and pushes it to the stack's repository."""
    model: NotRequired[str]
    """The model's Hugging Face id (a diffusers checkpoint with Flax weights); its weights are read from
    gs://BUCKET/models/<model>. Default: CompVis/stable-diffusion-v1-4 (the tutorial's)."""
    revision: NotRequired[str]
    """The Hugging Face branch, tag or commit staged. Default: bf16 with the default model, else main."""
    stage_weights: NotRequired[bool]
    """Copy the model's Flax files at `revision` from Hugging Face into the bucket with a Job before the RayService
    starts. Public models only (it sends no token). Default: false (the weights are staged already)."""
    staging_image: NotRequired[str]
    """A prebuilt image for the staging Job: workloads/llama's, which carries stage_weights.py (the Ray image cannot:
    its transformers 4.57 needs huggingface-hub<1, the staging job >=1), pinned by digest or tag. Default: the llama
    image `pulumi up` builds."""
    cache_bucket: NotRequired[str]
    """Bucket the XLA compile cache is synced with. Default:
    `<gcp:project>-<stack>-stablediffusion[-<name>]-xla-cache`."""
    resolution: NotRequired[int]
    """Image height and width in pixels. Default: the application's (512)."""
    default_steps: NotRequired[int]
    """Denoising steps of a request that names none. Default: the application's (25)."""
    batch_sizes: NotRequired[list[int]]
    """Batch shapes compiled before the server reports ready; requests are padded to the next one. Default: the
    application's ([1, 2, 4, 8])."""
    extra_sizes: NotRequired[list[int]]
    """Further square sizes served besides `resolution` (multiples of 8); each is compiled for every batch size and
    step count. Default: none."""
    extra_steps: NotRequired[list[int]]
    """Further step counts served besides `defaultSteps`; each is compiled like a size. Default: none."""
    max_compiled_shapes: NotRequired[int]
    """The most programs (batch sizes x sizes x step counts) a replica may compile before it is ready: each takes
    tens of seconds (~45 s on an H100). Default: 8."""
    batch_wait_timeout_seconds: NotRequired[float]
    """How long a batch waits to fill. Default: the application's (0.05)."""
    replicas: NotRequired[int]
    """Model replicas: one per TPU host, or per GPU worker. Default: 1."""
    max_workers: NotRequired[int]
    """GPU pools only: the GPU worker group's upper bound (it starts from zero). Default: the pool's maxNodes."""
    exposure: NotRequired[Exposure]
    """How the Serve Service is reachable: cluster-ip, the default and the only one allowed (Ray Serve does not
    authenticate requests). To reach it from outside the cluster, deploy the instance into a tenant and route its Serve
    Service through the tenant's gateway, which puts Identity-Aware Proxy in front."""
    operator: NotRequired[RayOperator]
    """add-on (default) or helm."""
    ray_auth: NotRequired[RayAuthMode]
    """Ray token authentication of the dashboard and job API: token (default) or disabled."""
    ray_version: NotRequired[str]
    """rayVersion: the Ray version inside the image. Default: the pinned one (gke_tpu_serving.catalog.versions)."""


# Application arguments that the config passes through, by config key (the app's own names and defaults).
_APP_ARGS = {
    "resolution": "resolution",
    "default_steps": "default_steps",
    "batch_sizes": "batch_sizes",
    "extra_sizes": "extra_sizes",
    "extra_steps": "extra_steps",
    "batch_wait_timeout_seconds": "batch_wait_timeout_s",
}
# RayService args that have no config key of their own point at the key that decides them.
_CONFIG_KEY_OF_ARG = {
    "tpu_worker_groups": "pool",
    "gpu_worker_groups": "pool",
    "applications": "pool",
    "weights_bucket": "bucket",
    "auth": "ray_auth",
}


def _gpu_pool(placement: Placement) -> GpuPoolPlan:
    pool = placement.gpu_pool
    assert pool is not None  # config.py placed the instance on a TPU or a GPU pool
    return pool


def _accelerator(placement: Placement) -> str:
    if placement.tpu_pools:
        return placement.tpu_pools[0].tpu_slice.accelerator_label
    return _gpu_pool(placement).accelerator_type.value


def _image_build(placement: Placement) -> ImageBuild:
    """The image a GPU pool needs is the CUDA variant of the workload's Dockerfile."""
    return STABLE_DIFFUSION_CUDA if placement.gpu_pool is not None else STABLE_DIFFUSION


def _service_args(placement: Placement, stack: StackInfo, image: pulumi.Input[str]) -> RayServiceArgs:
    settings = placement.settings
    replicas = settings.get("replicas", 1)
    model: ServeDeploymentArgs = {"name": "StableDiffusion", "num_replicas": replicas}
    # Assembled from config keys the Config type has already checked.
    args: dict[str, Any] = {
        "namespace": placement.namespace,
        "service_account_name": STORAGE.service_account,
        "image": image,
        "applications": [],
        "weights_bucket": bucket_name(placement, stack),
        "weights_mount_path": WEIGHTS_MOUNT,
        "compile_cache_path": COMPILE_CACHE_DIR,
    }
    if placement.tpu_pools:
        shape = placement.tpu_pools[0].tpu_slice
        args["tpu_worker_groups"] = [
            {
                "group_name": "tpu",
                "tpu_generation": shape.generation,
                "tpu_machine_type": shape.machine_type,
                "tpu_topology": shape.topology,
                "replicas": replicas,
                **(worker_defaults(shape.machine_type) or {"cpu": TPU_WORKER_CPU, "memory": TPU_WORKER_MEMORY}),
                **tpu_capacity_args(placement),
            }
        ]
        model["resources"] = {"TPU": shape.chips_per_vm}
        cache_prefix = f"{shape.accelerator_label}-{shape.topology}"
    else:
        pool = _gpu_pool(placement)
        args["gpu_worker_groups"] = [
            {
                "group_name": "gpu",
                "accelerator_type": pool.accelerator_type,
                "machine_type": pool.machine.name,
                "max_replicas": settings.get("max_workers", pool.max_nodes),
                # Each worker takes every GPU of its node, so the whole node's budget.
                **worker_defaults(pool.machine.name),
                **gpu_capacity_args(placement, pool),
            }
        ]
        model["num_gpus"] = pool.machine.gpus_per_vm
        cache_prefix = pool.accelerator_type.value
    app_args: dict[str, Any] = {
        "model": f"{WEIGHTS_MOUNT}/models/{settings.get('model', DEFAULT_MODEL)}",
        "compile_cache_dir": COMPILE_CACHE_DIR,
        "compile_cache_bucket": cache_bucket_name(placement, stack),
        # One folder per accelerator shape: other chips compile other programs.
        "compile_cache_prefix": f"jax-cache/{placement.physical(SERVICE_NAME)}/{cache_prefix}",
    }
    app_args |= {app_key: settings[key] for key, app_key in _APP_ARGS.items() if key in settings}
    args["applications"] = [
        {
            "name": placement.physical(SERVICE_NAME),
            "import_path": IMPORT_PATH,
            "args": app_args,
            "deployments": [{"name": "APIIngress", "num_replicas": 1}, model],
        }
    ]
    args.update(autopilot_args(placement))
    for key in ("exposure", "ray_version"):
        if key in settings:
            args[key] = settings[key]
    if "ray_auth" in settings:
        args["auth"] = settings["ray_auth"]
    return cast(RayServiceArgs, args)


def _check_app_settings(placement: Placement) -> None:
    settings = placement.settings
    try:
        for key in ("resolution", "default_steps", "replicas", "max_workers"):
            if key in settings:
                require_int((key,), settings[key], minimum=1)
        if settings.get("resolution", 8) % 8:
            # The VAE works on latents of an eighth of the image's size.
            raise ArgError(
                ("resolution",), f"{settings['resolution']} is not allowed; allowed: a multiple of 8, e.g. 512 or 768"
            )
        check_batch_sizes(settings.get("batch_sizes", [1]))
        check_shapes(settings)
        if settings.get("batch_wait_timeout_seconds", 0) < 0:
            raise ArgError(
                ("batch_wait_timeout_seconds",),
                f"{settings['batch_wait_timeout_seconds']!r} is not allowed; allowed: a number of seconds >= 0",
            )
    except ArgError as error:
        raise config_error(placement.at(*error.path), error.reason) from None


def _check_capacity(placement: Placement) -> None:
    """Each model replica takes a whole TPU host or GPU worker: more than the pool can hold would never schedule."""
    replicas = placement.settings.get("replicas", 1)
    if "max_workers" in placement.settings and not placement.tpu_pools:
        # Each worker takes every GPU of a node: more workers than the pool has nodes would never schedule.
        pool = _gpu_pool(placement)
        if placement.settings["max_workers"] > pool.max_nodes:
            raise config_error(
                placement.at("max_workers"),
                f"{placement.settings['max_workers']} is more than pool {placement.pool!r}'s maxNodes "
                f"{pool.max_nodes} (each worker takes one node's {pool.machine.gpus_per_vm} GPUs); allowed: 1 to "
                f"{pool.max_nodes}",
            )
    if placement.tpu_pools:
        hosts = placement.tpu_pools[0].max_size
        what = f"the {hosts} hosts of pool {placement.pool!r}"
    else:
        hosts = placement.settings.get("max_workers", _gpu_pool(placement).max_nodes)
        what = f"maxWorkers {hosts}" if "max_workers" in placement.settings else f"pool {placement.pool!r}'s maxNodes"
    if replicas > hosts:
        raise config_error(
            placement.at("replicas"),
            f"{replicas} is more than {what} (each replica takes one host); allowed: 1 to {hosts}",
        )


def check(placement: Placement, stack: StackInfo, secret_keys: frozenset[str]) -> None:
    """The Stable Diffusion pipeline runs on one TPU host (or GPU worker) per replica, reads its weights through GCS
    FUSE, and needs a KubeRay operator: the cluster's Ray add-on, or the Helm chart on a cluster without it."""
    cluster = placement.cluster
    if placement.tpu_pools and placement.tpu_pools[0].tpu_slice.multi_host:
        raise config_error(
            placement.at("pool"),
            f"{placement.pool!r} is a multi-host TPU pool; allowed: a single-host tpuPools entry or a gpuPools "
            "entry (one Stable Diffusion replica runs on one host)",
        )
    check_operator(placement)
    if not cluster.plan.gcs_fuse_csi:
        raise config_error(
            ("clusters", cluster.index, "gcs_fuse_csi"),
            f"false, but {format_path(placement.path, camel=True)} reads its weights through GCS FUSE on cluster "
            f"{cluster.name!r}; allowed: true",
        )
    check_storage(placement, stack, cache=True)
    if placement.settings.get("stage_weights"):
        check_image(placement, "staging_image", LLAMA)
    _check_app_settings(placement)
    _check_capacity(placement)
    exposure = placement.settings.get("exposure", Exposure.CLUSTER_IP)
    if placement.settings.get("ray_auth") is RayAuthMode.DISABLED and exposure is not Exposure.CLUSTER_IP:
        raise config_error(
            placement.at("ray_auth"),
            f"disabled, but exposure is {exposure.value}: the Ray cluster would be reachable beyond the cluster "
            "without Ray's token authentication; allowed: token (the default)",
        )
    refuse_unauthenticated_exposure(
        placement, "Ray Serve's HTTP proxy (Ray token authentication covers the dashboard and jobs API only)"
    )
    args = _service_args(placement, stack, check_image(placement, "image", _image_build(placement)))
    try:
        settings = check_ray_service_args(args)
    except ArgError as error:
        key = str(error.path[0])
        raise config_error(placement.at(_CONFIG_KEY_OF_ARG.get(key, key)), error.reason) from None
    try:
        check_autopilot_ray_service(args, settings)
    except ArgError as error:
        raise autopilot_refusal(placement, error) from None


def demand(placement: Placement, stack: StackInfo) -> Resources:
    """The whole RayService at its largest; twice that with blue-green upgrades, which run a second cluster beside
    the first until it serves."""
    service = check_ray_service_args(
        _service_args(placement, stack, check_image(placement, "image", _image_build(placement)))
    )
    largest = max_requests(service.head, service.groups)
    return largest.times(2) if service.upgrade_strategy is RayServiceUpgradeStrategy.NEW_CLUSTER else largest


def deploy(placement: Placement, context: DeployContext) -> dict[str, Any]:
    """Deploy the instance onto its cluster; returns its stack outputs."""
    stack = context.stack
    identity = deploy_identity(placement, context)
    deploy_ingress_policy(
        placement, context, serving_port=SERVE_PORT, allows=operator_ingress(placement), after=identity
    )
    # Only the staging Job's own ServiceAccount may write the weights; the Ray pods read them.
    stager = deploy_stager(placement, context, identity) if placement.settings.get("stage_weights") else None
    grants = [grant_for(identity, placement), *([stager_grant(stager)] if stager is not None else [])]
    weights = deploy_bucket(placement, stack, grants)
    cache = deploy_cache_bucket(placement, stack, identity)
    needs: list[pulumi.Resource] = [identity, weights, cache]
    operator = operator_of(placement)
    if operator is RayOperator.HELM:
        needs.append(context.addons.kuberay_operator())
    if placement.settings.get("stage_weights"):
        assert stager is not None
        needs.append(deploy_staging(placement, context, stager, weights))
    args = _service_args(placement, stack, deployed_image(placement, context, "image", _image_build(placement)))
    args["service_account_name"] = identity.service_account_name
    if stack_generates_ray_token(placement):
        args["auth_token"] = generated_token(f"{placement.resource_prefix}-ray-auth-token")
    name = placement.physical(SERVICE_NAME)
    service = RayService(
        name,
        args,
        opts=pulumi.ResourceOptions(provider=context.cluster.kubernetes_provider, depends_on=needs),
    )
    return (
        placement_outputs(placement)
        | storage_outputs(identity, weights)
        | {
            "operator": operator.value,
            "url": service.url,
            "serveService": service.service_name,
            "dashboardService": service.dashboard_service_name,
            # `pulumi up` does not wait for a custom resource to serve: this shows KubeRay's progress.
            "watch": f"kubectl -n {args['namespace']} get rayservice {name} -w",
            "commands": commands(placement, name),
            "startupCompile": startup_compile(placement.settings, _accelerator(placement)),
        }
    )


SCENARIO = Scenario(
    key="stableDiffusion", config_type=Config, storage=STORAGE, check=check, demand=demand, deploy=deploy
)
