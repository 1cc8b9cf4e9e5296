"""Google Cloud IAM grants: no basic roles, no public principals, no storage roles above the bucket."""

import json
from collections.abc import Iterator
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ._props import UNKNOWN, at, elements, is_unknown, subject, text

BASIC_ROLES = ("roles/owner", "roles/editor")
PUBLIC_PRINCIPALS = ("allUsers", "allAuthenticatedUsers")
# IAM resources of these modules grant on a whole project, folder or organization.
_HIERARCHY_SCOPES = {"projects": "project", "folder": "folder", "organizations": "organization"}


def _iam_form(resource_type: str) -> str | None:
    """member, binding or policy for a Google Cloud IAM resource (any of them: project, bucket, ...), else None."""
    if not resource_type.startswith("gcp:"):
        return None
    kind = resource_type.rsplit(":", 1)[-1].lower()
    for form in ("member", "binding", "policy"):
        if kind.endswith(f"iam{form}"):
            return form
    return None


def _scope(resource_type: str) -> str | None:
    """project, folder or organization when the resource grants on that whole level of the hierarchy."""
    module = resource_type.split(":")[1].split("/")[0] if resource_type.count(":") == 2 else ""
    return _HIERARCHY_SCOPES.get(module) if _iam_form(resource_type) else None


def _grants(args: ResourceValidationArgs) -> Iterator[tuple[Any, list[Any]]]:
    """(role, members) of every grant the resource makes; unknown parts come as UNKNOWN."""
    form = _iam_form(args.resource_type)
    if form == "member":
        yield at(args.props, "role"), [at(args.props, "member")]
    elif form == "binding":
        yield at(args.props, "role"), elements(at(args.props, "members"))
    elif form == "policy":
        data = text(at(args.props, "policyData"))
        if data is None:
            return
        try:
            policy = json.loads(data)
        except ValueError:
            return
        bindings = policy.get("bindings") if isinstance(policy, dict) else None
        for binding in bindings if isinstance(bindings, list) else []:
            if isinstance(binding, dict):
                members = binding.get("members")
                yield binding.get("role", UNKNOWN), list(members) if isinstance(members, list) else []


def validate_no_hierarchy_storage_roles(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    scope = _scope(args.resource_type)
    if scope is None:
        return
    for role, _ in _grants(args):
        if isinstance(role, str) and role.startswith("roles/storage."):
            report_violation(
                f"{subject(args)} grants {role} on the whole {scope}; grant it on the bucket instead (a "
                "gcp.storage.BucketIAMMember, as GcsFuseBucket's grants do), so the member reaches only that "
                "bucket's objects.",
                None,
            )


def validate_no_basic_roles(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for role, _ in _grants(args):
        if role in BASIC_ROLES:
            report_violation(
                f"{subject(args)} grants the basic role {role}; grant the predefined roles the member needs instead "
                "(basic roles reach nearly every service of the project).",
                None,
            )


def validate_no_public_principals(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for role, members in _grants(args):
        shown_role = role if isinstance(role, str) and not is_unknown(role) else "a role"
        for member in members:
            if member in PUBLIC_PRINCIPALS:
                report_violation(
                    f"{subject(args)} grants {shown_role} to {member}, which makes it public; grant it to specific "
                    "principals (a service account or a Workload Identity principal) instead.",
                    None,
                )


POLICIES = [
    ResourceValidationPolicy(
        "iam-no-project-level-storage-roles",
        "No roles/storage.* grant on a project, folder or organization: storage roles belong on buckets.",
        validate=validate_no_hierarchy_storage_roles,
    ),
    ResourceValidationPolicy(
        "iam-no-basic-roles",
        "No IAM resource grants roles/owner or roles/editor.",
        validate=validate_no_basic_roles,
    ),
    ResourceValidationPolicy(
        "iam-no-public-principals",
        "No IAM resource grants anything to allUsers or allAuthenticatedUsers.",
        validate=validate_no_public_principals,
    ),
]
