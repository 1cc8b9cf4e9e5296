"""A seeded config fuzzer over every shipped stack: mutated stack files run through the real program under the offline
mocks, each in a forked child (a crash cannot poison the next case), as `python -m gke_tpu_serving.offline preview`
would: exit 0 (accepted) or 2 (refused, with a message naming a config key), never a traceback.

The mutations are those a newcomer makes: a value of another type, a deleted key or entry, an unknown key, a garbage
string, an extreme number, a duplicated list entry, a misspelt namespace, a snake_case key, a key in two spellings.
The last three (and an unknown key) are known bad and must be refused. Extreme numbers are recorded: which of them
are still accepted is printed with the counts (`pytest -s`), for the numeric bounds still to come.
"""

import copy
import importlib
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT, program_with_stacks

from gke_tpu_serving.offline import input_error_message, run_program

PREFIX = "gke-tpu-serving:"
SEED = 20261202
CASES_PER_STACK = 80
SHIPPED = sorted(path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in ROOT.glob("Pulumi.?*.yaml"))

# Mappings whose keys are the user's own (GCP labels): any key is allowed there.
FREE_FORM = {"labels"}
OTHER_TYPES: list[Any] = [0, 7, -3, True, False, "x", "", [], [1], {}, {"a": 1}, None, 1.5]
GARBAGE = ["", " ", "ÿ\u0000", "a" * 300, "../../etc/passwd", "${gcp:project}", "us-central1-z", "None", "0", "-"]
EXTREMES = [0, -1, 10**9, 2**31, 2**63, -(2**63)]
UNKNOWN_KEYS = ["fooBar", "replicaCount", "enabled", "zones", "nodeCount2"]
NAMESPACE_TYPOS = ["gke_tpu_serving", "gke-tpu-server", "GKE-TPU-SERVING", "gke-tpu-servng", "gketpuserving"]
# What one case may take: a runaway (a billion node pools) is stopped, not left to take the machine down.
CASE_CPU_SECONDS = 10
CASE_MEMORY_BYTES = 3 * 2**30
CASE_WALL_SECONDS = 120
RUNAWAY = 124
MUST_REFUSE = {"unknown_key", "misspelt_namespace", "snake_case", "two_spellings", "negative_number"}
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Case:
    stack: str
    kind: str
    what: str
    config: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    exit: int
    """0 accepted, 2 refused, 1 a traceback, RUNAWAY out of CPU time or memory."""
    message: str
    seconds: float


def _nodes(value: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _nodes(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nodes(item, (*path, index))


def _ours(config: dict[str, Any]) -> list[tuple[Path_, Any]]:
    """Every node under a project key (the top-level keys included), outside free-form mappings."""
    return [
        (path, value)
        for path, value in _nodes(config)
        if path and str(path[0]).startswith(PREFIX) and not any(part in FREE_FORM for part in path[:-1])
    ]


def _parent(config: dict[str, Any], path: Path_) -> Any:
    node: Any = config
    for part in path[:-1]:
        node = node[part]
    return node


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", lambda m: f"_{m.group(1).lower()}", key)


def _camel_keys(config: dict[str, Any]) -> list[Path_]:
    """Paths of mapping keys with a capital letter: the camelCase keys that have a snake_case twin."""
    return [
        path
        for path, _ in _ours(config)
        if isinstance(path[-1], str)
        and re.search("[A-Z]", path[-1].removeprefix(PREFIX))
        and isinstance(_parent(config, path), dict)
    ]


def _rename(mapping: dict[str, Any], old: str, new: str) -> None:
    """Rename a key in place, keeping the order (and so the order a reader sees)."""
    items = [(new if key == old else key, value) for key, value in mapping.items()]
    mapping.clear()
    mapping.update(items)


def _mutate(rng: random.Random, stack: str, config: dict[str, Any]) -> Case:
    config = copy.deepcopy(config)
    kind = rng.choice(
        [
            "type_change",
            "type_change",
            "delete",
            "delete",
            "unknown_key",
            "garbage_string",
            "extreme_number",
            "duplicate",
            "misspelt_namespace",
            "snake_case",
            "two_spellings",
        ]
    )
    nodes = _ours(config)
    if kind == "type_change":
        path, value = rng.choice([n for n in nodes if len(n[0]) > 0])
        replacement = rng.choice([v for v in OTHER_TYPES if type(v) is not type(value)])
        _parent(config, path)[path[-1]] = replacement
        return Case(stack, kind, f"{path} = {replacement!r}", config)
    if kind == "delete":
        path, _ = rng.choice(nodes)
        del _parent(config, path)[path[-1]]
        return Case(stack, kind, f"del {path}", config)
    if kind == "unknown_key":
        path, mapping = rng.choice([n for n in nodes if isinstance(n[1], dict) and n[0][-1:] != ("labels",)])
        key = rng.choice([k for k in UNKNOWN_KEYS if k not in mapping])
        mapping[key] = rng.choice([1, "x", True])
        return Case(stack, kind, f"{path} + {key}", config)
    if kind == "garbage_string":
        strings = [n for n in nodes if isinstance(n[1], str)]
        path, _ = rng.choice(strings)
        garbage = rng.choice(GARBAGE)
        _parent(config, path)[path[-1]] = garbage
        return Case(stack, kind, f"{path} = {garbage!r}", config)
    if kind == "extreme_number":
        numbers = [n for n in nodes if isinstance(n[1], int) and not isinstance(n[1], bool)]
        if not numbers:  # a stack without numbers: give a pool bound one
            numbers = [n for n in nodes if n[0][-1:] in (("minNodes",), ("maxNodes",))] or [((PREFIX + "x",), 0)]
        path, _ = rng.choice(numbers)
        number = rng.choice(EXTREMES)
        _parent(config, path)[path[-1]] = number
        return Case(stack, "negative_number" if number < 0 else kind, f"{path} = {number}", config)
    if kind == "duplicate":
        path, items = rng.choice([n for n in nodes if isinstance(n[1], list) and n[1]])
        items.append(copy.deepcopy(rng.choice(items)))
        return Case(stack, kind, f"{path} + a copy of an entry", config)
    if kind == "misspelt_namespace":
        key = rng.choice([k for k in config if k.startswith(PREFIX)])
        typo = rng.choice(NAMESPACE_TYPOS)
        _rename(config, key, f"{typo}:{key.removeprefix(PREFIX)}")
        return Case(stack, kind, f"{key} -> {typo}:", config)
    path = rng.choice(_camel_keys(config))
    mapping, key = _parent(config, path), str(path[-1])
    twin = PREFIX + _snake(key.removeprefix(PREFIX)) if key.startswith(PREFIX) else _snake(key)
    if kind == "snake_case":
        _rename(mapping, key, twin)
        return Case(stack, kind, f"{path} -> {twin}", config)
    mapping[twin] = copy.deepcopy(mapping[key])
    return Case(stack, kind, f"{path} and {twin}", config)


def _cases() -> list[Case]:
    rng = random.Random(SEED)
    cases = []
    for stack in SHIPPED:
        config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        cases += [_mutate(rng, stack, config) for _ in range(CASES_PER_STACK)]
    return cases


def _run_forked(project: Path, stack: str) -> Outcome:
    """What the offline preview's exit status and stderr would be, from a forked child."""
    started = time.monotonic()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            resource.setrlimit(resource.RLIMIT_CPU, (CASE_CPU_SECONDS, CASE_CPU_SECONDS + 5))
            resource.setrlimit(resource.RLIMIT_DATA, (CASE_MEMORY_BYTES, CASE_MEMORY_BYTES))
            signal.alarm(CASE_WALL_SECONDS)  # a child that waits on nothing (a lock) is stopped too
            try:
                run_program(project, stack)
                code, message = 0, ""
            except MemoryError:
                code, message = RUNAWAY, "out of memory"
            except Exception as exc:  # classified as the CLI does
                text = input_error_message(exc)
                code, message = (1, repr(exc)) if text is None else (2, text)
            with os.fdopen(write_end, "w") as out:
                out.write(json.dumps([code, message]))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as result:
        text = result.read()
    _, status = os.waitpid(pid, 0)
    seconds = time.monotonic() - started
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL):
        return Outcome(RUNAWAY, f"out of CPU time (signal {os.WTERMSIG(status)})", seconds)
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGALRM:
        return Outcome(1, f"no result after {CASE_WALL_SECONDS} s (stuck)", seconds)
    if not text or status != 0:
        return Outcome(1, f"child died with status {status}", seconds)
    code, message = json.loads(text)
    return Outcome(code, message, seconds)


@dataclass
class FuzzRun:
    """The cases' run in a fresh interpreter, started by tests/stacks/conftest.py as soon as collection has found this
    module, so it runs beside the rest of the suite (the cases' previews use the machine's other core)."""

    directory: Path
    process: subprocess.Popen[bytes]
    started: float

    def outcomes(self) -> list[Outcome]:
        try:
            self.process.wait(timeout=CASE_WALL_SECONDS * 10)
            assert self.process.returncode == 0, f"the fuzz run exited with {self.process.returncode}"
            return [Outcome(*entry) for entry in json.loads((self.directory / "outcomes.json").read_text())]
        finally:
            self.stop()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


FUZZ_RUN = pytest.StashKey[FuzzRun]()
"""The run tests/stacks/conftest.py started, in the pytest config's stash."""


def start() -> FuzzRun:
    """Writes every case as a stack file of a copy of the program and starts their run."""
    cases = _cases()
    directory = Path(tempfile.mkdtemp(prefix="fuzz-"))
    project = program_with_stacks(
        directory,
        {f"fuzz{i}": yaml.safe_dump({"config": case.config}, sort_keys=False) for i, case in enumerate(cases)},
    )
    # The cases run in a fresh interpreter that imports the SDKs and the program once and forks a child per case:
    # children start warm, and none is forked beside threads that earlier tests left in this process (a child forked
    # next to a thread holding a lock deadlocks).
    process = subprocess.Popen(
        [sys.executable, __file__, str(project), str(len(cases)), str(directory / "outcomes.json")],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in (ROOT, ROOT / "tests", ROOT / "components"))},
        stdin=subprocess.DEVNULL,
    )
    return FuzzRun(directory, process, time.monotonic())


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest) -> list[tuple[Case, Outcome]]:
    run = request.config.stash.get(FUZZ_RUN, None) or start()
    cases = _cases()
    started = run.started
    outcomes = run.outcomes()
    results = list(zip(cases, outcomes, strict=True))
    elapsed = time.monotonic() - started
    refused = [c for c, o in results if o.exit == 2]
    accepted = [(c, o) for c, o in results if o.exit == 0]
    wrong = [c for c, _ in accepted if c.kind in MUST_REFUSE]
    pending = [(c, o) for c, o in results if c.kind == "extreme_number" and o.exit in (0, RUNAWAY)]
    slowest = max(results, key=lambda result: result[1].seconds)
    print(
        f"\nconfig fuzz (seed {SEED}): {len(results)} cases in {elapsed:.1f} s (slowest {slowest[1].seconds:.1f} s: "
        f"{slowest[0].stack}: {slowest[0].what}); {len(refused)} clean refusals, {len(accepted) - len(wrong)} accepted "
        f"and right, {len(wrong)} accepted and wrong; extreme numbers not refused (bounds pending): {len(pending)}"
    )
    for case, outcome in pending:
        print(f"  {'accepted' if outcome.exit == 0 else 'runaway'}: {case.stack}: {case.what}")
    return results


def test_there_are_at_least_300_cases_over_every_shipped_stack(outcomes: list[tuple[Case, Outcome]]) -> None:
    assert len(outcomes) >= 300
    assert {case.stack for case, _ in outcomes} == set(SHIPPED) == {"autopilot", "dev", "gpu", "teams"}
    kinds = {case.kind for case, _ in outcomes}
    assert kinds >= MUST_REFUSE - {"negative_number"} | {"type_change", "delete", "garbage_string", "duplicate"}


def test_no_case_ends_in_a_traceback(outcomes: list[tuple[Case, Outcome]]) -> None:
    """Exit 0 or 2 only: no traceback, and no runaway (out of CPU time or memory) either."""
    crashed = [(case.stack, case.what, outcome.message) for case, outcome in outcomes if outcome.exit not in (0, 2)]
    assert crashed == []


def test_every_refusal_names_a_config_key(outcomes: list[tuple[Case, Outcome]]) -> None:
    keyless = []
    for case, outcome in outcomes:
        if outcome.exit != 2:
            continue
        written = case.kind == "misspelt_namespace" and re.match(r"^config key [^:\s]+:\S+: ", outcome.message)
        if not (written or re.match(r"^config key (gke-tpu-serving|gcp):\S*", outcome.message)):
            keyless.append((case.stack, case.what, outcome.message))
    assert keyless == []


def test_known_bad_config_is_never_accepted(outcomes: list[tuple[Case, Outcome]]) -> None:
    accepted = [(c.stack, c.kind, c.what) for c, o in outcomes if o.exit == 0 and c.kind in MUST_REFUSE]
    assert accepted == []


def test_the_fuzzer_is_deterministic() -> None:
    first, second = _cases(), _cases()
    assert [(c.stack, c.kind, c.what) for c in first] == [(c.stack, c.kind, c.what) for c in second]


def _run_cases(project: Path, count: int) -> list[Outcome]:
    """In the fresh interpreter: import once, then run each case `fuzz<i>` in a forked child."""
    for module in ("stacks.build", "stacks.config"):
        importlib.import_module(module)
    return [_run_forked(project, f"fuzz{index}") for index in range(count)]


if __name__ == "__main__":
    found = _run_cases(Path(sys.argv[1]), int(sys.argv[2]))
    Path(sys.argv[3]).write_text(json.dumps([[o.exit, o.message, o.seconds] for o in found]))
