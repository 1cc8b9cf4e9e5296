"""The plan integrity checks (`gke_tpu_serving.k8s.integrity`) over an offline preview."""

from typing import Any

from gke_tpu_serving.k8s.integrity import IntegrityViolation, PlanResource, check_plan
from gke_tpu_serving.k8s.platform_objects import UNKNOWN as PLAN_UNKNOWN

from .model import UNKNOWN, PreviewResult


def _plain(value: Any) -> Any:
    """The preview's "[unknown]" stand-in as the checks' UNKNOWN, everything else as it is."""
    if value == UNKNOWN:
        return PLAN_UNKNOWN
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def plan_resources(result: PreviewResult) -> list[PlanResource]:
    """Every recorded resource, as the integrity checks read it."""
    return [
        PlanResource(r.urn, r.type, r.name, r.parent, r.options.get("provider"), _plain(r.inputs))
        for r in result.resources
    ]


def integrity_violations(result: PreviewResult) -> list[IntegrityViolation]:
    """Every integrity violation of the preview's plan."""
    return check_plan(plan_resources(result))
