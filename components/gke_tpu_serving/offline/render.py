"""Human-readable views of a preview: the `pulumi preview` tree, Kubernetes manifests, and a diff."""

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from gke_tpu_serving.k8s.integrity import PROVIDER_SIDE_KUBERNETES_TYPES

from .model import SECRET, UNKNOWN, PreviewResult, RecordedResource

_MANIFEST_MARKER = "# Pulumi resource: "
_README = "README.txt"


def _show(value: Any) -> str:
    if value in (SECRET, UNKNOWN):
        return str(value)
    return json.dumps(value, sort_keys=True)


def _option_notes(resource: RecordedResource) -> str:
    return ", ".join(key for key in ("protect", "retainOnDelete") if resource.options.get(key))


_TREE_PLAN = {
    "create": (" +  ", "create"),
    "update": (" ~  ", "update"),
    "replace": (" +- ", "replace"),
    "update or replace": (" ~? ", "update?"),
    None: ("    ", ""),
}


def render_tree(result: PreviewResult, actions: Mapping[str, str] | None = None, deleted: int = 0) -> str:
    """The resource tree and summary as `pulumi preview` prints them: for a first deployment, or, given each
    changed resource's action (URN -> create/update/replace/"update or replace") from a diff, for that diff
    (`deleted` resources are not in the tree; the summary counts them)."""
    known = {r.urn for r in result.resources}
    children: dict[str | None, list[RecordedResource]] = {}
    for resource in result.resources:
        parent = resource.parent if resource.parent in known else None
        children.setdefault(parent, []).append(resource)

    rows: list[tuple[str, str, str, str | None]] = []

    def action(resource: RecordedResource) -> str | None:
        return "create" if actions is None else actions.get(resource.urn)

    def walk(parent: str, prefix: str) -> None:
        kids = children.get(parent, [])
        for index, kid in enumerate(kids):
            last = index == len(kids) - 1
            rows.append((f"{prefix}{'└─ ' if last else '├─ '}{kid.type}", kid.name, _option_notes(kid), action(kid)))
            walk(kid.urn, prefix + ("   " if last else "│  "))

    for root in children.get(None, []):
        rows.append((root.type, root.name, _option_notes(root), action(root)))
        walk(root.urn, "")

    type_width = max([len("Type"), *(len(row[0]) for row in rows)])
    name_width = max([len("Name"), *(len(row[1]) for row in rows)])
    lines = [
        f"Previewing update ({result.project}/{result.stack}), offline under Pulumi mocks:",
        "",
        f"     {'Type':<{type_width}}  {'Name':<{name_width}}  Plan    Info",
    ]
    lines += [
        f"{_TREE_PLAN[plan][0]} {kind:<{type_width}}  {name:<{name_width}}  {_TREE_PLAN[plan][1]:<7} {notes}".rstrip()
        for kind, name, notes, plan in rows
    ]
    if result.outputs:
        key_width = max(len(key) for key in result.outputs)
        lines += ["", "Outputs:"]
        lines += [f"    {key:<{key_width}}: {_show(value)}" for key, value in result.outputs.items()]
    lines += ["", "Resources:"]
    if actions is None:
        lines.append(f"    + {len(result.resources)} to create")
    else:
        counts = [(plan, sum(1 for row in rows if row[3] == plan)) for plan in ("create", "update", "replace")]
        counts.append(("update or replace", sum(1 for row in rows if row[3] == "update or replace")))
        symbols = {"create": "+", "update": "~", "replace": "+-", "update or replace": "~?"}
        lines += [f"    {symbols[plan]} {count} to {plan}" for plan, count in counts if count]
        if deleted:
            lines.append(f"    - {deleted} to delete")
        lines.append(f"    {sum(1 for row in rows if row[3] is None)} unchanged")
    if result.warnings:
        # Where `pulumi preview` prints them: under Diagnostics, after the summary.
        lines += ["", "Diagnostics:", *(f"    warning: {message}" for message in result.warnings)]
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
