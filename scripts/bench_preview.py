"""What the offline preview costs above its floor, for the dev stack and for the teams stack grown to many teams.

    .venv/bin/python scripts/bench_preview.py [--pairs 5] [--tenants 8,32,64] [--code DIR] [--stacks dev,teams]

The floors are scripts/preview_floor.py run through the same runner (the same CLI, `python -m
gke_tpu_serving.offline preview`) on the preview's own `--json` plan: `plan` declares every resource of the plan with
its inputs, parent, dependsOn and provider through its SDK class's constructor from one flat loop (what any program
declaring that plan pays the SDK); `plain` as many resources of each type with no inputs or options (the SDK classes'
modules, their base initialisers); `bare` as many bare resources (the Pulumi SDK alone). What the preview costs above
`plan` is the program's own.

Each measurement is a fresh subprocess's CPU time (user + system, getrusage(RUSAGE_CHILDREN)), not wall time, so other
work on the machine changes it little; the runs of a round rotate (each round starts one later than the last) and the
medians are compared. Byte code is cached in a temporary directory that one untimed run of each fills, as in a
user's checkout. `--code DIR` measures another checkout's program and components (e.g. the main branch) against this
checkout's floors, so two checkouts share one yardstick. Prints, per stack: the resources, the explicit dependsOn
edges (as the engine is told them: a component in depends_on counts once per custom resource in it) and edges per
resource, then each median and the preview's ratio to it.
"""

import argparse
import copy
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
FLOOR_PROGRAM = ROOT / "scripts" / "preview_floor.py"
TENANTS_KEY = "gke-tpu-serving:tenants"


def teams_stack(code: Path, tenants: int) -> str:
    """Pulumi.teams.yaml of the checkout `code` with `tenants` teams, each like its first team with members of its
    own, a CPU-only Ray cluster and no TPU quota (so any number fits the cluster)."""
    document = yaml.safe_load((code / "Pulumi.teams.yaml").read_text())
    first = document["config"][TENANTS_KEY][0]
    teams = []
    for index in range(tenants):
        team = copy.deepcopy(first)
        name = team["name"] = f"team-{index:02d}"
        team["members"] = [
            {"member": f"group:{name}-leads@example.com", "role": "admin"},
            {"member": f"group:{name}@example.com", "role": "contributor"},
            {"member": f"user:{name}-auditor@example.com", "role": "viewer"},
        ]
        team["quota"] = {"cpu": "32", "memory": "128Gi", "tpuChips": 0}
        team["rayCluster"] = {"workerGroups": [{"name": "cpu", "maxReplicas": 2}]}
        teams.append(team)
    document["config"][TENANTS_KEY] = teams
    return yaml.safe_dump(document, sort_keys=False)


def program_copy(code: Path, directory: Path, stacks: dict[str, str]) -> Path:
    """A copy of the checkout's Pulumi program in `directory` with these stack files (`{name: YAML text}`)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(code / name, directory / name)
    ignore = shutil.ignore_patterns("__pycache__", ".*cache")
    for name in ("stacks", "workloads"):
        shutil.copytree(code / name, directory / name, ignore=ignore)
    for stack, text in stacks.items():
        (directory / f"Pulumi.{stack}.yaml").write_text(text)
    return directory


def floor_project(directory: Path, plan_file: Path, floor: str) -> Path:
    """The floor program as a project whose stack `floor` declares the plan in `plan_file` (a `--json` document) as
    the `floor` mode of scripts/preview_floor.py says: plan, plain or bare."""
    config = {"gke-tpu-serving:planFile": str(plan_file.resolve()), "gke-tpu-serving:floor": floor}
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_text("name: gke-tpu-serving\nruntime: python\n")
    (directory / "Pulumi.floor.yaml").write_text(yaml.safe_dump({"config": config}))
    shutil.copy(FLOOR_PROGRAM, directory / "__main__.py")
    return directory


def dependency_edges(plan: dict[str, Any]) -> int:
    """The explicit dependsOn edges of a `--json` plan, summed over its resources."""
    return sum(len(r.get("options", {}).get("dependsOn", [])) for r in plan["resources"])


@dataclass
class Runner:
    """Runs previews in fresh interpreters with a checkout's component package (and program) on their path."""

    checkout: Path
    pycache: Path

    def cpu_seconds(self, project: Path, stack: str, *extra: str) -> float:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPATH"] = os.pathsep.join([str(self.checkout / "components"), str(self.checkout)])
        env["PYTHONPYCACHEPREFIX"] = str(self.pycache)
        command = [sys.executable, "-m", "gke_tpu_serving.offline", "preview", "--stack", stack, *extra]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        run = subprocess.run(
            [*command, "--project-dir", str(project)],
            env=env,
            cwd=project,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if run.returncode != 0:
            raise SystemExit(f"{' '.join(command)} in {project} failed ({run.returncode}):\n{run.stderr}")
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


@dataclass
class Figures:
    """One stack's counts and CPU seconds: the preview's and each floor's, one sample per round."""

    stack: str
    resources: int
    edges: int
    samples: dict[str, list[float]]

    def line(self) -> str:
        preview, *floors = (statistics.median(self.samples[kind]) for kind in KINDS)
        ratios = " ".join(f"{floor:>9.2f} {preview / floor:>7.2f}x" for floor in floors)
        return (
            f"{self.stack:<10} {self.resources:>9} {self.edges:>9} {self.edges / self.resources:>9.2f} "
            f"{preview:>9.2f} {ratios}"
        )


FLOORS = ("plan", "plain", "bare")
KINDS = ("preview", *FLOORS)
HEADER = f"{'stack':<10} {'resources':>9} {'edges':>9} {'edges/res':>9} {'preview s':>9} " + " ".join(
    f"{floor + ' s':>9} {'/' + floor:>8}" for floor in FLOORS
)


def measure(stack: str, project: Path, work: Path, pairs: int, code: Runner, floor: Runner) -> Figures:
    """Counts from one untimed `--json` run (which also fills the byte-code cache), then `pairs` rounds of the
    preview and its floors, each round starting one later than the last."""
    plan_file = work / f"{stack}.json"
    code.cpu_seconds(project, stack, "--json", str(plan_file))
    plan = json.loads(plan_file.read_text())
    runs = [(code, project, stack)]
    for kind in FLOORS:
        runs.append((floor, floor_project(work / f"{kind}-{stack}", plan_file, kind), "floor"))
        floor.cpu_seconds(runs[-1][1], "floor")  # untimed
    samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for pair in range(pairs):
        for index in (pair + offset for offset in range(len(runs))):
            runner, directory, name = runs[index % len(runs)]
            samples[KINDS[index % len(runs)]].append(runner.cpu_seconds(directory, name))
    return Figures(stack, len(plan["resources"]), dependency_edges(plan), samples)


def marginal_line(small: Figures, large: Figures) -> str:
    """CPU per resource the larger stack adds over the smaller, for the preview and each floor: flat when the
    preview is linear in size."""
    added = large.resources - small.resources
    costs = {
        kind: (statistics.median(large.samples[kind]) - statistics.median(small.samples[kind])) / added * 1000
        for kind in KINDS
    }
    ratios = ", ".join(f"{costs['preview'] / costs[floor]:.2f}x {floor}" for floor in FLOORS)
    return (
        f"{large.stack} over {small.stack}: {added} resources added, preview {costs['preview']:.2f} ms CPU each "
        f"(plan {costs['plan']:.2f}, plain {costs['plain']:.2f}, bare {costs['bare']:.2f}): {ratios}"
    )


def tenant_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",")]
    if any(count < 1 for count in counts):
        raise argparse.ArgumentTypeError(f"{text!r}: each count of teams must be 1 or more")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=5, help="rounds of the preview and its floors (default 5)")
    parser.add_argument(
        "--tenants",
        type=tenant_counts,
        default=[32],
        help="teams in the generated teams stack, one stack per comma-separated count (default 32)",
    )
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    parser.add_argument("--stacks", default="dev,teams", help="which of dev,teams to measure (default: both)")
    args = parser.parse_args(argv)
    stacks = args.stacks.split(",")
    for stack in stacks:
        if stack not in ("dev", "teams"):
            parser.error(f"--stacks: {stack!r} is not a stack; allowed: dev, teams")
    code_root = args.code.resolve()
    with tempfile.TemporaryDirectory(prefix="bench-preview-") as temp:
        work = Path(temp)
        code, floor = Runner(code_root, work / "pycache"), Runner(ROOT, work / "pycache")
        print(f"{args.pairs} rounds, CPU seconds (user+sys) medians; code: {code_root}; floor: {ROOT}")
        print(HEADER, flush=True)
        if "dev" in stacks:
            print(measure("dev", code_root, work, args.pairs, code, floor).line(), flush=True)
        if "teams" in stacks:
            names = {f"teams-{count}": teams_stack(code_root, count) for count in sorted(set(args.tenants))}
            project = program_copy(code_root, work / "program", names)
            teams = []
            for name in names:
                teams.append(measure(name, project, work, args.pairs, code, floor))
                print(teams[-1].line(), flush=True)
            if len(teams) > 1:
                print(marginal_line(teams[0], teams[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
