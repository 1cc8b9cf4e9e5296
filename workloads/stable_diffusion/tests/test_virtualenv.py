"""Runs this directory's tests in the workload's own virtualenv, .venv-sd, from any other interpreter (the project's
.venv, where transformers 4.57.6 cannot be installed beside the Llama workload's huggingface-hub)."""

import subprocess
from pathlib import Path

import pytest

WORKLOAD_DIR = Path(__file__).resolve().parents[1]
ROOT = WORKLOAD_DIR.parents[1]
SD_PYTHON = ROOT / ".venv-sd" / "bin" / "python"

try:
    import diffusers  # noqa: F401

    IN_WORKLOAD_VIRTUALENV = True
except ImportError:
    IN_WORKLOAD_VIRTUALENV = False


@pytest.mark.workload
@pytest.mark.skipif(IN_WORKLOAD_VIRTUALENV, reason="already running in the workload's virtualenv")
@pytest.mark.skipif(
    not SD_PYTHON.exists(),
    reason=f"{SD_PYTHON.relative_to(ROOT)} is absent: build it from workloads/stable_diffusion/requirements-test.txt",
)
def test_the_workload_tests_pass_in_their_own_virtualenv():
    completed = subprocess.run(
        [str(SD_PYTHON), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(WORKLOAD_DIR / "tests")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout[-8000:] + completed.stderr[-4000:]
