"""Static analysis of what the project ships, as `make static` runs it (scripts/static_check.py): checkov on every
stack's rendered Kubernetes manifests and on every workload Dockerfile, failing on anything but the skips that
.checkov.yaml justifies; hadolint on every Dockerfile.

checkov runs once per scan, without the skips, and once over everything with .checkov.yaml as `make static` gives
it (each run costs seconds of start-up): the tests below share those runs. The shipped stacks are the ones every test
reads (`shipped_stack`), not rendered again.
"""

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gke_tpu_serving.offline import PreviewResult, run_program
from scripts.static_check import (
    CHECKOV,
    CONFIG,
    ROOT,
    STAGING_SUFFIX,
    Rendered,
    RenderError,
    StackSource,
    checkov_command,
    render_all,
    render_manifests,
    stack_names,
    staging_variant,
    workload_dockerfiles,
)

needs_checkov = pytest.mark.skipif(
    not CHECKOV.exists(),
    reason=f"{CHECKOV.relative_to(ROOT)} is absent: `make test` builds it (or `make .venv-checkov/.installed`)",
)
DOCKERFILES = workload_dockerfiles(ROOT)


AS_MAKE_STATIC = "all, with .checkov.yaml"
"""The run over every scan's files at once, with the skips, as `make static` configures checkov."""


@dataclass
class CheckovRun:
    """The shipped stacks rendered and checkov's runs over them, started by tests/conftest.py as soon as collection
    has found a test that needs them: the runs go on in one runner process (its checkov children two at a time)
    beside the rest of the suite, on the machine's other core."""

    rendered: Rendered
    directory: Path
    process: subprocess.Popen[bytes] | None
    """None where CHECKOV is absent (the tests that need it are skipped)."""

    def results(self) -> dict[str, subprocess.CompletedProcess[str]]:
        """Each run by name, once the runner has finished them."""
        assert self.process is not None, f"{CHECKOV} is absent"
        if self.process.wait() != 0:
            raise RuntimeError(f"the checkov runner failed ({self.process.returncode})")
        results = json.loads((self.directory / "results.json").read_text())
        return {scan: subprocess.CompletedProcess(*done) for scan, done in results.items()}

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


CHECKOV_RUN = pytest.StashKey[CheckovRun]()
"""The run tests/conftest.py started, in the pytest config's stash."""

# The runner: scripts/static_check.py's run_commands over the commands in argv[2], results (args, returncode,
# stdout, stderr) to argv[3].
_RUNNER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from scripts.static_check import run_commands
commands = json.loads(open(sys.argv[2]).read())
done = run_commands(commands, cwd=__import__("pathlib").Path.cwd())
results = {scan: [run.args, run.returncode, run.stdout, run.stderr] for scan, run in done.items()}
open(sys.argv[3], "w").write(json.dumps(results))
"""


def shipped_or_rendered(shipped_stack: Callable[[str], PreviewResult]) -> Callable[[Path, str], PreviewResult]:
    """The preview render_all asks for: a shipped stack's as every test reads it, any other rendered now."""

    def preview(project_dir: Path, stack: str) -> PreviewResult:
        return shipped_stack(stack) if project_dir == ROOT else run_program(project_dir, stack)

    return preview


def start(preview: Callable[[Path, str], PreviewResult]) -> CheckovRun:
    """Renders every stack (the shipped ones through `preview`) and starts checkov's runs over them: each scan
    without the skips (JSON), and AS_MAKE_STATIC, every file in one run with the skips."""
    directory = Path(tempfile.mkdtemp(prefix="static-"))
    rendered = render_all(ROOT, directory / "rendered", preview)
    if not CHECKOV.exists():
        return CheckovRun(rendered, directory, None)
    # Without its skips, checkov must fail exactly on them: this proves the invocation catches failures, and a
    # skip that nothing triggers any more (say, once the stacks pin images by digest) is flagged for removal.
    settings = yaml.safe_load(CONFIG.read_text())
    del settings["skip-check"]
    scratch = directory / "checkov"
    scratch.mkdir()
    unskipped = scratch / "checkov.yaml"
    unskipped.write_text(yaml.safe_dump(settings))
    commands = {
        scan: [*checkov_command(CHECKOV, files, unskipped), "--output", "json"]
        for scan, files in rendered.scans().items()
    }
    commands[AS_MAKE_STATIC] = checkov_command(CHECKOV, [path for files in rendered.scans().values() for path in files])
    (directory / "commands.json").write_text(json.dumps({scan: list(map(str, c)) for scan, c in commands.items()}))
    runner = [
        sys.executable,
        "-c",
        _RUNNER,
        str(ROOT),
        str(directory / "commands.json"),
        str(directory / "results.json"),
    ]
    # Not from the project root: checkov also reads the .checkov.yaml of its working directory.
    return CheckovRun(rendered, directory, subprocess.Popen(runner, cwd=scratch, stdin=subprocess.DEVNULL))


@pytest.fixture(scope="module")
def checkov_run(request: pytest.FixtureRequest, shipped_stack: Callable[[str], PreviewResult]) -> Iterator[CheckovRun]:
    run = request.config.stash.get(CHECKOV_RUN, None) or start(shipped_or_rendered(shipped_stack))
    try:
        yield run
    finally:
        run.stop()


@pytest.fixture(scope="module")
def rendered(checkov_run: CheckovRun) -> Rendered:
    return checkov_run.rendered


@pytest.fixture(scope="module")
def checkov_runs(checkov_run: CheckovRun) -> dict[str, Any]:
    """Each scan without the skips (JSON), and AS_MAKE_STATIC: every file in one run, with the skips."""
    return checkov_run.results()


def _skips() -> list[str]:
    return list(yaml.safe_load(CONFIG.read_text())["skip-check"])


def _failed_check_ids(stdout: str) -> set[str]:
    # One report per framework: a list when there are several, one object otherwise.
    reports: Any = json.loads(stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return {check["check_id"] for report in reports for check in report["results"]["failed_checks"]}


def test_every_stack_is_rendered_with_its_staging_variant(rendered: Rendered) -> None:
    expected = set(stack_names(ROOT))
    expected |= {
        name + STAGING_SUFFIX
        for name in expected
        if staging_variant(yaml.safe_load((ROOT / f"Pulumi.{name}.yaml").read_text()))
    }
    assert set(rendered.manifests) == expected
    # dev stages its weights itself, so it needs no variant; its own manifests hold the staging Jobs.
    assert "dev+staging" not in expected and "autopilot+staging" in expected
    staging_kinds = {yaml.safe_load(path.read_text())["kind"] for path in rendered.manifests["dev"]}
    assert {"Deployment", "Job"} <= staging_kinds
    assert rendered.dockerfiles == DOCKERFILES and DOCKERFILES


def test_staging_variant_turns_on_the_job_with_a_placeholder_secret() -> None:
    stack = {"config": {"gke-tpu-serving:llama": {"pool": "v6e"}, "gcp:project": "p"}}
    assert staging_variant(stack) == {
        "config": {
            "gke-tpu-serving:llama": {"pool": "v6e", "stageWeights": True},
            "gcp:project": "p",
            "gke-tpu-serving:hfToken": {"secure": "placeholder-never-decrypted-offline"},
        }
    }
    assert staging_variant({"config": {"gke-tpu-serving:llama": {"stageWeights": True}}}) is None
    assert staging_variant({"config": {"gcp:project": "p"}}) is None


def test_every_skip_says_why() -> None:
    lines = [line for line in CONFIG.read_text().splitlines() if re.match(r"\s*- CKV", line)]
    assert len(lines) == len(_skips())
    for line in lines:
        assert re.fullmatch(r"\s*- CKV2?_[A-Z0-9]+_\d+ # \S.{30,}", line), f"a skip without a one-line reason: {line}"


@needs_checkov
def test_checkov_finds_nothing_beyond_the_documented_skips(rendered: Rendered, checkov_runs: dict[str, Any]) -> None:
    assert set(checkov_runs) == {*rendered.manifests, "Dockerfiles", AS_MAKE_STATIC}
    for scan, done in checkov_runs.items():
        if scan == AS_MAKE_STATIC:
            assert done.returncode == 0, f"{scan}:\n{done.stdout}{done.stderr}"
            # One summary per framework (Kubernetes, Dockerfile).
            assert re.findall(r"Failed checks: (\d+)", done.stdout) == ["0", "0"], f"{scan}:\n{done.stdout}"
        else:
            assert done.returncode in {0, 1}, f"{scan}:\n{done.stderr}"
            beyond = _failed_check_ids(done.stdout) - set(_skips())
            assert not beyond, f"{scan}: {sorted(beyond)}\n{done.stdout}"


@needs_checkov
def test_every_skip_is_still_needed(checkov_runs: dict[str, Any]) -> None:
    unskipped = [done for scan, done in checkov_runs.items() if scan != AS_MAKE_STATIC]
    assert set().union(*(_failed_check_ids(done.stdout) for done in unskipped)) == set(_skips())


def test_a_stack_that_does_not_render_names_itself_and_the_preview_refusal(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: broken\nruntime: python\n")
    with pytest.raises(RenderError) as raised:
        render_manifests(StackSource("missing", tmp_path), tmp_path / "out")
    assert str(raised.value) == (
        f"stack missing: the offline preview failed:\nstack 'missing': {tmp_path}/Pulumi.missing.yaml does not exist; "
        "allowed: none (the Pulumi.<stack>.yaml files there)"
    )


def test_a_stack_that_fails_otherwise_names_itself_with_the_traceback(tmp_path: Path) -> None:
    def crash(project_dir: Path, stack: str) -> PreviewResult:
        raise RuntimeError("the program crashed")

    with pytest.raises(
        RenderError,
        match=r"(?s)^stack dev: the offline preview failed:\nTraceback .*RuntimeError: the "
        r"program crashed$",
    ):
        render_manifests(StackSource("dev", ROOT), tmp_path / "out", crash)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: str(path.parent.relative_to(ROOT / "workloads")))
def test_hadolint_passes(dockerfile: Path) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    done = subprocess.run([str(hadolint), str(dockerfile)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
