"""The kubernetes-disruption-budgets stack policy (gke_tpu_serving.k8s.disruption_budgets) through the pack's
adapter: hand-built plans with and without a budget, the exact message, what it does not judge, and every shipped
stack passing."""

from collections.abc import Callable
from typing import Any

import pytest
from manifest_validation import validate_manifest
from policy_fixtures import (
    DEPLOYMENT,
    GOOD_DEPLOYMENT,
    GOOD_JOB_SET,
    GOOD_PDB,
    GOOD_RAY_CLUSTER,
    GOOD_RAY_SERVICE,
    GOOD_SERVICE,
    JOB_SET,
    PDB,
    RAY_CLUSTER,
    RAY_SERVICE,
    SERVICE,
    edited,
    preview,
    recorded,
)

from gke_tpu_serving.k8s.disruption_budgets import check_disruption_budgets
from gke_tpu_serving.offline import PreviewResult, RecordedResource
from gke_tpu_serving.offline.plan_checks import plan_resources
from policy.adapter import Violation, violations

POLICY = "kubernetes-disruption-budgets"
NAMESPACES = [
    recorded("kubernetes:core/v1:Namespace", name, {"metadata": {"name": name}}) for name in ("serving", "sd")
]
DEPLOYMENT_MESSAGE = (
    "Deployment serving/server (spec.template) serves Service serving/server, but no PodDisruptionBudget in namespace "
    "'serving' selects its pods, so a node drain may evict them all at once; add one that selects its pod labels "
    "(maxUnavailable for a Deployment or StatefulSet, an integer minAvailable for pods of any other owner)"
)


def _found(*resources: RecordedResource) -> list[Violation]:
    return [v for v in violations(preview(*NAMESPACES, *resources)) if v.policy == POLICY]


def _served() -> list[RecordedResource]:
    return [recorded(DEPLOYMENT, "server", GOOD_DEPLOYMENT), recorded(SERVICE, "server", GOOD_SERVICE)]


def test_the_fixture_budget_is_a_valid_object() -> None:
    validate_manifest(GOOD_PDB)


def test_a_served_deployment_with_a_budget_passes() -> None:
    assert _found(*_served(), recorded(PDB, "server", GOOD_PDB)) == []


def test_a_served_deployment_without_a_budget_is_reported_at_the_deployment() -> None:
    deployment, service = _served()
    assert _found(deployment, service) == [Violation(POLICY, deployment.urn, DEPLOYMENT_MESSAGE)]


@pytest.mark.parametrize(
    "edits",
    [
        {"spec.selector.matchLabels": {"app": "other"}},
        {"metadata.namespace": "sd"},
    ],
    ids=["other-labels", "other-namespace"],
)
def test_a_budget_that_misses_the_pods_does_not_count(edits: dict[str, Any]) -> None:
    deployment, service = _served()
    budget = recorded(PDB, "server", edited(GOOD_PDB, edits))
    assert _found(deployment, service, budget) == [Violation(POLICY, deployment.urn, DEPLOYMENT_MESSAGE)]


@pytest.mark.parametrize(
    "edits",
    [
        {"spec.selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["server"]}]}},
        {"spec.selector.matchLabels": {"app": "[unknown]"}},
    ],
    ids=["match-expressions", "unknown-value"],
)
def test_a_budget_the_preview_cannot_judge_counts_as_covering(edits: dict[str, Any]) -> None:
    assert _found(*_served(), recorded(PDB, "server", edited(GOOD_PDB, edits))) == []


def test_a_deployment_no_service_selects_is_not_judged() -> None:
    assert _found(recorded(DEPLOYMENT, "server", GOOD_DEPLOYMENT)) == []


def test_a_job_set_is_not_judged() -> None:
    assert _found(recorded(JOB_SET, "sax-model", GOOD_JOB_SET)) == []


@pytest.mark.parametrize(
    ("type_token", "name", "body", "namespace", "path"),
    [
        (RAY_SERVICE, "stable-diffusion", GOOD_RAY_SERVICE, "sd", "spec.rayClusterConfig.headGroupSpec.template"),
        (RAY_CLUSTER, "research", GOOD_RAY_CLUSTER, "ray", "spec.headGroupSpec.template"),
    ],
    ids=["RayService", "RayCluster"],
)
def test_a_ray_head_without_a_budget_is_reported(
    type_token: str, name: str, body: dict[str, Any], namespace: str, path: str
) -> None:
    ray = recorded(type_token, name, body)
    kind = type_token.rsplit(":", 1)[-1]
    assert _found(ray) == [
        Violation(
            POLICY,
            ray.urn,
            f"{kind} {namespace}/{name} ({path}) is the head of a Ray cluster, but no PodDisruptionBudget in "
            f"namespace '{namespace}' selects its pods, so a node drain may evict them all at once; add one that "
            "selects its pod labels (maxUnavailable for a Deployment or StatefulSet, an integer minAvailable for pods "
            "of any other owner)",
        )
    ]
    # The budget may select the head by KubeRay's own labels: labelPod puts ray.io/node-type on every pod.
    head = edited(
        GOOD_PDB, {"metadata.namespace": namespace, "spec.selector.matchLabels": {"ray.io/node-type": "head"}}
    )
    assert (
        _found(ray, recorded(PDB, "head", {**head, "spec": {"minAvailable": 1, "selector": head["spec"]["selector"]}}))
        == []
    )


@pytest.mark.parametrize("stack", ["dev", "gpu", "teams", "autopilot"])
def test_every_shipped_stack_budgets_every_serving_workload(
    stack: str, shipped_stack: Callable[[str], PreviewResult]
) -> None:
    assert check_disruption_budgets(plan_resources(shipped_stack(stack))) == []
