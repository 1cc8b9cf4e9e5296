"""Disruption budgets over the whole plan: every serving workload has a PodDisruptionBudget that selects its pods,
so a node drain (an upgrade, a repair, the autoscaler) disrupts it only as far as its component chose. Pure (no Pulumi
import): the policy pack's stack policy `kubernetes-disruption-budgets` calls `check_disruption_budgets`.

A serving workload, as far as a plan shows one: a Deployment, StatefulSet or ReplicaSet whose pods a Service of the
plan selects, and the head of every RayService and RayCluster (the whole Ray cluster shares its fate). Jobs, JobSets
and RayJobs look like batch work to a plan; a serving JobSet (Saxml's model servers) gets its budget from its
component, where tests pin it. A budget selecting with matchExpressions, or with values the preview cannot know,
counts as covering the pods (`pulumi up` checks again with them known).
"""

from collections.abc import Mapping, Sequence
from typing import Any

from gke_tpu_serving.k8s.integrity import (
    IntegrityViolation,
    KubernetesObject,
    PlanResource,
    WorkloadPods,
    kubernetes_clusters,
    selector_matches,
    workload_pods,
)
from gke_tpu_serving.k8s.plan_objects import get_at
from gke_tpu_serving.k8s.platform_objects import UNKNOWN

RULE = "disruption-budgets"
SERVED_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet"})
"""Workloads that serve when a Service selects their pods."""
RAY_CLUSTER_KINDS = frozenset({"RayService", "RayCluster"})
"""KubeRay clusters: their head pod is the serving workload (its loss restarts every worker)."""
RAY_NODE_TYPE_LABEL = "ray.io/node-type"


def _budget_selector(obj: KubernetesObject) -> Any:
    """A budget's matchLabels; UNKNOWN where it cannot be judged (matchExpressions, or not known yet)."""
    selector = get_at(obj.props, "spec", "selector")
    if selector is UNKNOWN or not isinstance(selector, Mapping) or selector.get("matchExpressions"):
        return UNKNOWN
    labels = selector.get("matchLabels")
    return labels if isinstance(labels, Mapping) or labels is UNKNOWN else {}


def _serves(pods: WorkloadPods, services: Sequence[KubernetesObject]) -> str | None:
    """Why these pods serve (for the message), or None if the plan shows no sign that they do."""
    owner = pods.owner
    if owner.kind in RAY_CLUSTER_KINDS and pods.labels.get(RAY_NODE_TYPE_LABEL) == "head":
        return "is the head of a Ray cluster"
    if owner.kind not in SERVED_KINDS:
        return None
    for service in services:
        selector = get_at(service.props, "spec", "selector")
        if (
            service.namespace == owner.namespace
            and isinstance(selector, Mapping)
            and selector
            and selector_matches(selector, pods.labels)
        ):
            return f"serves {service.label}"
    return None


def check_disruption_budgets(resources: Sequence[PlanResource]) -> list[IntegrityViolation]:
    """One violation per serving workload's pods that no PodDisruptionBudget of their namespace selects."""
    found: list[IntegrityViolation] = []
    for cluster in kubernetes_clusters(resources).values():
        services = [obj for obj in cluster.objects if obj.kind == "Service"]
        budgets = [
            (obj.namespace, _budget_selector(obj)) for obj in cluster.objects if obj.kind == "PodDisruptionBudget"
        ]
        for obj in cluster.objects:
            for pods in workload_pods(obj):
                reason = _serves(pods, services)
                if reason is None or any(
                    namespace == obj.namespace
                    and (selector is UNKNOWN or (selector and selector_matches(selector, pods.labels)))
                    for namespace, selector in budgets
                ):
                    continue
                found.append(
                    IntegrityViolation(
                        RULE,
                        obj.resource.urn,
                        f"{obj.label} ({pods.path}) {reason}, but no PodDisruptionBudget in namespace "
                        f"{obj.namespace!r} selects its pods, so a node drain may evict them all at once; add one "
                        "that selects its pod labels (maxUnavailable for a Deployment or StatefulSet, an integer "
                        "minAvailable for pods of any other owner)",
                    )
                )
    return found
