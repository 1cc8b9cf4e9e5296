"""KubeRayOperator under Pulumi mocks: the pinned chart, applied provider-side into its own restricted namespace."""

from typing import Any

from helpers import assert_refused_before_any_child
from manifest_validation import validate_manifest

from gke_tpu_serving import KubeRayOperator
from gke_tpu_serving.offline import kubernetes_manifests

CHART = "kubernetes:helm.sh/v4:Chart"


def test_chart_is_pinned_and_applied_by_the_provider(pulumi_mocks: Any) -> None:
    KubeRayOperator("sd-l4-kuberay", {})
    chart = pulumi_mocks.settle().one(CHART, "sd-l4-kuberay-chart")
    assert chart.inputs["chart"] == "kuberay-operator"
    assert chart.inputs["version"] == "1.7.0"
    assert chart.inputs["repositoryOpts"] == {"repo": "https://ray-project.github.io/kuberay-helm/"}
    assert chart.inputs["namespace"] == "kuberay-system"


def test_namespace_enforces_the_restricted_pod_security_standard(pulumi_mocks: Any) -> None:
    KubeRayOperator("sd-l4-kuberay", {"namespace": "ray-system"})
    (namespace,) = kubernetes_manifests(pulumi_mocks.settle())
    validate_manifest(namespace)
    assert namespace["metadata"] == {
        "name": "ray-system",
        "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
    }


def test_bad_namespace_is_refused(pulumi_mocks: Any) -> None:
    reason = (
        "namespace: 'Ray' is not a valid DNS-1123 label; allowed: 1-63 characters of lowercase letters, digits and "
        "'-', starting and ending with a letter or digit"
    )
    assert_refused_before_any_child(pulumi_mocks, KubeRayOperator, "sd-l4-kuberay", {"namespace": "Ray"}, reason)
