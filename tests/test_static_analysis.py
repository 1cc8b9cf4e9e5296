"""Static analysis of what the project ships, as `make static` runs it (scripts/static_check.py): checkov on every
stack's rendered Kubernetes manifests and on every workload Dockerfile, failing on anything but the skips that
.checkov.yaml justifies; hadolint on every Dockerfile."""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.static_check import (
    CHECKOV,
    CONFIG,
    ROOT,
    STAGING_SUFFIX,
    Rendered,
    render_all,
    run_checkov,
    stack_names,
    staging_variant,
    workload_dockerfiles,
)

needs_checkov = pytest.mark.skipif(
    not CHECKOV.exists(),
    reason=f"{CHECKOV.relative_to(ROOT)} is absent: `make test` builds it (or `make .venv-checkov/.installed`)",
)
DOCKERFILES = workload_dockerfiles(ROOT)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    return render_all(ROOT, tmp_path_factory.mktemp("static"))


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
def test_checkov_finds_nothing_beyond_the_documented_skips(rendered: Rendered) -> None:
    runs = run_checkov(rendered)
    assert set(runs) == {*rendered.manifests, "Dockerfiles"}
    for scan, done in runs.items():
        assert done.returncode == 0, f"{scan}:\n{done.stdout}{done.stderr}"
        assert re.findall(r"Failed checks: (\d+)", done.stdout) == ["0"], f"{scan}:\n{done.stdout}"


@needs_checkov
def test_every_skip_is_still_needed(rendered: Rendered, tmp_path: Path) -> None:
    # Without its skips, checkov must fail exactly on them: this proves the invocation catches failures, and a
    # skip that nothing triggers any more (say, once the stacks pin images by digest) is flagged for removal.
    settings = yaml.safe_load(CONFIG.read_text())
    del settings["skip-check"]
    unskipped = tmp_path / "checkov.yaml"
    unskipped.write_text(yaml.safe_dump(settings))
    # Not from the project root: checkov also reads the .checkov.yaml of its working directory.
    runs = run_checkov(rendered, config=unskipped, extra=("--output", "json"), cwd=tmp_path)
    assert {done.returncode for done in runs.values()} <= {0, 1}, [done.stderr for done in runs.values()]
    assert set().union(*(_failed_check_ids(done.stdout) for done in runs.values())) == set(_skips())


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: str(path.parent.relative_to(ROOT / "workloads")))
def test_hadolint_passes(dockerfile: Path) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    done = subprocess.run([str(hadolint), str(dockerfile)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
