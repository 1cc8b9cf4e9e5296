"""checkov on what the project ships: the Kubernetes manifests of every stack, rendered by the offline preview, and
every workload Dockerfile (workloads/*/Dockerfile and workloads/*/*/Dockerfile). The skips, each with its reason, are
in .checkov.yaml; any other failed check fails.

    .venv/bin/python scripts/static_check.py [--checkov .venv-checkov/bin/checkov] [--keep DIR]

Each `Pulumi.<stack>.yaml` is rendered as it is and, when it runs the Llama scenario without staging weights, once
more with `stageWeights: true` (stack `<stack>+staging`), so the weight-staging Job that no stack file enables yet is
scanned too. Exit status: checkov's (0: nothing failed), or 2 when a stack does not render.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gke_tpu_serving.offline import PreviewResult, input_error_message, run_program, write_manifests

ROOT = Path(__file__).resolve().parent.parent
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
CONFIG = ROOT / ".checkov.yaml"
LLAMA_KEY = "gke-tpu-serving:llama"
HF_TOKEN_KEY = "gke-tpu-serving:hfToken"
STAGING_SUFFIX = "+staging"


class RenderError(Exception):
    """A stack that the offline preview could not render (its message is the preview's refusal, or the traceback)."""


@dataclass(frozen=True)
class StackSource:
    """A stack to render: its name and the project directory that holds `Pulumi.<name>.yaml`."""

    name: str
    project_dir: Path


@dataclass
class Rendered:
    """The manifests of every stack, one folder per stack, and the Dockerfiles to scan with them."""

    manifests: dict[str, list[Path]] = field(default_factory=dict)
    dockerfiles: list[Path] = field(default_factory=list)

    def scans(self) -> dict[str, list[Path]]:
        """What checkov scans in one run each: every stack's manifests on their own (a stack is a cluster of its own:
        checkov's graph checks, such as "a NetworkPolicy selects this pod", must not match across stacks), then
        the Dockerfiles."""
        return {**self.manifests, "Dockerfiles": self.dockerfiles}


def workload_dockerfiles(project_dir: Path) -> list[Path]:
    """The image Dockerfiles: one per workload folder, or one per image folder in it (workloads/saxml/http_server)."""
    return sorted([*project_dir.glob("workloads/*/Dockerfile"), *project_dir.glob("workloads/*/*/Dockerfile")])


def stack_names(project_dir: Path) -> list[str]:
    """The stacks that have a `Pulumi.<stack>.yaml` in `project_dir`."""
    return sorted(path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in project_dir.glob("Pulumi.*.yaml"))


def staging_variant(stack_config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The stack file with the weight-staging Job switched on (and a placeholder hfToken secret, which the offline
    preview never decrypts), or None when the stack has no Llama scenario or already stages weights."""
    config = dict(stack_config.get("config") or {})
    llama = config.get(LLAMA_KEY)
    if not isinstance(llama, dict) or llama.get("stageWeights"):
        return None
    config[LLAMA_KEY] = {**llama, "stageWeights": True}
    config.setdefault(HF_TOKEN_KEY, {"secure": "placeholder-never-decrypted-offline"})
    return {**stack_config, "config": config}


def _copy_program(project_dir: Path, into: Path) -> None:
    # The program without its tests, workloads or virtualenvs: Pulumi.yaml, the top-level modules and stacks/.
    into.mkdir(parents=True)
    shutil.copy2(project_dir / "Pulumi.yaml", into / "Pulumi.yaml")
    for module in project_dir.glob("*.py"):
        shutil.copy2(module, into / module.name)
    # workloads/ too: the program builds the workload images from it.
    for folder in ("stacks", "workloads"):
        shutil.copytree(project_dir / folder, into / folder, ignore=shutil.ignore_patterns("__pycache__", ".*cache"))


def stack_sources(project_dir: Path, scratch: Path) -> list[StackSource]:
    """Every stack of `project_dir`, then the staging variants, written into a copy of the program in `scratch`."""
    sources = [StackSource(name, project_dir) for name in stack_names(project_dir)]
    variant_dir = scratch / "variants"
    for name in stack_names(project_dir):
        variant = staging_variant(yaml.safe_load((project_dir / f"Pulumi.{name}.yaml").read_text()) or {})
        if variant is None:
            continue
        if not variant_dir.exists():
            _copy_program(project_dir, variant_dir)
        variant_name = name + STAGING_SUFFIX
        (variant_dir / f"Pulumi.{variant_name}.yaml").write_text(yaml.safe_dump(variant, sort_keys=False))
        sources.append(StackSource(variant_name, variant_dir))
    return sources


Preview = Callable[[Path, str], PreviewResult]
"""Renders stack `name` of the project in a directory: `run_program`, or a test's cache of it."""


def render_manifests(source: StackSource, out_dir: Path, preview: Preview = run_program) -> list[Path]:
    """Run the offline preview of one stack in this process and return the manifests it wrote into `out_dir`."""
    try:
        result = preview(source.project_dir, source.name)
    except Exception as error:
        reason = input_error_message(error) or "".join(traceback.format_exception(error)).strip()
        raise RenderError(f"stack {source.name}: the offline preview failed:\n{reason}") from None
    write_manifests(result, out_dir)
    return sorted(out_dir.glob("*.yaml"))


def render_all(project_dir: Path, scratch: Path, preview: Preview = run_program) -> Rendered:
    """The manifests of every stack (and variant) under `scratch`/manifests/<stack>/, and the Dockerfiles.

    One stack after another, in this process: the Pulumi SDKs are imported once (a process per stack spent most of
    its time importing them), and the mocks' runtime is one per process."""
    return Rendered(
        manifests={
            source.name: render_manifests(source, scratch / "manifests" / source.name, preview)
            for source in stack_sources(project_dir, scratch)
        },
        dockerfiles=workload_dockerfiles(project_dir),
    )


def checkov_command(checkov: Path, files: list[Path], config: Path = CONFIG) -> list[str]:
    """One checkov run over some manifests or Dockerfiles."""
    return [str(checkov), "--config-file", str(config), "--framework", "kubernetes", "dockerfile", "--file"] + [
        str(path) for path in files
    ]


def run_checkov(
    rendered: Rendered, checkov: Path = CHECKOV, config: Path = CONFIG, extra: tuple[str, ...] = (), cwd: Path = ROOT
) -> dict[str, subprocess.CompletedProcess[str]]:
    """checkov once per scan of `rendered`."""
    commands = {scan: [*checkov_command(checkov, files, config), *extra] for scan, files in rendered.scans().items()}
    return run_commands(commands, cwd)


def run_commands(commands: Mapping[str, list[str]], cwd: Path = ROOT) -> dict[str, subprocess.CompletedProcess[str]]:
    """Each command, two at a time (checkov's start-up is most of each run's time), by name."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = pool.map(
            lambda command: subprocess.run(
                command, capture_output=True, text=True, cwd=cwd, check=False, stdin=subprocess.DEVNULL
            ),
            commands.values(),
        )
        return dict(zip(commands, done, strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkov", type=Path, default=CHECKOV, help="checkov executable (default: %(default)s)")
    parser.add_argument("--keep", type=Path, help="render into this folder and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="static-check-") as temporary:
        scratch = args.keep or Path(temporary)
        if args.keep and scratch.exists():
            shutil.rmtree(scratch)
        try:
            rendered = render_all(ROOT, scratch)
        except RenderError as error:
            print(error, file=sys.stderr)
            return 2
        status = 0
        for scan, done in run_checkov(rendered, args.checkov).items():
            print(f"== checkov: {scan} ({len(rendered.scans()[scan])} files)\n{done.stdout}{done.stderr}", flush=True)
            status = max(status, done.returncode)
        return status


if __name__ == "__main__":
    sys.exit(main())
