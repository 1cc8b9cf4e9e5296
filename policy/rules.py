"""Every policy of the pack, in the order the CLI reports them. Importing this builds no `PolicyPack`."""

from pulumi_policy import Policy

from . import gke_rules, iam_rules, integrity_rules, kubernetes_rules, ray_rules, storage_rules

ALL_POLICIES: list[Policy] = [
    *gke_rules.POLICIES,
    *iam_rules.POLICIES,
    *storage_rules.POLICIES,
    *kubernetes_rules.POLICIES,
    *ray_rules.POLICIES,
    *integrity_rules.POLICIES,
]
"""A list, as `PolicyPack(policies=...)` requires."""
