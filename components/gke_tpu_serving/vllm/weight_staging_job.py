"""WeightStagingJob: a Kubernetes Job that copies a model's weights from Hugging Face into a bucket, once, so the
serving pods read them through GCS FUSE and never need a Hugging Face token."""

from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from gke_tpu_serving.errors import ArgError, component_errors, require_int
from gke_tpu_serving.k8s.pods import (
    restricted_container_security_context,
    restricted_pod_security_context,
    secret_env_vars,
)
from gke_tpu_serving.names import check_bucket_name, check_dns_label, check_pinned_image
from gke_tpu_serving.options import inherited_dependencies

# Where workloads/llama's image keeps the staging job and the virtualenv it runs in.
STAGE_COMMAND = ["/opt/llama-tools/bin/python", "/app/stage_weights.py"]


class WeightStagingJobArgs(TypedDict):
    """Arguments of WeightStagingJob."""

    namespace: str
    """Namespace of the Job (it must exist)."""
    service_account_name: pulumi.Input[str]
    """Kubernetes ServiceAccount with write access to the bucket (a WorkloadIdentity with a write grant)."""
    image: pulumi.Input[str]
    """An image that carries stage_weights.py where STAGE_COMMAND runs it: the workloads/llama image (for any model,
    Stable Diffusion's included), pinned by tag or digest."""
    job_name: NotRequired[str]
    """Kubernetes name of the Job (a DNS label). Default: the component's name."""
    hf_repo: str
    """Hugging Face model repository, ORG/NAME."""
    revision: NotRequired[str]
    """Branch, tag or commit, e.g. bf16 (CompVis/stable-diffusion-v1-4's Flax weights). Default: main."""
    allow_patterns: NotRequired[list[str]]
    """Stage only files whose path matches one of these globs (fnmatch; `*` also matches `/`). Default: all."""
    hf_token: NotRequired[pulumi.Input[str]]
    """Hugging Face token (a Pulumi secret), for gated models such as Llama."""
    bucket: str
    """Destination bucket."""
    path: str
    """Destination folder in the bucket, e.g. models/meta-llama/Llama-3.1-70B-Instruct."""
    timeout_minutes: NotRequired[int]
    """How long `pulumi up` waits for the copy to finish. Default: 120 (about 140 GB for Llama 3.1 70B)."""


def _validate(args: WeightStagingJobArgs) -> None:
    checks = (
        ("namespace", check_dns_label),
        ("image", check_pinned_image),
        ("bucket", check_bucket_name),
    )
    for key, check in checks:
        check(args.get(key), at=(key,))
    repo = args.get("hf_repo")
    if not isinstance(repo, str) or repo.count("/") != 1 or not all(repo.split("/")):
        raise ArgError(("hf_repo",), f"{repo!r} is not a Hugging Face repository; allowed: ORG/NAME")
    require_int(("timeout_minutes",), args.get("timeout_minutes", 120), minimum=1)
    if "job_name" in args:
        check_dns_label(args.get("job_name"), at=("job_name",))
    patterns = args.get("allow_patterns", [])
    if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
        raise ArgError(("allow_patterns",), f"{patterns!r} is not allowed; allowed: a list of non-empty globs")


class WeightStagingJob(pulumi.ComponentResource):
    """Runs workloads/llama's stage_weights.py as a Job: resumable, verified against the source's checksums, skipping
    files already staged, writing a manifest last. `pulumi up` waits for it, so a server that depends on it starts
    with its weights in place. Pass the cluster's Kubernetes provider in `opts`."""

    destination: pulumi.Output[str]
    """gs://BUCKET/PATH of the staged weights."""

    def __init__(self, name: str, args: WeightStagingJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gke-tpu-serving:index:WeightStagingJob", name, None, opts)
        with component_errors("WeightStagingJob", name):
            if "job_name" not in args:
                check_dns_label(name)
            _validate(args)
        namespace = args["namespace"]
        job_name = args.get("job_name", name)
        after = inherited_dependencies(opts)
        destination = f"gs://{args['bucket']}/{args['path'].strip('/')}"
        command = [*STAGE_COMMAND, "--dest", destination, "--hf-repo", args["hf_repo"]]
        if "revision" in args:
            command += ["--revision", args["revision"]]
        for pattern in args.get("allow_patterns", []):
            command += ["--allow-pattern", pattern]
        secrets = {"HF_TOKEN": args["hf_token"]} if "hf_token" in args else {}
        env = secret_env_vars(
            f"{job_name}-hf-token", namespace, secrets, pulumi.ResourceOptions(parent=self, depends_on=after)
        )
        timeout = f"{args.get('timeout_minutes', 120)}m"
        k8s.batch.v1.Job(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=job_name, namespace=namespace),
            spec=k8s.batch.v1.JobSpecArgs(
                # A rerun resumes where a failed attempt stopped, so retrying is cheap.
                backoff_limit=3,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels={"app.kubernetes.io/name": "weight-staging"}),
                    spec=k8s.core.v1.PodSpecArgs(
                        service_account_name=args["service_account_name"],
                        restart_policy="OnFailure",
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="stage",
                                image=args["image"],
                                command=command,
                                env=env,
                                # Streaming copy: memory stays around one chunk per worker.
                                resources=k8s.core.v1.ResourceRequirementsArgs(
                                    requests={"cpu": "2", "memory": "4Gi"}, limits={"memory": "8Gi"}
                                ),
                                security_context=restricted_container_security_context(),
                            )
                        ],
                        security_context=restricted_pod_security_context(),
                        # The job never calls the Kubernetes API; Workload Identity needs no token in the pod.
                        automount_service_account_token=False,
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=after, custom_timeouts=pulumi.CustomTimeouts(create=timeout, update=timeout)
            ),
        )
        self.destination = pulumi.Output.from_input(destination)
        self.register_outputs({"destination": self.destination})
