"""Disruption budgets as a stack policy: `gke_tpu_serving.k8s.disruption_budgets` over every resource of the stack,
so a serving Deployment, StatefulSet or Ray head that no PodDisruptionBudget covers is reported, whether a component
or a hand-written program declared it."""

from pulumi_policy import ReportViolation, StackValidationArgs, StackValidationPolicy

from gke_tpu_serving.k8s.disruption_budgets import check_disruption_budgets

from .integrity_rules import plan_resource


def _validate(args: StackValidationArgs, report: ReportViolation) -> None:
    for violation in check_disruption_budgets([plan_resource(resource) for resource in args.resources]):
        report(violation.message, violation.urn)


DISRUPTION_BUDGETS = StackValidationPolicy(
    name="kubernetes-disruption-budgets",
    description="Every serving workload (a Deployment, StatefulSet or ReplicaSet that a Service selects, and the head "
    "of every RayService and RayCluster) has a PodDisruptionBudget that selects its pods.",
    validate=_validate,
)

POLICIES = [DISRUPTION_BUDGETS]
