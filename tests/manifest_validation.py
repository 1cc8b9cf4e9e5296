"""Validation of rendered Kubernetes objects against real schemas: the kinds Kubernetes itself serves with
kubernetes-validate, custom resources with jsonschema against their upstream CRD schemas, strictly (unknown fields are
errors, as with the API server's strict field validation). The CRD schemas are the files pinned in
tests/crds/sources.json, read from the directory scripts/fetch_crds.py's `crd_dir()` names."""

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from scripts.fetch_crds import crd_dir, load_sources, read_pinned

KUBERNETES_VERSION = "1.33"
_CORE_DEFINITIONS = (
    Path(kubernetes_validate.__file__).parent
    / "kubernetes-json-schema"
    / f"v{KUBERNETES_VERSION}.0-local-strict"
    / "_definitions.json"
)


class NoSchemaError(LookupError):
    """A custom resource of a kind that no pinned CRD schema defines."""


@functools.cache
def core_kinds() -> frozenset[tuple[str, str]]:
    """(apiVersion, kind) of every kind Kubernetes KUBERNETES_VERSION serves itself, from kubernetes-validate's own
    definitions: anything else is a custom resource, which only its CRD can validate."""
    definitions = json.loads(_CORE_DEFINITIONS.read_text())["$defs"]
    return frozenset(
        (f"{gvk['group']}/{gvk['version']}".lstrip("/"), gvk["kind"])
        for definition in definitions.values()
        for gvk in definition.get("x-kubernetes-group-version-kind", [])
    )


def strict(schema: Any) -> Any:
    """The schema with `additionalProperties: false` on every object schema that lists properties and does not
    preserve unknown fields: what the API server's strict field validation enforces, and CRDs do not say."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema.setdefault("additionalProperties", False)
        return schema
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the strict JSON schema of a whole object (its metadata left open: the API server's
    ObjectMeta), for every file in tests/crds/sources.json: each version of a full CRD (.yaml), made strict here; a
    bare openAPIV3Schema (.json), already strict, as it is."""
    directory = crd_dir()
    schemas = {}
    for name, source in load_sources().items():
        content = read_pinned(directory, name, source)
        if name.endswith(".json"):
            schemas[(source["apiVersion"], source["kind"])] = json.loads(content)
            continue
        # libyaml: the pure-Python loader takes ~14 s for these 3.5 MB of CRDs, libyaml under 1 s.
        crd = yaml.load(content, Loader=yaml.CSafeLoader)
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schemas[(f"{group}/{version['name']}", kind)] = strict(version["schema"]["openAPIV3Schema"])
    return schemas


def validate_custom_resource(manifest: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError if `manifest` does not fit its CRD schema (NoSchemaError if none is pinned)."""
    key = (manifest["apiVersion"], manifest["kind"])
    if key not in crd_schemas():
        raise NoSchemaError(f"no CRD schema for {key[0]} {key[1]} in tests/crds/sources.json")
    jsonschema.Draft7Validator(crd_schemas()[key]).validate(manifest)


def validate_manifest(manifest: dict[str, Any]) -> None:
    """Validate one rendered object: a kind of Kubernetes itself with kubernetes-validate, any other against its CRD."""
    if (manifest["apiVersion"], manifest["kind"]) in core_kinds():
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    else:
        validate_custom_resource(manifest)
