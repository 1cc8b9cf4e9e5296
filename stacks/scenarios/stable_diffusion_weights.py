"""What Stable Diffusion stages into its weights bucket: the tutorial's model and branch, the files its loader reads,
and the Job that copies them (workloads/llama's stage_weights.py, through stacks.storage)."""

import pulumi

from gke_tpu_serving import GcsFuseBucket, WorkloadIdentity

from ..images import LLAMA
from ..model import DeployContext, Placement
from ..placement import deployed_image
from ..storage import WeightsToStage, deploy_weight_staging

DEFAULT_MODEL = "CompVis/stable-diffusion-v1-4"
DEFAULT_REVISION = "bf16"
"""The tutorial's model and branch: ray-project/serve_config_examples stable_diffusion/stable_diffusion_tpu.py
(commit a0afeba37ccc0eb903ac74010674e5e6e658a57c) loads FlaxStableDiffusionPipeline.from_pretrained(
"CompVis/stable-diffusion-v1-4", revision="bf16"). Its bf16 branch (commit 295cccd, "add bf16 weights for flax, remove
pt weights") holds Flax weights only; the model is not gated (huggingface.co/CompVis/stable-diffusion-v1-4/tree/bf16:
files download without an access request). Both checked 2026-12-02."""
FLAX_PIPELINE_FILES = [
    "model_index.json",
    *(f"{part}/*" for part in ("scheduler", "text_encoder", "tokenizer", "unet", "vae")),
]
"""What sd_serve's loader reads from a diffusers Flax checkpoint; it passes no safety checker or feature extractor,
so their folders are not staged."""
STAGING_JOB = "weights-staging"
"""The staging Job of the unnamed instance; a named instance appends `-<name>`."""


def deploy_staging(
    placement: Placement, context: DeployContext, stager: WorkloadIdentity, weights: GcsFuseBucket
) -> pulumi.Resource:
    """The staging Job of the instance's model at its revision (the Flax pipeline's files only)."""
    model = placement.settings.get("model", DEFAULT_MODEL)
    revision = placement.settings.get("revision", DEFAULT_REVISION if model == DEFAULT_MODEL else "main")
    staged: WeightsToStage = {
        # stage_weights.py lives in the llama image: the Ray image cannot run it (huggingface-hub 1.x vs <1).
        "image": deployed_image(placement, context, "staging_image", LLAMA),
        "job_name": placement.physical(STAGING_JOB),
        "hf_repo": model,
        "revision": revision,
        "allow_patterns": FLAX_PIPELINE_FILES,
        "path": f"models/{model}",
    }
    # No token: the tutorial's model is public, and a token would be one more secret in this namespace.
    return deploy_weight_staging(placement, context, stager, weights, staged)
