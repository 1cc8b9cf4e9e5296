"""Plan integrity (gke_tpu_serving.k8s.integrity): a small hand-built plan that passes, one broken reference per rule
with its exact message, every shipped stack passing, and the offline preview refusing a plan that fails."""

import copy
import re
import shutil
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from helpers import ROOT

from gke_tpu_serving.k8s.integrity import RULES, IntegrityViolation, PlanResource, check_plan
from gke_tpu_serving.k8s.platform_objects import UNKNOWN
from gke_tpu_serving.offline import PreviewResult
from gke_tpu_serving.offline.__main__ import main
from gke_tpu_serving.offline.plan_checks import integrity_violations

STACK = "urn:pulumi:test::p::"
CLUSTER = f"{STACK}gke-tpu-serving:index:GkeTpuCluster::serve"
PROVIDER = f"{STACK}gke-tpu-serving:index:GkeTpuCluster$pulumi:providers:kubernetes::serve-k8s"
LABELS = {"app": "server"}
TPU_SELECTOR = {"cloud.google.com/gke-tpu-accelerator": "tpu-v6e-slice", "cloud.google.com/gke-tpu-topology": "2x4"}


def _k8s(type_token: str, name: str, namespace: str | None = "serve", **body: Any) -> PlanResource:
    kind = type_token.rsplit(":", 1)[-1]
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return PlanResource(
        f"{STACK}{type_token}::{name}-{kind.lower()}", type_token, f"{name}-{kind.lower()}", None, PROVIDER,
        {"metadata": metadata, **body},
    )  # fmt: skip


def _pod_spec() -> dict[str, Any]:
    return {
        "serviceAccountName": "server",
        "nodeSelector": dict(TPU_SELECTOR),
        "containers": [
            {"name": "server", "env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "token", "key": "t"}}}]}
        ],
        "volumes": [
            {"name": "config", "configMap": {"name": "config"}},
            {"name": "cache", "persistentVolumeClaim": {"claimName": "cache"}},
        ],
    }


def _ray_cluster() -> dict[str, Any]:
    return {
        "authOptions": {"mode": "token"},
        "headGroupSpec": {"template": {"spec": {"containers": [{"name": "ray-head"}]}}},
        "workerGroupSpecs": [
            {"groupName": "v6e", "template": {"spec": {"nodeSelector": dict(TPU_SELECTOR), "containers": []}}}
        ],
    }


def _plan(autopilot: bool = False) -> list[PlanResource]:
    def gcp(type_token: str, name: str, props: dict[str, Any]) -> PlanResource:
        return PlanResource(f"{STACK}{type_token}::{name}", type_token, name, CLUSTER, None, props)

    pools = [
        gcp("gcp:container/nodePool:NodePool", "serve-system", {"name": "system", "nodeConfig": {"machineType": "e2-standard-4"}}),
        gcp(
            "gcp:container/nodePool:NodePool",
            "serve-v6e",
            {"name": "v6e", "nodeConfig": {"machineType": "ct6e-standard-8t"}, "nodeLocations": ["us-central1-b"]},
        ),
    ]  # fmt: skip
    return [
        PlanResource(PROVIDER, "pulumi:providers:kubernetes", "serve-k8s", CLUSTER, None, {"kubeconfig": UNKNOWN}),
        gcp("gcp:container/cluster:Cluster", "serve-cluster", {"name": "serve", "enableAutopilot": autopilot}),
        *([] if autopilot else pools),
        _k8s("kubernetes:core/v1:Namespace", "serve", None),
        _k8s("kubernetes:core/v1:ServiceAccount", "server"),
        _k8s("kubernetes:core/v1:Secret", "token"),
        _k8s("kubernetes:core/v1:ConfigMap", "config"),
        _k8s("kubernetes:core/v1:PersistentVolumeClaim", "cache"),
        _k8s(
            "kubernetes:apps/v1:Deployment",
            "server",
            spec={"selector": {"matchLabels": LABELS}, "template": {"metadata": {"labels": LABELS}, "spec": _pod_spec()}},
        ),
        _k8s("kubernetes:core/v1:Service", "server", spec={"selector": LABELS}),
        _k8s("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "server",
             spec={"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "server"}}),
        _k8s("kubernetes:monitoring.googleapis.com/v1:PodMonitoring", "server", spec={"selector": {"matchLabels": LABELS}}),
        _k8s("kubernetes:policy/v1:PodDisruptionBudget", "server", spec={"selector": {"matchLabels": LABELS}}),
        _k8s("kubernetes:ray.io/v1:RayCluster", "team", spec=_ray_cluster()),
        _k8s(
            "kubernetes:apps/v1:Deployment",
            "notebook",
            spec={"template": {"metadata": {"labels": {"app": "notebook"}}, "spec": {"containers": [
                {"name": "lab", "env": [{"name": "RAY_AUTH_TOKEN",
                                         "valueFrom": {"secretKeyRef": {"name": "team", "key": "auth_token"}}}]}
            ]}}},
        ),
        _k8s("kubernetes:core/v1:Service", "ray-workers", spec={"selector": {"ray.io/cluster": "team", "ray.io/group": "v6e"}}),
        _k8s(
            "kubernetes:ray.io/v1:RayService",
            "sd",
            spec={"rayClusterConfig": {"headGroupSpec": {"template": {"spec": {"containers": [{"name": "ray-head"}]}}}}},
        ),
        _k8s(
            "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
            "routes",
            spec={"rules": [{"backendRefs": [{"name": "team-head-svc", "port": 8265}, {"name": "server", "port": 8000}]},
                             {"backendRefs": [{"name": "sd-serve-svc", "port": 8000}]}]},
        ),
        _k8s("kubernetes:networking.gke.io/v1:GCPBackendPolicy", "server-iap",
             spec={"targetRef": {"group": "", "kind": "Service", "name": "team-head-svc"}}),
    ]  # fmt: skip


def _edited(plan: list[PlanResource], name: str, path: str, value: Any) -> list[PlanResource]:
    """The plan with the resource called `name` changed at dotted `path` (list indexes as numbers)."""
    changed = []
    for resource in plan:
        if resource.name == name:
            props = copy.deepcopy(dict(resource.props))
            # A key with a dot in it (ray.io/group) escapes the dot with a backslash.
            *parents, last = [key.replace("\\.", ".") for key in re.split(r"(?<!\\)\.", path)]
            node: Any = props
            for key in parents:
                node = node[int(key)] if isinstance(node, list) else node[key]
            if isinstance(node, list):
                node[int(last)] = value
            else:
                node[last] = value
            resource = PlanResource(
                resource.urn, resource.type, resource.name, resource.parent, resource.provider, props
            )
        changed.append(resource)
    return changed


def _without(plan: list[PlanResource], name: str) -> list[PlanResource]:
    assert any(r.name == name for r in plan), name
    return [r for r in plan if r.name != name]


def test_the_fixture_plan_passes() -> None:
    assert check_plan(_plan()) == []


def test_the_fixture_plan_passes_on_autopilot() -> None:
    assert check_plan(_plan(autopilot=True)) == []


BROKEN: list[tuple[str, Callable[[], list[PlanResource]], str, str]] = [
    (
        "duplicate name",
        lambda: [*_plan(), PlanResource(f"{STACK}x::again", "kubernetes:core/v1:Secret", "again", None, PROVIDER,
                                        {"metadata": {"name": "token", "namespace": "serve"}})],
        "integrity-unique-names",
        "Secret serve/token is declared by 'token-secret' and again by 'again'; allowed: one object per kind, "
        "namespace and name (the second would overwrite the first)",
    ),
    (
        "namespace the plan does not create",
        lambda: _edited(_plan(), "token-secret", "metadata.namespace", "srve"),
        "integrity-namespaces",
        "Secret srve/token is in namespace 'srve', which the plan does not create; allowed: default, kube-node-lease, "
        "kube-public, kube-system, serve",
    ),
    (
        "Service selecting no pods",
        lambda: _edited(_plan(), "server-service", "spec.selector", {"app": "sever"}),
        "integrity-selectors",
        "Service serve/server selects pods labelled app=sever, but no workload of the plan in namespace 'serve' has "
        "pods with those labels",
    ),
    (
        "Service selecting a Ray group that does not exist",
        lambda: _edited(_plan(), "ray-workers-service", "spec.selector.ray\\.io/group", "v5e"),
        "integrity-selectors",
        "Service serve/ray-workers selects pods labelled ray.io/cluster=team, ray.io/group=v5e, but no workload of "
        "the plan in namespace 'serve' has pods with those labels",
    ),
    (
        "PodMonitoring selecting no pods",
        lambda: _edited(_plan(), "server-podmonitoring", "spec.selector.matchLabels", {"app": "vllm"}),
        "integrity-selectors",
        "PodMonitoring serve/server selects pods labelled app=vllm, but no workload of the plan in namespace 'serve' "
        "has pods with those labels",
    ),
    (
        "PodDisruptionBudget selecting no pods",
        lambda: _edited(_plan(), "server-poddisruptionbudget", "spec.selector.matchLabels", {"app": "vllm"}),
        "integrity-selectors",
        "PodDisruptionBudget serve/server selects pods labelled app=vllm, but no workload of the plan in namespace "
        "'serve' has pods with those labels",
    ),
    (
        "HTTPRoute backend that nothing creates",
        lambda: _edited(_plan(), "routes-httproute", "spec.rules.0.backendRefs.0.name", "team-serve-svc"),
        "integrity-targets",
        "HTTPRoute serve/routes targets Service serve/team-serve-svc, which neither the plan nor KubeRay creates",
    ),
    (
        "Service a route reaches, removed",
        lambda: _without(_plan(), "server-service"),
        "integrity-targets",
        "HTTPRoute serve/routes targets Service serve/server, which neither the plan nor KubeRay creates",
    ),
    (
        "RayService whose serve Service is renamed",
        lambda: _edited(_plan(), "sd-rayservice", "spec.serveService", {"metadata": {"name": "sd-serve"}}),
        "integrity-targets",
        "HTTPRoute serve/routes targets Service serve/sd-serve-svc, which neither the plan nor KubeRay creates",
    ),
    (
        "HPA scaling a Deployment that does not exist",
        lambda: _edited(_plan(), "server-horizontalpodautoscaler", "spec.scaleTargetRef.name", "vllm"),
        "integrity-targets",
        "HorizontalPodAutoscaler serve/server targets Deployment serve/vllm, which the plan does not create",
    ),
    (
        "ServiceAccount",
        lambda: _without(_plan(), "server-serviceaccount"),
        "integrity-pod-references",
        "Deployment serve/server (spec.template.spec.serviceAccountName) references ServiceAccount serve/server, "
        "which neither the plan nor the platform creates in that namespace",
    ),
    (
        "Secret",
        lambda: _without(_plan(), "token-secret"),
        "integrity-pod-references",
        "Deployment serve/server (spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name) references "
        "Secret serve/token, which neither the plan nor the platform creates in that namespace",
    ),
    (
        "KubeRay's token Secret of a RayCluster without token auth",
        lambda: _edited(_plan(), "team-raycluster", "spec.authOptions.mode", "disabled"),
        "integrity-pod-references",
        "Deployment serve/notebook (spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.name) references "
        "Secret serve/team, which neither the plan nor the platform creates in that namespace",
    ),
    (
        "ConfigMap",
        lambda: _without(_plan(), "config-configmap"),
        "integrity-pod-references",
        "Deployment serve/server (spec.template.spec.volumes[0].configMap.name) references ConfigMap serve/config, "
        "which neither the plan nor the platform creates in that namespace",
    ),
    (
        "PersistentVolumeClaim",
        lambda: _without(_plan(), "cache-persistentvolumeclaim"),
        "integrity-pod-references",
        "Deployment serve/server (spec.template.spec.volumes[1].persistentVolumeClaim.claimName) references "
        "PersistentVolumeClaim serve/cache, which neither the plan nor the platform creates in that namespace",
    ),
    (
        "node selector no pool matches",
        lambda: _edited(_plan(), "server-deployment", "spec.template.spec.nodeSelector.cloud\\.google\\.com/gke-tpu-topology", "4x4"),
        "integrity-node-selectors",
        "Deployment serve/server (spec.template.spec.nodeSelector) selects cloud.google.com/gke-tpu-accelerator="
        "tpu-v6e-slice, cloud.google.com/gke-tpu-topology=4x4, but no node pool of its cluster has those labels, so "
        "the pods would never be scheduled; pools: serve-system (cloud.google.com/gke-nodepool=system); serve-v6e "
        "(cloud.google.com/gke-nodepool=v6e, cloud.google.com/gke-tpu-accelerator=tpu-v6e-slice, "
        "cloud.google.com/gke-tpu-topology=2x4)",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("build", "rule", "message"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_each_broken_reference_is_reported_with_its_object_and_target(
    build: Callable[[], list[PlanResource]], rule: str, message: str
) -> None:
    found = check_plan(build())
    assert [(v.rule, v.message) for v in found][:1] == [(rule, message)]


def test_a_missing_service_is_reported_by_every_object_that_targets_it() -> None:
    plan = _edited(_plan(), "server-iap-gcpbackendpolicy", "spec.targetRef.name", "server")
    found = check_plan(_without(plan, "server-service"))
    assert [v.message for v in found] == [
        "HTTPRoute serve/routes targets Service serve/server, which neither the plan nor KubeRay creates",
        "GCPBackendPolicy serve/server-iap targets Service serve/server, which neither the plan nor KubeRay creates",
    ]


def test_autopilot_refuses_a_selector_it_does_not_provision() -> None:
    plan = _edited(_plan(autopilot=True), "server-deployment", "spec.template.spec.nodeSelector", {"pool": "v6e"})
    assert [v.message for v in check_plan(plan)] == [
        "Deployment serve/server (spec.template.spec.nodeSelector) selects pool=v6e, which Autopilot does not "
        "provision; allowed: keys cloud.google.com/compute-class, cloud.google.com/gke-accelerator, "
        "cloud.google.com/gke-spot, "
        "cloud.google.com/gke-tpu-accelerator, cloud.google.com/gke-tpu-topology, cloud.google.com/reservation-"
        "affinity, cloud.google.com/reservation-name, kubernetes.io/arch, kubernetes.io/os, topology.kubernetes.io/zone"
    ]


def test_unknown_values_match_anything() -> None:
    plan = _edited(_plan(), "server-service", "spec.selector", {"app": UNKNOWN})
    plan = _edited(plan, "routes-httproute", "spec.rules.0.backendRefs.0.name", UNKNOWN)
    assert check_plan(plan) == []


def test_every_rule_has_a_failing_fixture() -> None:
    assert {b[2] for b in BROKEN} == set(RULES)


@pytest.mark.parametrize("stack", ["dev", "gpu", "teams", "autopilot"])
def test_every_shipped_stack_passes(stack: str, shipped_stack: Callable[[str], PreviewResult]) -> None:
    result = shipped_stack(stack)
    assert result.resources
    assert integrity_violations(result) == []


def test_the_preview_exits_2_with_one_line_per_violation(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # A team with a scenario may route to a Service the parse cannot name; the preview's checks find the typo.
    document = yaml.safe_load((ROOT / "Pulumi.teams.yaml").read_text())
    config = document["config"]
    team_b = config["gke-tpu-serving:tenants"][1]
    team_b["rayCluster"]["workerGroups"][1]["maxReplicas"] = 3
    team_b["routes"] = [{"path": "/serve/", "service": "stable-diffusion-srve-svc", "port": 8000}]
    config["gke-tpu-serving:stableDiffusion"] = {
        "cluster": "teams", "pool": "v5e-2x2", "tenant": "team-b", "namespace": "team-b",
        "image": "us-central1-docker.pkg.dev/p/gke-tpu-serving/stable-diffusion:v1",
    }  # fmt: skip
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    (tmp_path / "Pulumi.planted.yaml").write_text(yaml.safe_dump(document, sort_keys=False))

    assert main(["preview", "--stack", "planted", "--project-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"plan integrity (integrity-targets): {kind} team-b/{name} targets Service team-b/stable-diffusion-srve-svc, "
        "which neither the plan nor KubeRay creates"
        for kind, name in [
            ("HTTPRoute", "teams-tenants"),
            ("GCPBackendPolicy", "stable-diffusion-srve-svc-iap"),
            ("HealthCheckPolicy", "stable-diffusion-srve-svc-health"),
        ]
    ]


def test_violations_name_their_rule_and_resource() -> None:
    (found,) = check_plan(_without(_plan(), "config-configmap"))
    assert found == IntegrityViolation(
        "integrity-pod-references", f"{STACK}kubernetes:apps/v1:Deployment::server-deployment", found.message
    )


def _head_labelled(labels: dict[str, str], selector: dict[str, str]) -> list[PlanResource]:
    plan = _edited(_plan(), "team-raycluster", "spec.headGroupSpec.template.metadata", {"labels": labels})
    plan = _edited(plan, "sd-rayservice", "spec.rayClusterConfig.headGroupSpec.template.metadata", {"labels": labels})
    return [
        *plan,
        _k8s("kubernetes:policy/v1:PodDisruptionBudget", "head", spec={"selector": {"matchLabels": selector}}),
    ]


def test_a_ray_head_keeps_its_template_labels_as_kuberay_does() -> None:
    # KubeRay's labelPod: a template's labels override KubeRay's own (app.kubernetes.io/name included) ...
    relabelled = {"app.kubernetes.io/name": "research", "app.kubernetes.io/component": "ray-head"}
    assert check_plan(_head_labelled(relabelled, relabelled)) == []
    (found,) = check_plan(_head_labelled(relabelled, {"app.kubernetes.io/name": "kuberay", "ray.io/node-type": "head"}))
    assert found.rule == "integrity-selectors"
    # ... except ray.io/node-type, ray.io/group and ray.io/cluster, which place the pod.
    assert (
        check_plan(
            _head_labelled({"ray.io/node-type": "worker"}, {"ray.io/node-type": "head", "ray.io/cluster": "team"})
        )
        == []
    )
