"""What the vLLM server may ask of its engine and its host: the engine numbers vLLM or the model would refuse, and the
container's CPU, memory and RAM file cache, derived from the TPU host and checked against what GKE leaves allocatable
there. Pure: VllmDeploymentWithHpa's checks (deployment_spec.py) call it, and so does the stack config at load."""

from collections.abc import Mapping
from typing import Any

from gke_tpu_serving.catalog import TpuSlice
from gke_tpu_serving.errors import ArgError
from gke_tpu_serving.k8s.host_fit import MemoryVolume, check_pod_fits, host_budget
from gke_tpu_serving.tenancy.quota import parse_quantity

# Sized for Llama 3.1 70B's bf16 weights (~140 GB), which the RAM file cache holds whole: a model need, not a host's.
DEFAULT_FILE_CACHE_SIZE = "200Gi"


def check_engine_bounds(
    model: object,
    context: int | None,
    max_model_len: int,
    max_num_seqs: int,
    max_num_batched_tokens: int | None,
    target_queue: int,
) -> None:
    """What vLLM or the model (whose context is `context` tokens, where known) would refuse, and an HPA target that
    could never be reached."""
    if context is not None and max_model_len > context:
        raise ArgError(
            ("max_model_len",),
            f"{max_model_len} is more than {model}'s context of {context} tokens; allowed: 1 to {context}",
        )
    if max_num_batched_tokens is not None:
        # vLLM's SchedulerConfig refuses fewer tokens per step than sequences (each sequence takes at least one), and
        # more than every sequence at full length could use is a budget no step can spend.
        most = max_num_seqs * max_model_len
        if not max_num_seqs <= max_num_batched_tokens <= most:
            raise ArgError(
                ("max_num_batched_tokens",),
                f"{max_num_batched_tokens} is not allowed with max_num_seqs {max_num_seqs} and max_model_len "
                f"{max_model_len}; allowed: {max_num_seqs} (max_num_seqs) to {most} (max_num_seqs x max_model_len)",
            )
    if target_queue > max_num_seqs:
        # Requests wait only when a whole batch is running: a target queue longer than a batch keeps every waiting
        # request behind more than one batch's lifetime before the HPA adds a host.
        raise ArgError(
            ("target_queue_length",),
            f"{target_queue} is more than max_num_seqs {max_num_seqs}; allowed: 1 to {max_num_seqs} (a waiting queue "
            "longer than one batch means the HPA scales too late)",
        )


def server_resources(args: Mapping[str, Any], shape: TpuSlice) -> dict[str, str]:
    """The server container's CPU, memory and file cache: given, else derived from the host; checked against what GKE
    leaves allocatable on the host where the catalog knows its shape."""
    file_cache = args.get("file_cache_size", DEFAULT_FILE_CACHE_SIZE)
    cache = MemoryVolume("file_cache_size", file_cache)
    budget = host_budget(shape.machine_type)
    if budget is None:
        for key in ("cpu", "memory"):
            if key not in args:
                raise ArgError(
                    (key,),
                    f"missing; required on {shape.machine_type}, whose vCPUs and memory the catalog does not have "
                    "(no default can be derived); allowed: a Kubernetes quantity that fits the host",
                )
        memory = args["memory"]
        return {
            "cpu": args["cpu"],
            "memory": memory,
            "memory_limit": args.get("memory_limit", memory),
            "file_cache_size": file_cache,
        }
    resources = {
        "cpu": args.get("cpu", budget.default_cpu()),
        "memory": args.get("memory", budget.default_memory_request()),
        "memory_limit": args.get("memory_limit", budget.default_memory_limit([cache])),
        "file_cache_size": file_cache,
    }
    check_pod_fits(
        budget,
        cpu=("cpu", resources["cpu"]),
        memory=("memory", resources["memory"]),
        memory_limit=("memory_limit", resources["memory_limit"]),
        volumes=[cache],
    )
    if parse_quantity(resources["memory"], at=("memory",)) > parse_quantity(
        resources["memory_limit"], at=("memory_limit",)
    ):
        raise ArgError(
            ("memory",),
            f"{resources['memory']} is more than memory_limit {resources['memory_limit']}; allowed: at most the limit",
        )
    return resources
