"""The GitHub Actions workflows: valid against GitHub's schema, credentials only where they are needed and safe,
keyless GCP authentication, every file a `run:` step names present; and the pull-request preview comment, built from
real offline previews by scripts/preview_comment.py."""

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.preview_comment import (
    MARKER,
    DiffSummary,
    StackReport,
    comment_markdown,
    diff_stack,
    main,
    parse_diff,
)
from scripts.static_check import workload_dockerfiles

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
BIN = Path(sys.executable).parent
# A job with credentials in a pull_request workflow must carry both conditions: the switch, and same-repository only.
SAME_REPOSITORY = "github.event.pull_request.head.repo.full_name == github.repository"
CLOUD_SWITCH = "vars.PULUMI_CLOUD_PREVIEW == 'true'"


def load(name: str) -> dict[str, Any]:
    workflow: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def triggers(workflow: dict[str, Any]) -> set[str]:
    on = workflow["on"]
    return {on} if isinstance(on, str) else set(on)


def steps(workflow: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for job in workflow["jobs"].values():
        yield from job.get("steps", [])


def uses(step: dict[str, Any]) -> str:
    return str(step.get("uses", ""))


def step_using(job: dict[str, Any], action: str) -> dict[str, Any]:
    (step,) = [step for step in job["steps"] if uses(step).startswith(action + "@")]
    return step


def has_write_or_id_token(permissions: Any) -> bool:
    if isinstance(permissions, str):
        return permissions == "write-all"
    return any(value == "write" for value in (permissions or {}).values())


# The workflows


def test_the_pipeline_has_its_workflows() -> None:
    assert {path.name for path in WORKFLOW_FILES} >= {
        "ci.yml",
        "preview.yml",
        "preview-comment.yml",
        "preview-cloud.yml",
        "deploy.yml",
        "images.yml",
    }


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_workflow_matches_githubs_schema(path: Path) -> None:
    done = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_actions_are_pinned_to_a_major_version(path: Path) -> None:
    for step in steps(load(path.name)):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", uses(step)), uses(step)


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_every_job_declares_its_own_least_privilege(path: Path) -> None:
    workflow = load(path.name)
    # The default for every job that says nothing: none, or read-only contents.
    assert workflow["permissions"] in ({}, {"contents": "read"})
    for name, job in workflow["jobs"].items():
        assert isinstance(job.get("permissions"), dict), f"{path.name}: job {name} declares no permissions"
        assert set(job["permissions"].values()) <= {"read", "write", "none"}


def test_nothing_runs_on_pull_request_target() -> None:
    # pull_request_target runs with the base's credentials; with a checkout of the pull request, it runs its code.
    for path in WORKFLOW_FILES:
        assert "pull_request_target" not in triggers(load(path.name)), path.name


@pytest.mark.parametrize(
    "path", [p for p in WORKFLOW_FILES if "pull_request" in triggers(load(p.name))], ids=lambda p: p.name
)
def test_pull_request_jobs_get_no_credentials_unless_gated_to_this_repository(path: Path) -> None:
    workflow = load(path.name)
    assert not has_write_or_id_token(workflow["permissions"])
    for name, job in workflow["jobs"].items():
        text = yaml.safe_dump(job)
        gated = SAME_REPOSITORY in str(job.get("if", "")) and CLOUD_SWITCH in str(job.get("if", ""))
        if not gated:
            assert "secrets." not in text, f"{path.name}: job {name} reads secrets"
            assert "id-token" not in job["permissions"], f"{path.name}: job {name} asks for an OIDC token"
            assert not has_write_or_id_token(job["permissions"]), f"{path.name}: job {name} can write"


@pytest.mark.parametrize("name", ["ci.yml", "preview.yml"])
def test_fork_safe_workflows_have_no_credentials_at_all(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    assert "secrets." not in text and "id-token" not in text and ": write" not in text


def test_preview_renders_base_and_head_in_separate_checkouts() -> None:
    workflow = load("preview.yml")
    (job,) = workflow["jobs"].values()
    checkouts = [step for step in job["steps"] if uses(step).startswith("actions/checkout@")]
    assert sorted(step["with"]["path"] for step in checkouts) == ["base", "head"]
    assert all(step["with"]["persist-credentials"] is False for step in checkouts)
    base = next(step for step in checkouts if step["with"]["path"] == "base")
    assert base["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    render = next(step for step in job["steps"] if "preview_comment.py" in step.get("run", ""))
    assert "--base base --head head" in render["run"]
    upload = step_using(job, "actions/upload-artifact")
    assert upload["if"] == "always()"


def test_the_comment_workflow_never_checks_out_or_runs_code() -> None:
    workflow = load("preview-comment.yml")
    assert workflow["on"] == {"workflow_run": {"workflows": [load("preview.yml")["name"]], "types": ["completed"]}}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    for step in job["steps"]:
        assert not uses(step).startswith("actions/checkout@")
        assert "run" not in step
    # It reads what preview.yml uploads, and finds its comment by the marker the script writes.
    (preview_job,) = load("preview.yml")["jobs"].values()
    download = step_using(job, "actions/download-artifact")
    assert download["with"]["name"] == step_using(preview_job, "actions/upload-artifact")["with"]["name"]
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"
    script = step_using(job, "actions/github-script")["with"]["script"]
    assert f"const marker = '{MARKER}';" in script
    assert "pull.head.sha !== run.head_sha" in script


def test_cloud_preview_is_switched_on_by_a_variable_for_this_repository_only() -> None:
    workflow = load("preview-cloud.yml")
    (job,) = workflow["jobs"].values()
    assert job["if"] == f"{CLOUD_SWITCH} && {SAME_REPOSITORY}"
    assert job["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    pulumi = step_using(job, "pulumi/actions")
    assert pulumi["uses"] == "pulumi/actions@v6"
    assert pulumi["with"]["command"] == "preview" and pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["stack-name"] == "dev"
    assert pulumi["env"] == {"PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}"}


@pytest.mark.parametrize("name", ["deploy.yml", "images.yml", "preview-cloud.yml"])
def test_gcp_authentication_is_keyless(name: str) -> None:
    workflow = load(name)
    authenticated = [
        job
        for job in workflow["jobs"].values()
        if any(uses(s).startswith("google-github-actions/auth@") for s in job.get("steps", []))
    ]
    assert authenticated
    for job in authenticated:
        assert job["permissions"]["id-token"] == "write"
        auth = step_using(job, "google-github-actions/auth")
        assert auth["uses"] == "google-github-actions/auth@v2"
        assert set(auth["with"]) == {"workload_identity_provider", "service_account"}
        assert auth["with"]["workload_identity_provider"] == "${{ vars.GCP_WORKLOAD_IDENTITY_PROVIDER }}"
    assert "credentials_json" not in (WORKFLOWS / name).read_text()


def test_deploy_runs_pulumi_up_after_the_checks_one_at_a_time() -> None:
    workflow = load("deploy.yml")
    assert set(triggers(workflow)) == {"push", "workflow_dispatch"}
    assert workflow["on"]["push"] == {"branches": ["main"]}
    assert workflow["jobs"]["test"]["uses"] == "./.github/workflows/ci.yml"
    assert "workflow_call" in triggers(load("ci.yml"))
    up = workflow["jobs"]["up"]
    assert up["needs"] == "test"
    assert up["environment"] == "dev"
    assert up["concurrency"] == {"group": "pulumi-up-dev", "cancel-in-progress": False}
    pulumi = step_using(up, "pulumi/actions")
    assert pulumi["uses"] == "pulumi/actions@v6"
    assert (pulumi["with"]["command"], pulumi["with"]["stack-name"]) == ("up", "dev")


def test_images_push_by_commit_and_report_digests() -> None:
    workflow = load("images.yml")
    assert workflow["on"]["push"]["paths"][0] == "workloads/**"
    assert "workflow_dispatch" in triggers(workflow)
    build = workflow["jobs"]["build"]
    assert build["strategy"]["matrix"]["image"] == "${{ fromJSON(needs.discover.outputs.images) }}"
    assert build["env"]["IMAGE"] == (
        "${{ vars.GCP_REGION }}-docker.pkg.dev/${{ vars.GCP_PROJECT_ID }}/gke-tpu-serving-${{ matrix.image.stack }}/${{ matrix.image.name }}"
    )
    assert any(step.get("run", "").startswith('gcloud auth configure-docker "$REGISTRY"') for step in build["steps"])
    step_using(build, "docker/setup-buildx-action")
    push = step_using(build, "docker/build-push-action")
    assert push["id"] == "build" and push["uses"] == "docker/build-push-action@v6"
    assert push["with"]["tags"] == "${{ env.IMAGE }}:${{ github.sha }}"
    assert push["with"]["context"] == "${{ matrix.image.context }}"
    assert push["with"]["file"] == "${{ matrix.image.dockerfile }}"
    assert push["with"]["build-args"] == "${{ matrix.image.build_args }}"
    assert push["with"]["cache-from"].startswith("type=gha") and push["with"]["cache-to"].startswith("type=gha")
    summary = build["steps"][-1]
    assert summary["env"]["DIGEST"] == "${{ steps.build.outputs.digest }}"
    assert summary["env"]["CONFIG_KEY"] == "${{ matrix.image.config_key }}"
    assert summary["env"]["STACK"] == "${{ matrix.image.stack }}"
    assert "pulumi config set --stack $STACK --path '$CONFIG_KEY' '$reference'" in summary["run"]
    assert 'reference="$IMAGE@$DIGEST"' in summary["run"] and '>> "$GITHUB_STEP_SUMMARY"' in summary["run"]


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed (GitHub's runners have it)")
def test_images_builds_every_folder_that_has_a_dockerfile(tmp_path: Path) -> None:
    find = next(s for s in load("images.yml")["jobs"]["discover"]["steps"] if s.get("id") == "find")
    output = tmp_path / "github-output"
    subprocess.run(
        ["bash", "-e", "-c", find["run"]], cwd=ROOT, env={**os.environ, "GITHUB_OUTPUT": str(output)}, check=True
    )
    name, images_json = output.read_text().removesuffix("\n").split("=", 1)
    assert name == "images"
    images = json.loads(images_json)
    plain = {image["dockerfile"]: image for image in images if image["build_args"] == ""}
    assert sorted(plain) == [str(path.relative_to(ROOT)) for path in workload_dockerfiles(ROOT)]
    for dockerfile, image in plain.items():
        folder = dockerfile.removeprefix("workloads/").removesuffix("/Dockerfile")
        assert image["name"] == folder.replace("/", "-").replace("_", "-")
        assert image["context"] == "workloads/" + folder.split("/")[0]
        assert image["stack"] == "dev"
    assert plain["workloads/llama/Dockerfile"] == {
        "name": "llama",
        "context": "workloads/llama",
        "dockerfile": "workloads/llama/Dockerfile",
        "config_key": "llama.image",
        "build_args": "",
        "stack": "dev",
    }
    assert plain["workloads/saxml/http_server/Dockerfile"] == {
        "name": "saxml-http-server",
        "context": "workloads/saxml",
        "dockerfile": "workloads/saxml/http_server/Dockerfile",
        "config_key": "saxml.httpServerImage",
        "build_args": "",
        "stack": "dev",
    }
    # The one variant: the Stable Diffusion image's CUDA build, which the gpu stack runs.
    assert [image for image in images if image["build_args"]] == [
        {
            "name": "stable-diffusion-cuda",
            "context": "workloads/stable_diffusion",
            "dockerfile": "workloads/stable_diffusion/Dockerfile",
            "config_key": "stableDiffusion.image",
            "build_args": "RAY_TAG=2.60.0-py311-cu128\nJAX_EXTRA=cuda12",
            "stack": "gpu",
        }
    ]


def test_the_gpu_stack_names_no_image_so_pulumi_up_builds_the_cuda_variant() -> None:
    # tests/stacks/test_images.py checks the build it plans instead.
    stack = yaml.safe_load((ROOT / "Pulumi.gpu.yaml").read_text())["config"]
    assert "image" not in stack["gke-tpu-serving:stableDiffusion"]


def _makefile_targets() -> set[str]:
    return set(re.findall(r"^([\w.-]+):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))


def _repository_path(word: str) -> Path:
    # preview.yml works in two checkouts of this repository, head/ and base/.
    return ROOT / re.sub(r"^(head|base)/", "", word)


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_run_steps_name_files_and_targets_that_exist(path: Path) -> None:
    for step in steps(load(path.name)):
        script = step.get("run", "")
        for target in re.findall(r"\bmake\s+([\w.-]+)", script):
            assert target in _makefile_targets(), f"{path.name}: make {target}"
        if "python" not in script:
            continue
        for word in re.findall(r"[\w./-]+\.(?:py|txt|toml|ya?ml)\b", script):
            assert _repository_path(word).exists(), f"{path.name}: {word}"
        for module in re.findall(r"-m\s+([\w.]+)", script):
            if module in ("pip", "venv"):
                continue
            package = ROOT / "components" / Path(*module.split("."))
            assert package.is_dir() or package.with_suffix(".py").exists(), f"{path.name}: -m {module}"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_dependency_caches_key_on_files_that_exist(path: Path) -> None:
    for step in steps(load(path.name)):
        for pattern in str(step.get("with", {}).get("cache-dependency-path", "")).split():
            assert list(ROOT.glob(re.sub(r"^(head|base)/", "", pattern))), f"{path.name}: {pattern}"


# The preview comment, from real offline previews


def _copy_program(into: Path, stacks: dict[str, str]) -> Path:
    """A checkout of the program (Pulumi.yaml, the top-level modules, stacks/, and workloads/, which it builds the
    images from) with these stack files."""
    into.mkdir()
    shutil.copy2(ROOT / "Pulumi.yaml", into)
    for module in ROOT.glob("*.py"):
        shutil.copy2(module, into)
    for folder in ("stacks", "workloads"):
        shutil.copytree(ROOT / folder, into / folder, ignore=shutil.ignore_patterns("__pycache__", ".*cache"))
    for name, text in stacks.items():
        (into / f"Pulumi.{name}.yaml").write_text(text)
    return into


@dataclass(frozen=True)
class PullRequest:
    """A base and a head checkout, and what scripts/preview_comment.py made of them."""

    out: Path
    status: int
    comment: str


DEV = (ROOT / "Pulumi.dev.yaml").read_text()


@pytest.fixture(scope="module")
def pull_request(tmp_path_factory: pytest.TempPathFactory) -> PullRequest:
    # dev changes its HPA target; `gone` is only on the base, `new` only on the head; `broken` does not render.
    assert "targetQueueLength: 10" in DEV
    root = tmp_path_factory.mktemp("pull-request")
    base = _copy_program(
        root / "base", {"dev": DEV.replace("targetQueueLength: 10", "targetQueueLength: 5"), "gone": DEV}
    )
    head = _copy_program(
        root / "head", {"dev": DEV, "new": DEV, "broken": DEV.replace("pool: v6e-2x4", "pool: no-such-pool")}
    )
    out = root / "out"
    python = sys.executable
    checkouts = ["--base", str(base), "--head", str(head), "--base-python", python, "--head-python", python]
    status = main([*checkouts, "--out", str(out), "--head-ref", "a" * 40, "--base-ref", "b" * 40])
    return PullRequest(out, status, (out / "comment.md").read_text())


def _section(comment: str, stack: str) -> str:
    return comment.split(f"\n### `{stack}`\n", 1)[1].split("\n### ", 1)[0]


def test_comment_starts_with_the_marker_and_counts_every_stack(pull_request: PullRequest) -> None:
    comment = pull_request.comment
    assert comment.startswith(MARKER + "\n")
    assert "The Pulumi program at `aaaaaaa` merged into its base at `bbbbbbb`, compared with that base," in comment
    resources = len(json.loads((pull_request.out / "head" / "dev.json").read_text())["resources"])
    assert f"| `dev` | changes | 0 | 0 | 1 | {resources - 1} | 0 |" in comment
    # A new stack's outputs are all new too.
    assert re.search(rf"\| `new` \| changes \| {resources} \| 0 \| 0 \| 0 \| [1-9]\d* \|", comment)
    assert f"| `gone` | changes | 0 | {resources} | 0 | 0 | 0 |" in comment
    assert "| `broken` | does not render | - | - | - | - | - |" in comment


def test_comment_leads_with_one_verdict_per_stack(pull_request: PullRequest) -> None:
    outputs = len(json.loads((pull_request.out / "head" / "dev.json").read_text())["outputs"])
    resources = len(json.loads((pull_request.out / "head" / "dev.json").read_text())["resources"])
    verdicts = pull_request.comment.split("## Offline preview\n\n", 1)[1].split("\n\n", 1)[0]
    assert verdicts.splitlines() == [
        "- `broken`: DOES NOT RENDER",
        "- `dev`: 1 update; +0 chips at max",
        f"- `gone`: DELETES {resources}",
        f"- `new`: {resources} to create; +84 chips at max",
    ]
    # The new stack's outputs count by top-level key.
    assert re.search(rf"\| `new` \| changes \| {resources} \| 0 \| 0 \| 0 \| {outputs} \|", pull_request.comment)


def test_comment_shows_the_changed_property_in_a_collapsible_diff(pull_request: PullRequest) -> None:
    dev = _section(pull_request.comment, "dev")
    assert "<details><summary>Diff: 0 added, 0 removed, 1 changed (0 replaced), 0 outputs changed</summary>" in dev
    assert "```diff\n~ kubernetes:autoscaling/v2:HorizontalPodAutoscaler vllm-llama\n" in dev
    assert '    inputs.spec.metrics[0].pods.target.averageValue: "5" -> "10"\n```\n\n</details>' in dev


def test_a_stack_missing_on_the_base_counts_as_all_added(pull_request: PullRequest) -> None:
    new = _section(pull_request.comment, "new")
    assert new.startswith("\nNew stack: not on the base, so every resource counts as added.")
    assert "+ gke-tpu-serving:index:VllmDeploymentWithHpa vllm-llama\n" in new


def test_a_stack_missing_on_the_head_is_listed_as_removed(pull_request: PullRequest) -> None:
    gone = _section(pull_request.comment, "gone")
    assert "Stack file removed" in gone
    assert "- urn:pulumi:gone::gke-tpu-serving::pulumi:pulumi:Stack::gke-tpu-serving-gone" in gone


def test_a_stack_that_does_not_render_fails_the_run_and_says_why(pull_request: PullRequest) -> None:
    assert pull_request.status == 1
    broken = _section(pull_request.comment, "broken")
    assert "The head does not render:" in broken and "exit status 2:" in broken
    assert "no-such-pool" in broken


def test_previews_and_diffs_are_kept_for_the_artifact(pull_request: PullRequest) -> None:
    # Every stack's base (empty where the base lacks it) and every head that rendered.
    assert {path.name for path in (pull_request.out / "base").iterdir()} == {
        "broken.json",
        "dev.json",
        "gone.json",
        "new.json",
    }
    assert {path.name for path in (pull_request.out / "head").iterdir()} == {"dev.json", "new.json"}
    assert (pull_request.out / "dev.diff").read_text().startswith("~ kubernetes:autoscaling/v2:HorizontalPodAutoscaler")


def test_diff_of_the_dev_preview_against_a_modified_copy(pull_request: PullRequest, tmp_path: Path) -> None:
    # The dev stack's real --json, edited as an older base would differ: one resource missing (so it is added),
    # one input different (changed), one extra resource (removed).
    preview = json.loads((pull_request.out / "head" / "dev.json").read_text())
    resources = {resource["type"] + "::" + resource["name"]: resource for resource in preview["resources"]}
    missing = resources.pop("kubernetes:policy/v1:PodDisruptionBudget::vllm-llama")
    resources["kubernetes:apps/v1:Deployment::vllm-llama"]["inputs"]["spec"]["replicas"] = 3
    extra = {**missing, "urn": missing["urn"].replace("::vllm-llama", "::vllm-old"), "name": "vllm-old"}
    base = tmp_path / "base.json"
    base.write_text(json.dumps({**preview, "resources": [*resources.values(), extra]}))
    diff, summary = diff_stack(
        "dev", head=ROOT, head_python=Path(sys.executable), base_json=base, head_json=tmp_path / "head.json"
    )
    assert (summary.added, summary.removed, summary.changed) == (1, 1, 1)
    comment = comment_markdown([StackReport("dev", summary, diff)])
    assert "+ kubernetes:policy/v1:PodDisruptionBudget vllm-llama\n" in comment
    assert "- kubernetes:policy/v1:PodDisruptionBudget vllm-old\n" in comment
    assert "~ kubernetes:apps/v1:Deployment vllm-llama\n    inputs.spec.replicas: 3 -> 1" in comment


def test_a_long_diff_is_cut_to_fit_one_comment() -> None:
    urns = [f"+ urn:pulumi:dev::p::kubernetes:core/v1:ConfigMap::map-{index:05}" for index in range(5000)]
    reports = [
        StackReport("dev", DiffSummary(5000, 0, 0, 0, 0), "\n".join(urns)),
        StackReport("prod", DiffSummary(0, 0, 0, 9, 0)),
    ]
    comment = comment_markdown(reports, max_chars=20_000)
    assert len(comment) <= 20_000
    assert re.search(r"\n\.\.\. \d+ more lines: the whole diff is in this run's offline-preview artifact\n```", comment)
    assert comment.count("<details>") == comment.count("</details>") == 1
    assert "### `prod`\n\nNo changes." in comment


def test_values_cannot_close_the_code_fence() -> None:
    comment = comment_markdown([StackReport("dev", DiffSummary(0, 0, 1, 0, 0), '~ urn\n    inputs.x: "```" -> "a"')])
    assert "````diff\n" in comment and "\n````\n" in comment


def test_parse_diff_reads_the_summary_line() -> None:
    stdout = (
        "tree\n\nChanges since old.json:\n+ urn:a\nAccelerators: +64 chips at max\n"
        "Resources: 1 added, 0 removed, 3 changed (2 replaced, 0 update or replace), 4 unchanged; outputs: 2 changed\n"
    )
    summary = DiffSummary(1, 0, 3, 4, 2, replaced=2, accelerators="+64 chips at max")
    assert parse_diff(stdout) == ("+ urn:a", summary)
    assert summary.verdict() == "REPLACEMENTS 2, 1 update, 1 to create; +64 chips at max"
    with pytest.raises(ValueError, match="no 'Changes since' section"):
        parse_diff("tree only\n")
