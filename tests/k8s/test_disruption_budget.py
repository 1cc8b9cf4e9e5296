"""The one PodDisruptionBudget builder (k8s/pods.py disruption_budget): one bound, never both or none."""

from typing import Any

import pulumi
import pytest

from gke_tpu_serving.k8s.pods import disruption_budget

LABELS = {"app": "server"}


@pytest.mark.parametrize("bounds", [{}, {"max_unavailable": 1, "min_available": 1}], ids=["none", "both"])
def test_exactly_one_bound_is_required(bounds: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as raised:
        disruption_budget("server", "serving", LABELS, pulumi.ResourceOptions(), **bounds)
    assert str(raised.value) == "disruption_budget takes exactly one of max_unavailable and min_available"


def test_the_budget_selects_the_labels_and_lets_unready_pods_go(pulumi_mocks: Any) -> None:
    disruption_budget("server", "serving", LABELS, pulumi.ResourceOptions(), min_available=3)
    (budget,) = [r for r in pulumi_mocks.settle().resources if r.type == "kubernetes:policy/v1:PodDisruptionBudget"]
    assert budget.inputs["metadata"] == {"name": "server", "namespace": "serving", "labels": LABELS}
    assert budget.inputs["spec"] == {
        "minAvailable": 3,
        "selector": {"matchLabels": LABELS},
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }
