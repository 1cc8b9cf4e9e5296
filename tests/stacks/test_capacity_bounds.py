"""Plans a cluster would never schedule or the serving software would refuse are refused at load: pods larger than
their host's allocatable, pools past GKE's size limit, numbers past what the model or the server allows."""

import copy
from typing import Any

import pytest
import yaml
from helpers import ROOT

from stacks.config import ConfigError, parse

HF_TOKEN_SET = frozenset({"hfToken"})
"""The dev stack stages Llama's gated weights: `pulumi up` needs the hfToken secret set."""

PREFIX = "gke-tpu-serving:"


def config(stack: str = "dev") -> tuple[dict[str, Any], str]:
    raw = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {key.removeprefix(PREFIX): value for key, value in raw.items() if key.startswith(PREFIX)}, raw["gcp:project"]


def refusal(raw: dict[str, Any], project: str) -> str:
    with pytest.raises(ConfigError) as raised:
        parse(raw, project, HF_TOKEN_SET)
    return str(raised.value)


def llama_on_one_chip_v5e(**llama: Any) -> tuple[dict[str, Any], str]:
    """The dev stack with Llama moved to a ct5lp-hightpu-1t pool (24 vCPUs, 48 GiB)."""
    raw, project = config()
    raw = copy.deepcopy(raw)
    raw["clusters"][1]["tpuPools"].append(
        {
            "name": "v5e-1x1",
            "generation": "v5e",
            "machineType": "ct5lp-hightpu-1t",
            "topology": "1x1",
            "zone": "us-central1-a",
        }
    )
    raw["llama"] |= {"pool": "v5e-1x1", **llama}
    return raw, project


def test_llama_with_default_requests_on_a_one_chip_host_is_refused() -> None:
    assert refusal(*llama_on_one_chip_v5e()) == (
        "config key gke-tpu-serving:llama.fileCacheSize: 200Gi (RAM-backed, counted as memory) leaves no memory for "
        "the server: a ct5lp-hightpu-1t node leaves 23870m CPU and 44423Mi memory allocatable; allowed: less than "
        "44423Mi"
    )


def test_llama_requests_larger_than_the_host_are_refused() -> None:
    assert refusal(*llama_on_one_chip_v5e(fileCacheSize="20Gi", memory="40Gi")) == (
        "config key gke-tpu-serving:llama.memory: 40Gi of memory beside 20Gi of RAM-backed volumes does not fit: a "
        "ct5lp-hightpu-1t node leaves 23870m CPU and 44423Mi memory allocatable; allowed: at most 23943Mi"
    )


def test_llama_with_requests_that_fit_the_host_is_accepted() -> None:
    # A model one 16 GB chip holds (70B does not: tests/stacks/test_llama_sizing.py).
    small = {
        "model": "example/small",
        "modelArchitecture": {"layers": 16, "kvHeads": 8, "headDim": 64, "parameters": 1.2e9},
    }
    parsed = parse(*llama_on_one_chip_v5e(fileCacheSize="20Gi", memory="8Gi", **small), HF_TOKEN_SET)
    assert parsed.instance("llama").tpu_pools[0].tpu_slice.machine_type == "ct5lp-hightpu-1t"


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        (
            "maxModelLen",
            1000000000,
            "1000000000 is more than meta-llama/Llama-3.1-70B's context of 131072 tokens; allowed: 1 to 131072",
        ),
        (
            "targetQueueLength",
            1000000000,
            "1000000000 is more than max_num_seqs 64; allowed: 1 to 64 (a waiting queue longer than one batch means "
            "the HPA scales too late)",
        ),
    ],
)
def test_llama_numbers_past_the_model_or_the_hpa_are_refused(key: str, value: Any, reason: str) -> None:
    raw, project = config()
    raw["llama"][key] = value
    assert refusal(raw, project) == f"config key gke-tpu-serving:llama.{key}: {reason}"


@pytest.mark.parametrize(("stack", "position", "kind", "index"), [("dev", 1, "tpuPools", 1), ("gpu", 0, "gpuPools", 0)])
def test_pool_sizes_past_gkes_per_pool_limit_are_refused(stack: str, position: int, kind: str, index: int) -> None:
    raw, project = config(stack)
    cluster = raw["clusters"][position]
    cluster[kind][index]["maxNodes"] = 1000000000
    assert refusal(raw, project) == (
        f"config key gke-tpu-serving:clusters[{position}].{kind}[{index}].maxNodes: 1000000000 is more than GKE's "
        f"1000 nodes per node pool zone; allowed: {max(cluster[kind][index].get('minNodes', 0), 1)} to 1000"
    )


@pytest.mark.parametrize(
    ("stack", "key", "value", "reason"),
    [
        (
            "gpu",
            "maxWorkers",
            5,
            "maxWorkers: 5 is more than pool 'gpu-l4''s maxNodes 2 (each worker takes one node's 1 GPUs); allowed: 1 "
            "to 2",
        ),
        ("dev", "batchSizes", [1, 2, 2], "batchSizes[2]: 2 is listed twice; allowed: distinct batch sizes"),
        ("dev", "batchSizes", [1000000000], "batchSizes[0]: 1000000000 is more than 64; allowed: 1 to 64"),
        (
            "dev",
            "batchSizes",
            list(range(1, 10)),
            "batchSizes: [1, 2, 3, 4, 5, 6, 7, 8, 9] is not allowed; allowed: 1 to 8 batch sizes (each compiles before "
            "the server is ready)",
        ),
    ],
)
def test_stable_diffusion_numbers_past_the_pool_or_the_server_are_refused(
    stack: str, key: str, value: Any, reason: str
) -> None:
    raw, project = config(stack)
    raw["stableDiffusion"][key] = value
    assert refusal(raw, project) == f"config key gke-tpu-serving:stableDiffusion.{reason}"


def test_stable_diffusion_batch_sizes_in_any_order_are_accepted() -> None:
    raw, project = config()
    raw["stableDiffusion"]["batchSizes"] = [8, 1, 4]
    assert parse(raw, project, HF_TOKEN_SET).instance("stableDiffusion").settings["batch_sizes"] == [8, 1, 4]
