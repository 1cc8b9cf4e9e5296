"""Helpers shared by the test modules (importable as `helpers`: pytest puts tests/ on the path)."""

import copy
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pulumi
import pytest

from gke_tpu_serving.catalog import TpuGeneration
from gke_tpu_serving.errors import allowed_values
from gke_tpu_serving.vllm.deployment_spec import VllmDeploymentWithHpaArgs

ROOT = Path(__file__).resolve().parents[1]
"""The project root: Pulumi.yaml, the stack files and the program."""

OfflineCli = Callable[..., subprocess.CompletedProcess[str]]
"""The `offline_cli` fixture's type (conftest.py)."""

SHIPPED_STACKS = ("dev", "gpu", "autopilot", "teams")
"""The stack files the project ships (Pulumi.<stack>.yaml). (Here, not in conftest.py: `import conftest` finds the
project root's conftest.py first.)"""


def program_with_stacks(directory: Path, stacks: dict[str, str]) -> Path:
    """A copy of the Pulumi program in `directory` with the given stack files (`{stack name: YAML text}`), for
    `run_program(directory, stack name)`."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, directory / name)
    shutil.copytree(ROOT / "stacks", directory / "stacks")
    # The program builds the workload images from workloads/ (their contexts and Dockerfiles).
    shutil.copytree(
        ROOT / "workloads", directory / "workloads", ignore=shutil.ignore_patterns("__pycache__", ".*cache")
    )
    for stack, text in stacks.items():
        (directory / f"Pulumi.{stack}.yaml").write_text(text)
    return directory


# --- Component tests ----------------------------------------------------------------------------------------------

Args = TypeVar("Args")


def args_factory(base: Args) -> Callable[..., Args]:
    """A component's `args(**extra)`: a fresh deep copy of `base` (tests may change nested lists in place) with `extra`
    on top."""

    def args(**extra: Any) -> Args:
        return {**copy.deepcopy(base), **extra}  # type: ignore[dict-item, return-value]

    return args


def allowed(values: Iterable[object]) -> str:
    """What a message lists after "allowed: " for these values (an Enum type: its members' values), computed as the
    components compute it, so a new member changes the one test that pins the list, not every message that shows it."""
    return allowed_values(values)


def assert_refused_before_any_child(
    mocks: Any, component: Callable[..., pulumi.ComponentResource], name: str, args: Any, reason: str
) -> None:
    """`component(name, args)` raises `<Class> '<name>': <reason>`, a ValueError that callers in other languages see
    as an InputPropertiesError, and registers nothing but itself."""
    with pytest.raises(ValueError) as raised:
        component(name, args)
    class_name = getattr(component, "__name__", "")
    assert str(raised.value) == f"{class_name} '{name}': {reason}"
    assert isinstance(raised.value, pulumi.InputPropertiesError)
    assert [r.type for r in mocks.settle().resources] == ["pulumi:pulumi:Stack", f"gke-tpu-serving:index:{class_name}"]


# --- VllmDeploymentWithHpa ---------------------------------------------------------------------------------------

VLLM_IMAGE = "us-central1-docker.pkg.dev/demo-project/gke-tpu-serving/llama@sha256:" + "a" * 64


VLLM_BASE_ARGS: VllmDeploymentWithHpaArgs = {
    "namespace": "llama",
    "service_account_name": "vllm",
    "image": VLLM_IMAGE,
    "model": "meta-llama/Llama-3.1-70B-Instruct",
    "weights_bucket": "demo-llama-weights",
    "compile_cache_bucket": "demo-llama-xla-cache",
    "tpu_generation": TpuGeneration.V6E,
    "tpu_machine_type": "ct6e-standard-8t",
    "tpu_topology": "2x4",
    "pool_max_nodes": 2,
}
"""Its arguments in the component tests: 70B Instruct on one v6e 2x4 host of a pool of two."""
