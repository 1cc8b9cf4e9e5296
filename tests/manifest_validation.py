"""Validation of rendered Kubernetes objects against real schemas: core kinds with kubernetes-validate, custom
resources with jsonschema against the upstream CRDs in ../shared/crds/, strictly (unknown fields are errors, as with
the API server's strict field validation)."""

import copy
import functools
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

KUBERNETES_VERSION = "1.33"
CRD_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "crds"


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
def _crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the strict openAPIV3Schema of every CRD version in ../shared/crds/."""
    schemas = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        # libyaml: the pure-Python loader takes ~14 s for these 3.5 MB of CRDs, libyaml under 1 s.
        crd = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schemas[(f"{group}/{version['name']}", kind)] = strict(version["schema"]["openAPIV3Schema"])
    return schemas


def validate_custom_resource(manifest: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError if `manifest` does not fit its CRD (KeyError if no CRD is known)."""
    schema = _crd_schemas()[(manifest["apiVersion"], manifest["kind"])]
    # metadata is the API server's ObjectMeta, not part of the CRD schema.
    jsonschema.Draft7Validator(schema).validate({k: v for k, v in manifest.items() if k != "metadata"})


def validate_manifest(manifest: dict[str, Any]) -> None:
    """Validate one rendered object: a custom resource against its CRD, anything else with kubernetes-validate."""
    if (manifest["apiVersion"], manifest["kind"]) in _crd_schemas():
        validate_custom_resource(copy.deepcopy(manifest))
    else:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
