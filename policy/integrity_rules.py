"""Plan integrity as a stack policy: the checks of `gke_tpu_serving.k8s.integrity` (the same functions the offline
preview runs) over every resource of the stack, so a real `pulumi preview --policy-pack policy` refuses a Service
that selects nothing, a route to nothing, a pod referencing a missing Secret or selecting no node pool, and the rest.

Under the CLI a stack policy sees every resource the program registers (components and providers included, and the
objects of provider-side ConfigFiles and Charts, which the offline preview cannot see), with their outputs; values
unknown during preview match anything.
"""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs, StackValidationPolicy

from gke_tpu_serving.k8s.integrity import RULES, PlanResource, check_plan
from gke_tpu_serving.k8s.platform_objects import UNKNOWN

from ._props import at, elements, is_sequence, is_unknown, keys


def _plain(value: Any) -> Any:
    """A props proxy as plain dicts and lists, every unknown value (at any depth) as the checks' UNKNOWN."""
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, Mapping):
        found = keys(value)
        return UNKNOWN if is_unknown(found) else {key: _plain(at(value, key)) for key in sorted(found)}  # type: ignore[arg-type]
    if is_sequence(value):
        return [_plain(item) for item in elements(value)]
    return value


def plan_resource(resource: PolicyResource) -> PlanResource:
    """A stack policy's resource as the integrity checks read it."""
    return PlanResource(
        resource.urn,
        resource.resource_type,
        resource.name,
        resource.opts.parent or (resource.parent.urn if resource.parent else None),
        resource.provider.urn if resource.provider else None,
        _plain(resource.props),
    )


def _validate(args: StackValidationArgs, report: ReportViolation) -> None:
    for violation in check_plan([plan_resource(resource) for resource in args.resources]):
        report(f"{violation.message} ({violation.rule})", violation.urn)


PLAN_INTEGRITY = StackValidationPolicy(
    name="plan-integrity",
    description="References across the plan resolve: " + "; ".join(RULES.values()) + ".",
    validate=_validate,
)

POLICIES = [PLAN_INTEGRITY]
