"""Runs this directory's tests in the workload's own virtualenv, .venv-sd, from any other interpreter (the project's
.venv, where transformers 4.57.6 cannot be installed beside the Llama workload's huggingface-hub). The run starts as
soon as this test is collected (nested_run.py, conftest.py); the test waits for it."""

import pytest
from nested_run import NESTED_RUN, ROOT, SD_PYTHON, start

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
def test_the_workload_tests_pass_in_their_own_virtualenv(request: pytest.FixtureRequest):
    run = request.config.stash.get(NESTED_RUN, None) or start()
    completed = run.result()

    assert completed.returncode == 0, completed.stdout[-8000:] + completed.stderr[-4000:]
