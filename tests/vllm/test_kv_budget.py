"""VllmDeploymentWithHpa sizes the model against its slice: what cannot load is refused before anything is registered,
and a batch the KV cache cannot hold at full length is a warning in the preview."""

import logging
import re
from typing import Any

import pytest
from helpers import VLLM_BASE_ARGS, args_factory

from gke_tpu_serving import VllmDeploymentWithHpa
from gke_tpu_serving.catalog import Dtype, TpuGeneration
from gke_tpu_serving.errors import ComponentArgsError
from gke_tpu_serving.vllm.deployment_spec import check_vllm_args

# The component's own test arguments (a v6e 2x4 host), serving the base model.
args = args_factory({**VLLM_BASE_ARGS, "model": "meta-llama/Llama-3.1-70B"})
V5E_8 = {"tpu_generation": TpuGeneration.V5E, "tpu_machine_type": "ct5lp-hightpu-8t", "tpu_topology": "2x4"}
PREFIX = "VllmDeploymentWithHpa 'vllm-llama': "
FITS_70B = (
    "allowed: a pool on v6e 2x4 on ct6e-standard-8t (66 sequences of 4,096 tokens); or v5p 2x2x1 on ct5p-hightpu-4t "
    "(149 sequences of 4,096 tokens); or tpu7x 2x2x1 on tpu7x-standard-4t (447 sequences of 4,096 tokens)"
)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    # Pulumi's MockEngine logs the program's pulumi.log.warn to the root logger.
    return [r.getMessage() for r in caplog.records if r.name == "root" and r.levelno == logging.WARNING]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"model": "meta-llama/Llama-3.1-405B-Instruct"},
            "tpu_machine_type: meta-llama/Llama-3.1-405B-Instruct does not load on ct6e-standard-8t: TPU v6e 2x4 on "
            "ct6e-standard-8t (8 chips x 32 GB = 256 GB, 1 host) x 0.9 (vLLM's gpu_memory_utilization) = 230.4 GB "
            "usable - 405.85B parameters x 2 bytes = 811.7 GB of weights leaves nothing for the KV cache (vLLM refuses "
            "to start); allowed: no single-host TPU slice holds it (vLLM here serves from one host): 8-bit weights "
            "(modelArchitecture.weightsDtype), a shorter maxModelLen or a smaller model",
        ),
        (
            V5E_8,
            "tpu_machine_type: meta-llama/Llama-3.1-70B does not load on ct5lp-hightpu-8t: TPU v5e 2x4 on "
            "ct5lp-hightpu-8t (8 chips x 16 GB = 128 GB, 1 host) x 0.9 (vLLM's gpu_memory_utilization) = 115.2 GB "
            "usable - 70.55B parameters x 2 bytes = 141.1 GB of weights leaves nothing for the KV cache (vLLM refuses "
            f"to start); {FITS_70B}",
        ),
        (
            # 200 GB of weights leave 30.4 GB: 92,773 tokens of 327,680 bytes, fewer than one 100,000-token sequence.
            {
                "model": "example/100b",
                "model_architecture": {"layers": 80, "kv_heads": 8, "head_dim": 128, "parameters": 100e9},
                "max_model_len": 100_000,
                "max_num_seqs": 1,
                "target_queue_length": 1,
            },
            "max_model_len: 100,000 is more than example/100b's KV cache holds on ct6e-standard-8t: TPU v6e 2x4 on "
            "ct6e-standard-8t (8 chips x 32 GB = 256 GB, 1 host) x 0.9 (vLLM's gpu_memory_utilization) = 230.4 GB "
            "usable - 100B parameters x 2 bytes = 200 GB of weights = 30.4 GB of KV cache; at 327,680 bytes a token "
            "(2 x 80 layers x 8 KV heads x 128 head dim x 2 bytes) it holds 92,773 tokens (vLLM refuses to start "
            "unless one sequence of maxModelLen fits); allowed: 1 to 92,773, or a pool on v5p 2x2x1 on ct5p-hightpu-4t "
            "(4 sequences of 100,000 tokens); or tpu7x 2x2x1 on tpu7x-standard-4t (16 sequences of 100,000 tokens)",
        ),
        (
            {
                "model": "example/x",
                "model_architecture": {"layers": 80, "kv_heads": 0, "head_dim": 128, "parameters": 1},
            },
            "model_architecture.kv_heads: 0 is not allowed; allowed: a positive integer",
        ),
        (
            {"model_architecture": {"layers": 80, "kv_heads": 8, "head_dim": 128}},
            "model_architecture.parameters: missing; required: layers, kv_heads, head_dim and parameters",
        ),
    ],
    ids=["405b-on-v6e-8", "70b-on-v5e-8", "max-model-len-beyond-the-cache", "bad-architecture", "no-parameters"],
)
def test_what_vllm_would_refuse_is_refused(extra: dict[str, Any], message: str, pulumi_mocks: Any) -> None:
    with pytest.raises(ComponentArgsError, match=f"^{re.escape(PREFIX + message)}$"):
        VllmDeploymentWithHpa("vllm-llama", args(**extra))
    assert pulumi_mocks.settle().of_type("kubernetes:apps/v1:Deployment") == []


def test_the_refusal_names_the_property_in_camel_case() -> None:
    with pytest.raises(ComponentArgsError) as error:
        VllmDeploymentWithHpa("vllm-llama", args(**V5E_8))
    assert [e["property_path"] for e in error.value.errors] == ["tpuMachineType"]


def test_256_sequences_of_4096_tokens_on_a_v6e_8_warn(pulumi_mocks: Any, caplog: pytest.LogCaptureFixture) -> None:
    VllmDeploymentWithHpa("vllm-llama", args(max_model_len=4096, max_num_seqs=256))
    pulumi_mocks.settle()
    assert _warnings(caplog) == [
        PREFIX + "maxNumSeqs 256 x maxModelLen 4,096 = 1,048,576 tokens, more than meta-llama/Llama-3.1-70B's KV cache "
        "holds: TPU v6e 2x4 on ct6e-standard-8t (8 chips x 32 GB = 256 GB, 1 host) x 0.9 (vLLM's "
        "gpu_memory_utilization) = 230.4 GB usable - 70.55B parameters x 2 bytes = 141.1 GB of weights = 89.3 GB of KV "
        "cache; at 327,680 bytes a token (2 x 80 layers x 8 KV heads x 128 head dim x 2 bytes) it holds 272,499 "
        "tokens; so 66 sequences of 4,096 tokens run at once (the rest wait), or 256 averaging at most 1,064 tokens; "
        "for every sequence to fit at once, set maxNumSeqs to at most 66 or maxModelLen to at most 1,064, or use a "
        "larger slice"
    ]


@pytest.mark.parametrize(("max_num_seqs", "max_model_len"), [(66, 4096), (256, 1064), (1, 131072)])
def test_a_batch_the_cache_holds_does_not_warn(
    max_num_seqs: int, max_model_len: int, pulumi_mocks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    VllmDeploymentWithHpa(
        "vllm-llama", args(max_num_seqs=max_num_seqs, max_model_len=max_model_len, target_queue_length=1)
    )
    pulumi_mocks.settle()
    assert _warnings(caplog) == []


def test_a_model_outside_the_catalog_warns_that_it_is_not_sized(
    pulumi_mocks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    VllmDeploymentWithHpa("vllm-llama", args(model="example/unknown"))
    pulumi_mocks.settle()
    assert _warnings(caplog) == [
        PREFIX + "example/unknown is not in the model catalog and modelArchitecture is not set: its weights and KV "
        "cache are not sized against the slice's HBM; set modelArchitecture: {layers, kvHeads, headDim, parameters} "
        "from its config.json to have them checked"
    ]


def test_the_settings_carry_the_plan() -> None:
    settings = check_vllm_args(args(max_num_seqs=64))
    assert settings.kv_cache is not None
    assert (settings.kv_cache.tokens, settings.kv_cache.sequences(settings.max_model_len)) == (272_499, 66)


def test_a_user_architecture_overrides_the_catalog() -> None:
    # The same 70B with 8-bit weights: 230.4 GB - 70.55 GB leaves 487,812 tokens.
    architecture = {"layers": 80, "kv_heads": 8, "head_dim": 128, "parameters": 70_553_706_496}
    settings = check_vllm_args(args(model_architecture={**architecture, "weights_dtype": Dtype.FLOAT8}))
    assert settings.kv_cache is not None
    assert settings.kv_cache.tokens == 487_812
