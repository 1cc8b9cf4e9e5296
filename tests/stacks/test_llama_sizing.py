"""The llama scenario sizes its model against its pool at load: what cannot load is refused at the key that chose it,
a model the catalog lacks can be described with `modelArchitecture`, and the shipped stacks preview without
warnings."""

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from helpers import ROOT, SHIPPED_STACKS

from gke_tpu_serving.offline import PreviewResult
from stacks.config import ConfigError, parse

PREFIX = "gke-tpu-serving:"
HF_TOKEN_SET = frozenset({"hfToken"})
SMALL = {"layers": 16, "kvHeads": 8, "headDim": 64, "parameters": 1.2e9}


def _dev(**llama: Any) -> tuple[dict[str, Any], str]:
    raw = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    config = {key.removeprefix(PREFIX): value for key, value in raw.items() if key.startswith(PREFIX)}
    config["llama"] |= llama
    return config, raw["gcp:project"]


def _with_v5e_8(config: dict[str, Any]) -> None:
    """A single-host v5e 2x4 pool (ct5lp-hightpu-8t) beside the dev stack's Llama pool."""
    llm = next(cluster for cluster in config["clusters"] if cluster["name"] == "llm-us-central1")
    llm["tpuPools"].append(
        {
            "name": "v5e-8",
            "generation": "v5e",
            "machineType": "ct5lp-hightpu-8t",
            "topology": "2x4",
            "zone": "us-central1-a",
        }
    )


def _refusal(config: dict[str, Any], project: str) -> str:
    with pytest.raises(ConfigError) as raised:
        parse(copy.deepcopy(config), project, HF_TOKEN_SET)
    return str(raised.value)


def test_405b_on_one_v6e_8_is_refused_at_the_pool() -> None:
    assert _refusal(*_dev(model="meta-llama/Llama-3.1-405B")) == (
        "config key gke-tpu-serving:llama.pool: meta-llama/Llama-3.1-405B does not load on ct6e-standard-8t: TPU v6e "
        "2x4 on ct6e-standard-8t (8 chips x 32 GB = 256 GB, 1 host) x 0.9 (vLLM's gpu_memory_utilization) = 230.4 GB "
        "usable - 405.85B parameters x 2 bytes = 811.7 GB of weights leaves nothing for the KV cache (vLLM refuses to "
        "start); allowed: no single-host TPU slice holds it (vLLM here serves from one host): 8-bit weights "
        "(modelArchitecture.weightsDtype), a shorter maxModelLen or a smaller model"
    )


def test_70b_on_a_v5e_8_is_refused_and_told_what_fits() -> None:
    config, project = _dev(pool="v5e-8")
    _with_v5e_8(config)
    assert _refusal(config, project) == (
        "config key gke-tpu-serving:llama.pool: meta-llama/Llama-3.1-70B does not load on ct5lp-hightpu-8t: TPU v5e "
        "2x4 on ct5lp-hightpu-8t (8 chips x 16 GB = 128 GB, 1 host) x 0.9 (vLLM's gpu_memory_utilization) = 115.2 GB "
        "usable - 70.55B parameters x 2 bytes = 141.1 GB of weights leaves nothing for the KV cache (vLLM refuses to "
        "start); allowed: a pool on v6e 2x4 on ct6e-standard-8t (66 sequences of 4,096 tokens); or v5p 2x2x1 on "
        "ct5p-hightpu-4t (149 sequences of 4,096 tokens); or tpu7x 2x2x1 on tpu7x-standard-4t (447 sequences of "
        "4,096 tokens)"
    )


def test_8b_on_a_v5e_8_is_accepted() -> None:
    config, project = _dev(pool="v5e-8", model="meta-llama/Llama-3.1-8B")
    _with_v5e_8(config)
    assert parse(config, project, HF_TOKEN_SET).instance("llama").pool == "v5e-8"


def test_a_model_the_catalog_lacks_is_sized_from_its_architecture() -> None:
    # 100 layers x 8 KV heads x 128 x 2 x 2 = 409,600 bytes a token; 230.4 GB - 2.4 GB leaves 556,640 tokens, fewer
    # than one 1,000,000-token sequence.
    architecture = {**SMALL, "layers": 100, "headDim": 128}
    assert _refusal(*_dev(model="example/long", modelArchitecture=architecture, maxModelLen=1_000_000)).startswith(
        "config key gke-tpu-serving:llama.maxModelLen: 1,000,000 is more than example/long's KV cache holds on "
        "ct6e-standard-8t: "
    )
    parse(*_dev(model="example/long", modelArchitecture=architecture), HF_TOKEN_SET)


@pytest.mark.parametrize(
    ("architecture", "message"),
    [
        (
            {**SMALL, "kvHeads": 0},
            "config key gke-tpu-serving:llama.modelArchitecture.kvHeads: 0 is not allowed; allowed: a positive integer",
        ),
        (
            {**SMALL, "weightsDtype": "fp4"},
            "config key gke-tpu-serving:llama.modelArchitecture.weightsDtype: 'fp4' is not allowed; allowed: "
            "bfloat16, float16, float8, int8",
        ),
        (
            {key: value for key, value in SMALL.items() if key != "headDim"},
            "config key gke-tpu-serving:llama.modelArchitecture.headDim: missing; required keys: layers, kvHeads, "
            "headDim, parameters",
        ),
    ],
)
def test_a_bad_architecture_is_refused_at_its_key(architecture: dict[str, Any], message: str) -> None:
    assert _refusal(*_dev(model="example/x", modelArchitecture=architecture)) == message


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_shipped_stacks_preview_without_warnings(stack: str, shipped_stack: Callable[[str], PreviewResult]) -> None:
    assert shipped_stack(stack).warnings == []
