"""`sync`: make a Sax cell serve exactly the models of a models file. The stack's publishing Job runs it on every
`pulumi up`; the stack owns the cell, so a model of the cell that the file does not list is unpublished.

The models file (JSON):

    {"cell": "/sax/test",
     "models": [{"model": "/sax/test/spmd", "model_path": "saxml.server.pax.lm.params.lm_cloud.LmCloudSpmd175B32Test",
                 "checkpoint": "None", "replicas": 2}]}

For each model: missing -> publish; another model path or checkpoint -> republish (unpublish, then publish: Sax's
update cannot change them); another replica count -> update; else unchanged. Unpublishing comes first, so the
TPU hosts it frees can serve what is published next. A second run with the same file changes nothing.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from .api import Outcome, SaxmlHttpClient

_MODEL_KEYS = ("model", "model_path", "checkpoint", "replicas")


class ModelsFileError(ValueError):
    """The models file is unreadable or malformed; the message names the file, the key and what is wrong."""


@dataclass(frozen=True)
class ModelSpec:
    """A model as published: its name, registry path, checkpoint and requested replica count."""

    model: str
    model_path: str
    checkpoint: str
    replicas: int


@dataclass(frozen=True)
class ModelsFile:
    cell: str
    models: tuple[ModelSpec, ...]


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ModelsFileError(f"{where}: must be a non-empty string, got {json.dumps(value)}")
    return value


def parse_models_file(data: Any, source: str) -> ModelsFile:
    """Checks the structure of a models file's content; Sax's naming rules are the HTTP server's to check."""
    if not isinstance(data, dict):
        raise ModelsFileError(f"{source}: must be a JSON object with keys cell and models")
    unknown = sorted(set(data) - {"cell", "models"})
    if unknown:
        raise ModelsFileError(f"{source}: unknown key {unknown[0]!r} (allowed: cell, models)")
    cell = _string(data.get("cell"), f"{source}: cell").rstrip("/")
    entries = data.get("models")
    if not isinstance(entries, list):
        raise ModelsFileError(f"{source}: models: must be a list, got {json.dumps(entries)}")
    models: list[ModelSpec] = []
    for index, entry in enumerate(entries):
        where = f"{source}: models[{index}]"
        if not isinstance(entry, dict):
            raise ModelsFileError(f"{where}: must be an object with keys {', '.join(_MODEL_KEYS)}")
        unknown = sorted(set(entry) - set(_MODEL_KEYS))
        if unknown:
            raise ModelsFileError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(_MODEL_KEYS)})")
        missing = [key for key in _MODEL_KEYS if key not in entry]
        if missing:
            raise ModelsFileError(f"{where}: {missing[0]} is required")
        replicas = entry["replicas"]
        if type(replicas) is not int or replicas < 0:
            raise ModelsFileError(f"{where}.replicas: must be a whole number, 0 or more, got {json.dumps(replicas)}")
        spec = ModelSpec(
            model=_string(entry["model"], f"{where}.model"),
            model_path=_string(entry["model_path"], f"{where}.model_path"),
            checkpoint=_string(entry["checkpoint"], f"{where}.checkpoint"),
            replicas=replicas,
        )
        if spec.model.rsplit("/", 1)[0] != cell:
            raise ModelsFileError(f"{where}.model: {spec.model} is not in cell {cell}")
        if any(other.model == spec.model for other in models):
            raise ModelsFileError(f"{where}.model: {spec.model} is listed twice")
        models.append(spec)
    return ModelsFile(cell, tuple(models))


def load_models_file(path: Path) -> ModelsFile:
    try:
        text = path.read_text()
    except OSError as error:
        raise ModelsFileError(f"models file {path}: cannot read it ({error.strerror or error})") from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelsFileError(f"models file {path}: not JSON ({error})") from error
    return parse_models_file(data, f"models file {path}")


class Action(Enum):
    UNPUBLISH = "unpublish"
    REPUBLISH = "republish"
    UPDATE = "update"
    PUBLISH = "publish"


@dataclass(frozen=True)
class Step:
    action: Action
    model: str
    spec: ModelSpec | None  # what to publish or update to; None to unpublish
    reason: str


def plan(desired: ModelsFile, current: Mapping[str, ModelSpec]) -> list[Step]:
    """The steps that turn `current` (the cell's published models) into `desired`, unpublishing first."""
    wanted = {spec.model: spec for spec in desired.models}
    steps = [
        Step(Action.UNPUBLISH, model, None, "not in the models file") for model in sorted(set(current) - set(wanted))
    ]
    later: list[Step] = []
    for spec in desired.models:
        published = current.get(spec.model)
        if published is None:
            later.append(Step(Action.PUBLISH, spec.model, spec, f"{spec.replicas} replicas"))
        elif (published.model_path, published.checkpoint) != (spec.model_path, spec.checkpoint):
            changes = [
                f"{name} {before} -> {after}"
                for name, before, after in (
                    ("model path", published.model_path, spec.model_path),
                    ("checkpoint", published.checkpoint, spec.checkpoint),
                )
                if before != after
            ]
            steps.append(Step(Action.REPUBLISH, spec.model, spec, ", ".join(changes)))
        elif published.replicas != spec.replicas:
            steps.append(Step(Action.UPDATE, spec.model, spec, f"replicas {published.replicas} -> {spec.replicas}"))
    # Republish and update before publishing new models: they hold TPU hosts already.
    return steps + later


_DONE = {
    Action.UNPUBLISH: "unpublished",
    Action.REPUBLISH: "republished",
    Action.UPDATE: "updated",
    Action.PUBLISH: "published",
}


def describe(step: Step, dry_run: bool = False) -> str:
    """One line for a step: `published /sax/test/spmd: 2 replicas`, or `would publish ...` in a dry run."""
    verb = f"would {step.action.value}" if dry_run else _DONE[step.action]
    return f"{verb} {step.model}: {step.reason}"


@dataclass
class SyncReport:
    cell: str
    dry_run: bool
    steps: list[Step] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        dry = " (dry run)" if self.dry_run else ""
        if not self.steps:
            count = len(self.unchanged)
            return f"sync {self.cell}{dry}: nothing to change ({count} model{'s' * (count != 1)} up to date)"
        counts = ", ".join(f"{sum(step.action is action for step in self.steps)} {_DONE[action]}" for action in Action)
        return f"sync {self.cell}{dry}: {counts}, {len(self.unchanged)} unchanged"

    def as_json(self) -> dict[str, Any]:
        return {
            "cell": self.cell,
            "dry_run": self.dry_run,
            "steps": [
                {"action": step.action.value, "model": step.model, "reason": step.reason}
                | ({"spec": asdict(step.spec)} if step.spec else {})
                for step in self.steps
            ],
            "unchanged": self.unchanged,
        }


def published_models(client: SaxmlHttpClient, models: list[str]) -> dict[str, ModelSpec]:
    """What the cell serves now, from GET /listcell of each model (max_replicas is the requested count)."""
    current = {}
    for model in models:
        detail = client.listcell(model)
        current[model] = ModelSpec(model, detail["model_path"], detail["checkpoint"], int(detail["max_replicas"]))
    return current


def _retriable_or_unpublishing(outcome: Outcome) -> bool:
    # Sax answers 409 ("being unpublished, please retry later") while the model servers unload a model it has just
    # unpublished.
    return outcome.retriable() or outcome.status == 409


def apply_step(client: SaxmlHttpClient, step: Step, republish_patience_s: float) -> None:
    if step.action in (Action.UNPUBLISH, Action.REPUBLISH):
        client.unpublish(step.model)
    spec = step.spec
    if spec is None:
        return
    if step.action is Action.UPDATE:
        client.update(spec.model, spec.model_path, spec.checkpoint, spec.replicas)
    elif step.action is Action.PUBLISH:
        client.publish(spec.model, spec.model_path, spec.checkpoint, spec.replicas)
    else:
        client.request(
            "POST", "/publish", asdict(spec), retry_on=_retriable_or_unpublishing, patience_s=republish_patience_s
        )


def sync(
    client: SaxmlHttpClient,
    desired: ModelsFile,
    *,
    wait_s: float | None = None,
    republish_patience_s: float = 600.0,
    dry_run: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> SyncReport:
    """Brings the cell to `desired`, reporting each step through `progress` once done. With `wait_s`, first waits up
    to that long for the server and the cell. Raises RequestFailed when a call fails (the steps before it are done)."""
    models = client.listall(desired.cell) if wait_s is None else client.wait_until_ready(desired.cell, wait_s)
    steps = plan(desired, published_models(client, models))
    changed = {step.model for step in steps}
    unchanged = [spec.model for spec in desired.models if spec.model not in changed]
    for step in steps:
        if not dry_run:
            apply_step(client, step, republish_patience_s)
        progress(describe(step, dry_run))
    return SyncReport(desired.cell, dry_run, steps, unchanged)
