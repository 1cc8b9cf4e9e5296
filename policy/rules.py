"""Every policy of the pack, in the order the CLI reports them. Importing this builds no `PolicyPack`."""

from pulumi_policy import Policy, ResourceValidationPolicy

from . import (
    disruption_rules,
    exposure_rules,
    gke_rules,
    iam_rules,
    integrity_rules,
    kubernetes_rules,
    ray_rules,
    storage_rules,
)

ALL_POLICIES: list[Policy] = [
    *gke_rules.POLICIES,
    *iam_rules.POLICIES,
    *storage_rules.POLICIES,
    *kubernetes_rules.POLICIES,
    *ray_rules.POLICIES,
    *integrity_rules.POLICIES,
    *disruption_rules.POLICIES,
    *exposure_rules.POLICIES,
]
"""A list, as `PolicyPack(policies=...)` requires."""

RESOURCE_POLICIES: list[Policy] = [policy for policy in ALL_POLICIES if isinstance(policy, ResourceValidationPolicy)]
"""The per-resource policies: what a component's own resources must pass, without the plan around them that the
stack policies (plan-integrity, kubernetes-disruption-budgets, kubernetes-authenticated-exposure) look at."""
