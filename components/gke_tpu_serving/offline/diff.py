"""The offline diff: what a new `--json` document adds, deletes, updates or replaces against an older one, written
for a reviewer (short names, list items by name, embedded documents field by field, replace vs update)."""

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from .cost import CostDelta, cost_delta, pool_costs
from .replacements import Action, classify

_ABSENT = object()
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Options are recorded only when set; for a diff their unset value is the engine's default.
_OPTION_DEFAULTS = {"protect": False, "retainOnDelete": False}
# Embedded documents worth diffing field by field: a ConfigMap's models.json, a RayService's serveConfigV2.
_EMBEDDED_MIN_LENGTH = 2


def _embedded(value: str) -> tuple[str, Any] | None:
    """A JSON or YAML mapping/list inside a string, with its kind; None for plain strings."""
    text = value.strip()
    if len(text) < _EMBEDDED_MIN_LENGTH:
        return None
    if text[0] in "{[":
        try:
            return "json", json.loads(text)
        except ValueError:
            return None
    if "\n" in text and ":" in text:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError:
            return None
        if isinstance(document, dict | list):
            return "yaml", document
    return None


def _item_key(item: Any) -> str | None:
    return item.get("name") if isinstance(item, dict) and isinstance(item.get("name"), str) else None


def _flatten(value: Any, path: str, into: dict[str, Any], *, root: bool = False) -> dict[str, Any]:
    # An empty map is a value of its own, except at the root, where it would show up as a change of its own.
    if isinstance(value, dict) and (value or root):
        for key, item in value.items():
            step = f".{key}" if _IDENTIFIER.fullmatch(key) else f"[{json.dumps(key)}]"
            _flatten(item, f"{path}{step}", into)
    elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
        names = [_item_key(item) for item in value]
        # Named items (env vars, containers, ports, volumes) by name, so inserting one changes one path.
        by_name = None not in names and len(set(names)) == len(names)
        for index, item in enumerate(value):
            _flatten(item, f"{path}[{names[index] if by_name else index}]", into)
    elif isinstance(value, str) and (document := _embedded(value)) is not None:
        kind, parsed = document
        _flatten(parsed, f"{path}{{{kind}}}", into, root=True)
    else:
        # Lists of scalars (args, ports, URNs) read better whole.
        into[path] = value
    return into


def _resource_leaves(resource: Mapping[str, Any]) -> dict[str, Any]:
    leaves: dict[str, Any] = {"parent": resource.get("parent")}
    _flatten(resource.get("inputs") or {}, "inputs", leaves, root=True)
    options = {**_OPTION_DEFAULTS, **(resource.get("options") or {})}
    options.pop("dependsOn", None)
    _flatten(options, "options", leaves, root=True)
    return leaves


def _shown(value: Any, short: Mapping[str, str]) -> str:
    if value is _ABSENT:
        return "(absent)"
    # A URN (a parent, a provider) reads as the resource's short name.
    if isinstance(value, str) and value in short:
        return short[value]
    return json.dumps(value, sort_keys=True)


def _changes(old: dict[str, Any], new: dict[str, Any], short: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(path, "before -> after") for every leaf that differs."""
    lines = []
    for path in sorted(old.keys() | new.keys()):
        before, after = old.get(path, _ABSENT), new.get(path, _ABSENT)
        if before != after:
            shown = [_shown(value, short or {}) for value in (before, after)]
            lines.append((path, f"{shown[0]} -> {shown[1]}"))
    return lines


def short_names(*documents: Mapping[str, Any]) -> dict[str, str]:
    """URN -> `Type name`, or the URN itself where two resources would read the same."""
    seen: dict[str, set[str]] = {}
    for document in documents:
        for resource in document.get("resources", []):
            label = f"{resource.get('type')} {resource.get('name')}" if "type" in resource else resource["urn"]
            seen.setdefault(label, set()).add(resource["urn"])
    return {urn: label if len(urns) == 1 else urn for label, urns in seen.items() for urn in urns}


@dataclass(frozen=True)
class ResourceChange:
    """One resource the plan touches."""

    urn: str
    label: str
    action: str
    """create, delete, update, replace or "update or replace"."""
    symbol: str
    note: str = ""
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanDiff:
    changes: tuple[ResourceChange, ...]
    unchanged: int
    output_lines: tuple[str, ...]
    outputs_changed: tuple[str, ...]
    """The top-level output keys that were added, removed or changed."""
    cost: CostDelta

    def count(self, *actions: str) -> int:
        return sum(1 for change in self.changes if change.action in actions)

    def actions(self) -> dict[str, str]:
        """URN -> action, for the tree."""
        return {change.urn: change.action for change in self.changes}


_REPLACE_SYMBOL = {True: "-+", False: "+-", None: "+-"}


def _edges(old: Mapping[str, Any], new: Mapping[str, Any], short: Mapping[str, str]) -> list[str]:
    before = set((old.get("options") or {}).get("dependsOn") or [])
    after = set((new.get("options") or {}).get("dependsOn") or [])
    lines = [f"dependsOn + {short.get(urn, urn)}" for urn in sorted(after - before)]
    lines += [f"dependsOn - {short.get(urn, urn)}" for urn in sorted(before - after)]
    return lines


def _renamed(old_resources: Mapping[str, Any], new_resources: Mapping[str, Any]) -> dict[str, str]:
    """New URN -> old URN for each new resource whose alias (an earlier name, same type and parent) names an old
    resource that the new plan no longer has: the engine moves that state instead of deleting and creating."""
    renamed = {}
    for urn, resource in new_resources.items():
        if urn in old_resources:
            continue
        for alias in (resource.get("options") or {}).get("aliases", []):
            old_urn = f"{urn.rsplit('::', 1)[0]}::{alias}"
            if old_urn in old_resources and old_urn not in new_resources:
                renamed[urn] = old_urn
                break
    return renamed


def diff_plans(old: Mapping[str, Any], new: Mapping[str, Any]) -> PlanDiff:
    """Every resource the new `--json` document adds, deletes, updates or replaces against the old one."""
    old_resources = {r["urn"]: r for r in old.get("resources", [])}
    new_resources = {r["urn"]: r for r in new.get("resources", [])}
    short = short_names(old, new)
    renamed = _renamed(old_resources, new_resources)
    for new_urn, old_urn in renamed.items():
        old_resources[new_urn] = old_resources.pop(old_urn)
    changes = [ResourceChange(urn, short[urn], "create", "+") for urn in new_resources if urn not in old_resources]
    changes += [ResourceChange(urn, short[urn], "delete", "-") for urn in old_resources if urn not in new_resources]
    unchanged = 0
    for urn in sorted(old_resources.keys() & new_resources.keys()):
        before, after = old_resources[urn], new_resources[urn]
        leaves = [
            (path, change)
            for path, change in _changes(_resource_leaves(before), _resource_leaves(after), short)
            if not path.startswith("options.aliases")
        ]
        edges = _edges(before, after, short)
        if urn in renamed and not leaves and not edges:
            # An alias moves the old state to the new name: nothing is created, deleted or changed.
            old_name = renamed[urn].rsplit("::", 1)[1]
            changes.append(ResourceChange(urn, short[urn], Action.UPDATE, "~", f"renamed from {old_name}, by alias"))
            continue
        if not leaves and not edges:
            unchanged += 1
            continue
        verdict = classify(
            str(after.get("type", "")),
            [path for path, _ in leaves if path.startswith("inputs.")],
            before.get("inputs") or {},
            after.get("inputs") or {},
        )
        if verdict.action == Action.REPLACE and (after.get("options") or {}).get("deleteBeforeReplace"):
            # The program asked for it (a resource with a fixed name cannot exist twice).
            verdict = dataclasses.replace(verdict, delete_first=True)
        if verdict.action == Action.REPLACE:
            symbol = _REPLACE_SYMBOL[verdict.delete_first]
        else:
            symbol = "~?" if verdict.action == Action.UNKNOWN else "~"
        note = verdict.describe() if verdict.action != Action.UPDATE else ""
        lines = tuple(f"{path}: {change}" for path, change in leaves) + tuple(edges)
        changes.append(ResourceChange(urn, short[urn], verdict.action, symbol, note, lines))
    old_outputs = old.get("outputs") or {}
    new_outputs = new.get("outputs") or {}
    output_lines = tuple(
        f"{path}: {change}"
        for path, change in _changes(
            _flatten(old_outputs, "outputs", {}, root=True), _flatten(new_outputs, "outputs", {}, root=True)
        )
    )
    changed_keys = tuple(
        sorted(
            key
            for key in old_outputs.keys() | new_outputs.keys()
            if old_outputs.get(key, _ABSENT) != new_outputs.get(key, _ABSENT)
        )
    )
    return PlanDiff(tuple(changes), unchanged, output_lines, changed_keys, cost_delta(pool_costs(old), pool_costs(new)))


def render_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """Created, deleted, updated and replaced resources between two `--json` documents, then stack outputs,
    the change in accelerators, and a summary. Symbols as in `pulumi preview`: `+` create, `-` delete, `~` update,
    `+-` replace (create the new one first), `-+` replace (delete the old one first), `~?` update or replace."""
    plan = diff_plans(old, new)
    report = []
    for change in plan.changes:
        head = f"{change.symbol} {change.label}"
        report.append(f"{head}  ({change.note})" if change.note else head)
        report += [f"    {line}" for line in change.lines]
    report += [f"~ {line}" for line in plan.output_lines]
    report.append(f"Accelerators: {plan.cost.describe()}")
    report.append(
        f"Resources: {plan.count('create')} added, {plan.count('delete')} removed, "
        f"{plan.count('update', 'replace', Action.UNKNOWN)} changed ({plan.count('replace')} replaced, "
        f"{plan.count(Action.UNKNOWN)} update or replace), {plan.unchanged} unchanged;"
        f" outputs: {len(plan.outputs_changed)} changed"
    )
    return "\n".join(report) + "\n"
