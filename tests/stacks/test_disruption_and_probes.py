"""Every serving workload of every shipped stack, from its rendered manifests: the one PodDisruptionBudget that
selects its pods, with the bound its component chose for how it restarts, and its probes with the chosen timings.
The manifests are validated (core kinds with kubernetes-validate, custom resources against their CRDs)."""

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import pytest
from manifest_validation import validate_manifest

from gke_tpu_serving.offline import PreviewResult, kubernetes_manifests
from gke_tpu_serving.saxml.jobset_spec import MODEL_SERVER_START_SECONDS, PROBE_PERIOD_SECONDS

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "JobSet", "RayService", "RayCluster")
ALL_PODS = "all"
"""Expected minAvailable of a multi-host model server set: every pod of the JobSet (replicas x parallelism)."""


class Serving(NamedTuple):
    stack: str
    kind: str
    namespace: str
    name: str
    budget: Mapping[str, Any]
    """The budget's bound: {"maxUnavailable": n} or {"minAvailable": n or ALL_PODS}."""


# Cheap restarts (stateless CPU servers, a notebook, vLLM replicas one at a time) may be drained; a restart that
# costs every slice (Saxml's model servers) or the whole Ray cluster (a head) refuses voluntary evictions.
SERVING = [
    Serving("dev", "Deployment", "llama", "vllm-llama", {"maxUnavailable": 1}),
    Serving("dev", "Deployment", "saxml", "saxml-admin-server", {"maxUnavailable": 1}),
    Serving("dev", "Deployment", "saxml", "saxml-http", {"maxUnavailable": 1}),
    Serving("dev", "JobSet", "saxml", "saxml-model-server", {"minAvailable": ALL_PODS}),
    Serving("dev", "RayService", "stable-diffusion", "stable-diffusion", {"minAvailable": 1}),
    Serving("gpu", "RayService", "stable-diffusion", "stable-diffusion", {"minAvailable": 1}),
    Serving("autopilot", "Deployment", "llama", "vllm-llama", {"maxUnavailable": 1}),
    *(
        Serving("teams", kind, team, name, budget)
        for team in ("team-a", "team-b")
        for kind, name, budget in (
            ("Deployment", f"{team}-notebook", {"maxUnavailable": 1}),
            ("RayCluster", team, {"minAvailable": 1}),
        )
    ),
]
STACKS = sorted({row.stack for row in SERVING})


def _manifests(shipped_stack: Callable[[str], PreviewResult], stack: str) -> list[dict[str, Any]]:
    return kubernetes_manifests(shipped_stack(stack))


def _pod_templates(workload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The pod templates a budget must cover: a Deployment's, a JobSet's, a Ray cluster's head."""
    spec = workload["spec"]
    if workload["kind"] == "JobSet":
        return [job["template"]["spec"]["template"] for job in spec["replicatedJobs"]]
    if workload["kind"] in ("RayService", "RayCluster"):
        cluster = spec["rayClusterConfig"] if workload["kind"] == "RayService" else spec
        return [cluster["headGroupSpec"]["template"]]
    return [spec["template"]]


def _one(manifests: list[dict[str, Any]], kind: str, namespace: str, name: str) -> dict[str, Any]:
    (found,) = [
        m
        for m in manifests
        if (m["kind"], m["metadata"].get("namespace"), m["metadata"]["name"]) == (kind, namespace, name)
    ]
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_the_table_lists_every_workload_of_the_stack(stack: str, shipped_stack: Callable[[str], PreviewResult]) -> None:
    rendered = {
        (m["kind"], m["metadata"]["namespace"], m["metadata"]["name"])
        for m in _manifests(shipped_stack, stack)
        if m["kind"] in WORKLOAD_KINDS
    }
    assert rendered == {(row.kind, row.namespace, row.name) for row in SERVING if row.stack == stack}


@pytest.mark.parametrize("row", SERVING, ids=lambda row: f"{row.stack}-{row.kind}-{row.name}")
def test_one_valid_budget_selects_the_workloads_pods_with_its_chosen_bound(
    row: Serving, shipped_stack: Callable[[str], PreviewResult]
) -> None:
    manifests = _manifests(shipped_stack, row.stack)
    workload = _one(manifests, row.kind, row.namespace, row.name)
    (template,) = _pod_templates(workload)
    labels = template["metadata"]["labels"]
    budgets = [
        m
        for m in manifests
        if m["kind"] == "PodDisruptionBudget"
        and m["metadata"]["namespace"] == row.namespace
        and m["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ]
    assert len(budgets) == 1, budgets
    (budget,) = budgets
    validate_manifest(budget)
    expected = dict(row.budget)
    if expected.get("minAvailable") == ALL_PODS:
        expected["minAvailable"] = sum(
            job["replicas"] * job["template"]["spec"]["parallelism"] for job in workload["spec"]["replicatedJobs"]
        )
        assert expected["minAvailable"] == 16  # two 4x8 v5e slices of eight hosts
    bounds = {key: value for key, value in budget["spec"].items() if key in ("maxUnavailable", "minAvailable")}
    assert bounds == expected
    assert budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def _probes(container: Mapping[str, Any]) -> dict[str, Any]:
    return {key: container[key] for key in ("startupProbe", "readinessProbe", "livenessProbe") if key in container}


def test_saxml_model_servers_have_tcp_startup_and_liveness_probes_and_no_readiness(
    shipped_stack: Callable[[str], PreviewResult],
) -> None:
    jobset = _one(_manifests(shipped_stack, "dev"), "JobSet", "saxml", "saxml-model-server")
    validate_manifest(jobset)
    (template,) = _pod_templates(jobset)
    (container,) = template["spec"]["containers"]
    assert {"name": "model", "containerPort": 10001} in container["ports"]
    assert _probes(container) == {
        # 15 minutes for JAX's start-up and the slice's rendezvous; the model loads after the port opens.
        "startupProbe": {"tcpSocket": {"port": "model"}, "periodSeconds": 10, "failureThreshold": 90},
        "livenessProbe": {
            "tcpSocket": {"port": "model"},
            "periodSeconds": 20,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
    }
    assert MODEL_SERVER_START_SECONDS == 90 * PROBE_PERIOD_SECONDS
    # A failed liveness probe fails the pod (no restart in place), its Job and so the set: JobSet recreates them.
    assert template["spec"]["restartPolicy"] == "Never"
    assert jobset["spec"]["replicatedJobs"][0]["template"]["spec"]["backoffLimit"] == 0


@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("saxml-admin-server", {"tcpSocket": {"port": "serve"}}),
        ("saxml-http", {"httpGet": {"path": "/health", "port": "serve"}}),
    ],
)
def test_saxml_cpu_servers_are_probed_where_they_answer(
    name: str, action: dict[str, Any], shipped_stack: Callable[[str], PreviewResult]
) -> None:
    deployment = _one(_manifests(shipped_stack, "dev"), "Deployment", "saxml", name)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert _probes(container) == {
        "readinessProbe": {**action, "periodSeconds": 10, "failureThreshold": 3},
        "livenessProbe": {
            **action,
            "initialDelaySeconds": 30,
            "periodSeconds": 20,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
    }


@pytest.mark.parametrize("stack", ["dev", "gpu", "teams"])
def test_ray_containers_leave_their_probes_to_kuberay(
    stack: str, shipped_stack: Callable[[str], PreviewResult]
) -> None:
    clusters = [m for m in _manifests(shipped_stack, stack) if m["kind"] in ("RayService", "RayCluster")]
    assert clusters
    for cluster in clusters:
        spec = cluster["spec"].get("rayClusterConfig", cluster["spec"])
        for group in (spec["headGroupSpec"], *spec["workerGroupSpecs"]):
            # KubeRay injects its raylet/GCS probes (and the Serve proxy check) only into a container without any.
            assert _probes(group["template"]["spec"]["containers"][0]) == {}


@pytest.mark.parametrize("stack", ["dev", "autopilot"])
def test_vllm_waits_for_loading_and_compiling_before_liveness_counts(
    stack: str, shipped_stack: Callable[[str], PreviewResult]
) -> None:
    deployment = _one(_manifests(shipped_stack, stack), "Deployment", "llama", "vllm-llama")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    probes = _probes(container)
    assert probes["startupProbe"]["periodSeconds"] * probes["startupProbe"]["failureThreshold"] == 1800
    assert set(probes) == {"startupProbe", "readinessProbe", "livenessProbe"}
