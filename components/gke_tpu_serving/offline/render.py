"""Human-readable views of a preview: the `pulumi preview` tree, Kubernetes manifests, and a diff."""

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .model import SECRET, UNKNOWN, PreviewResult, RecordedResource

# Kubernetes resources whose objects the provider renders itself (from files, charts or an inline list):
# under mocks they are one opaque resource, so there is no manifest to write for them.
PROVIDER_SIDE_KUBERNETES_TYPES = {
    "kubernetes:yaml/v2:ConfigGroup",
    "kubernetes:yaml/v2:ConfigFile",
    "kubernetes:helm.sh/v4:Chart",
    "kubernetes:helm.sh/v3:Release",
    "kubernetes:kustomize/v2:Directory",
}

_MANIFEST_MARKER = "# Pulumi resource: "
_README = "README.txt"


def _show(value: Any) -> str:
    if value in (SECRET, UNKNOWN):
        return str(value)
    return json.dumps(value, sort_keys=True)


def _option_notes(resource: RecordedResource) -> str:
    return ", ".join(key for key in ("protect", "retainOnDelete") if resource.options.get(key))


def render_tree(result: PreviewResult) -> str:
    """The resource tree and summary as `pulumi preview` prints them for a first deployment."""
    known = {r.urn for r in result.resources}
    children: dict[str | None, list[RecordedResource]] = {}
    for resource in result.resources:
        parent = resource.parent if resource.parent in known else None
        children.setdefault(parent, []).append(resource)

    rows: list[tuple[str, str, str]] = []

    def walk(parent: str, prefix: str) -> None:
        kids = children.get(parent, [])
        for index, kid in enumerate(kids):
            last = index == len(kids) - 1
            rows.append((f"{prefix}{'└─ ' if last else '├─ '}{kid.type}", kid.name, _option_notes(kid)))
            walk(kid.urn, prefix + ("   " if last else "│  "))

    for root in children.get(None, []):
        rows.append((root.type, root.name, _option_notes(root)))
        walk(root.urn, "")

    type_width = max([len("Type"), *(len(row[0]) for row in rows)])
    name_width = max([len("Name"), *(len(row[1]) for row in rows)])
    lines = [
        f"Previewing update ({result.project}/{result.stack}), offline under Pulumi mocks:",
        "",
        f"     {'Type':<{type_width}}  {'Name':<{name_width}}  Plan    Info",
    ]
    lines += [
        f" +   {kind:<{type_width}}  {name:<{name_width}}  create  {notes}".rstrip() for kind, name, notes in rows
    ]
    if result.outputs:
        key_width = max(len(key) for key in result.outputs)
        lines += ["", "Outputs:"]
        lines += [f"    {key:<{key_width}}: {_show(value)}" for key, value in result.outputs.items()]
    lines += ["", "Resources:", f"    + {len(result.resources)} to create"]
    if result.stood_in_secrets:
        lines += [
            "",
            "Secrets stood in for (set them before `pulumi up`, e.g. `pulumi config set --secret KEY ...`):",
            *(f"    {key}" for key in result.stood_in_secrets),
        ]
    return "\n".join(lines) + "\n"


def _is_manifest(resource: RecordedResource) -> bool:
    return (
        resource.custom
        and resource.type.startswith("kubernetes:")
        and resource.type not in PROVIDER_SIDE_KUBERNETES_TYPES
        # Server-side-apply patches are partial objects owned elsewhere, not manifests.
        and not resource.type.endswith("Patch")
    )


def _manifest(resource: RecordedResource) -> tuple[dict[str, Any], bool]:
    """The object as `kubectl apply` would take it, and whether its name had to be made up."""
    _, group_version, kind = resource.type.split(":", 2)
    api_version = group_version.removeprefix("core/")
    metadata = dict(resource.inputs.get("metadata") or {})
    auto_named = not metadata.get("name") and not metadata.get("generateName")
    if auto_named:
        metadata["name"] = resource.name
    manifest: dict[str, Any] = {
        # Custom resources carry their own apiVersion/kind; typed ones match the type token.
        "apiVersion": resource.inputs.get("apiVersion") or api_version,
        "kind": resource.inputs.get("kind") or kind,
        "metadata": metadata,
    }
    manifest.update({k: v for k, v in resource.inputs.items() if k not in manifest})
    return manifest, auto_named


def kubernetes_manifests(result: PreviewResult) -> list[dict[str, Any]]:
    """Every Kubernetes object the program declares, as a complete manifest (secrets stay "[secret]")."""
    return [_manifest(r)[0] for r in result.resources if _is_manifest(r)]


def _file_stem(*parts: str) -> str:
    return re.sub(r"[^a-z0-9.-]+", "-", "-".join(p for p in parts if p).lower()).strip("-")


def _not_written(result: PreviewResult) -> list[tuple[RecordedResource, str]]:
    skipped = []
    for resource in result.resources:
        if not resource.type.startswith("kubernetes:") or _is_manifest(resource):
            continue
        if resource.type in PROVIDER_SIDE_KUBERNETES_TYPES:
            reason = "the provider renders its objects; they are not visible offline"
        elif resource.type.endswith("Patch"):
            reason = "a partial patch of an object managed elsewhere"
        else:
            reason = "a component; its children are written individually"
        skipped.append((resource, reason))
    return skipped


def write_manifests(result: PreviewResult, out_dir: Path) -> list[Path]:
    """Write one YAML file per Kubernetes object, plus README.txt naming what could not be written.

    Files from an earlier run (recognised by their header line) are removed first so none goes stale.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.yaml"):
        with old.open() as handle:
            if handle.readline().startswith(_MANIFEST_MARKER):
                old.unlink()

    written: list[Path] = []
    for resource in result.resources:
        if not _is_manifest(resource):
            continue
        manifest, auto_named = _manifest(resource)
        metadata = manifest["metadata"]
        stem = _file_stem(str(manifest["kind"]), str(metadata.get("namespace") or ""), str(metadata["name"]))
        # The same object can be declared once per cluster (one provider each): keep both files.
        path = out_dir / f"{stem}.yaml"
        if path in written:
            path = out_dir / f"{stem}--{_file_stem(resource.name)}.yaml"
        header = [f"{_MANIFEST_MARKER}{resource.urn}"]
        if auto_named:
            header.append(
                f"# metadata.name is not set by the program: Pulumi auto-names it provider-side "
                f"({resource.name}-<random suffix>); this file uses the resource name {resource.name!r}."
            )
        body = yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)
        path.write_text("\n".join(header) + "\n" + body)
        written.append(path)

    readme = [f"{len(written)} Kubernetes manifests for stack {result.project}/{result.stack}."]
    skipped = _not_written(result)
    if skipped:
        readme.append("Not written:")
        readme += [f"  {r.type}  {r.name}: {reason}" for r, reason in skipped]
    (out_dir / _README).write_text("\n".join(readme) + "\n")
    return written


_ABSENT = object()
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Options are recorded only when set; for a diff their unset value is the engine's default.
_OPTION_DEFAULTS = {"protect": False, "retainOnDelete": False}


def _flatten(value: Any, path: str, into: dict[str, Any], *, root: bool = False) -> dict[str, Any]:
    # An empty map is a value of its own, except at the root, where it would show up as a change of its own.
    if isinstance(value, dict) and (value or root):
        for key, item in value.items():
            step = f".{key}" if _IDENTIFIER.fullmatch(key) else f"[{json.dumps(key)}]"
            _flatten(item, f"{path}{step}", into)
    elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
        for index, item in enumerate(value):
            _flatten(item, f"{path}[{index}]", into)
    else:
        # Lists of scalars (args, ports, URNs) read better whole.
        into[path] = value
    return into


def _resource_leaves(resource: Mapping[str, Any]) -> dict[str, Any]:
    leaves: dict[str, Any] = {"parent": resource.get("parent")}
    _flatten(resource.get("inputs") or {}, "inputs", leaves, root=True)
    _flatten({**_OPTION_DEFAULTS, **(resource.get("options") or {})}, "options", leaves, root=True)
    return leaves


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    lines = []
    for path in sorted(old.keys() | new.keys()):
        before, after = old.get(path, _ABSENT), new.get(path, _ABSENT)
        if before != after:
            shown = ["(absent)" if v is _ABSENT else json.dumps(v, sort_keys=True) for v in (before, after)]
            lines.append(f"{path}: {shown[0]} -> {shown[1]}")
    return lines


def render_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """Added, removed and changed resources (by URN) between two `--json` documents, then stack outputs."""
    old_resources = {r["urn"]: r for r in old.get("resources", [])}
    new_resources = {r["urn"]: r for r in new.get("resources", [])}
    added = sorted(new_resources.keys() - old_resources.keys())
    removed = sorted(old_resources.keys() - new_resources.keys())
    changed: list[tuple[str, list[str]]] = []
    for urn in sorted(old_resources.keys() & new_resources.keys()):
        lines = _changes(_resource_leaves(old_resources[urn]), _resource_leaves(new_resources[urn]))
        if lines:
            changed.append((urn, lines))
    output_changes = _changes(
        _flatten(old.get("outputs") or {}, "outputs", {}, root=True),
        _flatten(new.get("outputs") or {}, "outputs", {}, root=True),
    )

    report = [f"+ {urn}" for urn in added] + [f"- {urn}" for urn in removed]
    for urn, lines in changed:
        report.append(f"~ {urn}")
        report += [f"    {line}" for line in lines]
    report += [f"~ {line}" for line in output_changes]
    unchanged = len(old_resources.keys() & new_resources.keys()) - len(changed)
    report.append(
        f"Resources: {len(added)} added, {len(removed)} removed, {len(changed)} changed, {unchanged} unchanged;"
        f" outputs: {len(output_changes)} changed"
    )
    return "\n".join(report) + "\n"
