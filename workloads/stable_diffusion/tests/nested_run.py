"""The run of this directory's tests in .venv-sd that test_virtualenv.py checks, started early.

From any other interpreter, conftest.py starts it as soon as collection has found that test, so it runs beside the
rest of the suite (most of its time is Ray and JAX starting, and waiting) instead of after it; the test waits for it.
Its output goes to files, not pipes: a child whose pipe is full blocks until someone reads it.
"""

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

WORKLOAD_DIR = Path(__file__).resolve().parents[1]
ROOT = WORKLOAD_DIR.parents[1]
SD_PYTHON = ROOT / ".venv-sd" / "bin" / "python"
TEST_NAME = "test_the_workload_tests_pass_in_their_own_virtualenv"
TIMEOUT_S = 900


@dataclass
class NestedRun:
    process: subprocess.Popen[bytes]
    stdout: IO[bytes]
    stderr: IO[bytes]

    def result(self) -> subprocess.CompletedProcess[str]:
        """Waits for the run (at most TIMEOUT_S) and returns its exit status and output."""
        try:
            self.process.wait(timeout=TIMEOUT_S)
        finally:
            self.stop()
        outputs = []
        for stream in (self.stdout, self.stderr):
            stream.seek(0)
            outputs.append(stream.read().decode(errors="replace"))
            stream.close()
        return subprocess.CompletedProcess(self.process.args, self.process.returncode, *outputs)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


NESTED_RUN = pytest.StashKey[NestedRun]()
"""The run conftest.py started, in the pytest config's stash."""


def start() -> NestedRun:
    # Closed by NestedRun.result(), once the run has ended.
    stdout, stderr = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(
        [str(SD_PYTHON), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(WORKLOAD_DIR / "tests")],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
    )
    return NestedRun(process, stdout, stderr)
