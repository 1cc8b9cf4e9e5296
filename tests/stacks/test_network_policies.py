"""Default-deny ingress in every namespace a scenario deploys into: for each server of the dev stack, which namespaces
and addresses may reach which of its ports, judged by an evaluator over the rendered NetworkPolicies."""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT, SHIPPED_STACKS, program_with_stacks
from network_policies import External, Pod, Source, admits

from gke_tpu_serving.offline import PreviewResult, run_program
from gke_tpu_serving.offline.render import kubernetes_manifests

PREFIX = "gke-tpu-serving:"
WORKLOAD_KINDS = {"Deployment", "Job", "JobSet", "RayService", "RayCluster", "StatefulSet", "Pod"}

# (kind, name, port): every server port of the dev stack.
SERVERS = {
    "vLLM API and metrics": ("Deployment", "vllm-llama", 8000),
    "Saxml HTTP server": ("Deployment", "saxml-http", 8888),
    "Saxml admin server": ("Deployment", "saxml-admin-server", 10000),
    "Saxml model server": ("JobSet", "saxml-model-server", 10001),
    "Saxml TPU runtime": ("JobSet", "saxml-model-server", 8471),
    "Ray dashboard and job API": ("RayService", "stable-diffusion", 8265),
    "Ray GCS": ("RayService", "stable-diffusion", 6379),
    "Ray Serve": ("RayService", "stable-diffusion", 8000),
    "Ray metrics": ("RayService", "stable-diffusion", 8080),
}
SOURCES: dict[str, Callable[[str], Source]] = {
    "its own namespace": lambda namespace: Pod(namespace, {"app.kubernetes.io/name": "anything"}),
    "another scenario's namespace": lambda namespace: Pod("saxml" if namespace != "saxml" else "llama"),
    "default namespace": lambda _: Pod("default"),
    "kube-system": lambda _: Pod("kube-system"),
    "gmp-system (Managed Prometheus)": lambda _: Pod("gmp-system", {"app.kubernetes.io/name": "collector"}),
    "custom-metrics (the HPA's adapter)": lambda _: Pod("custom-metrics"),
    "the internet": lambda _: External("203.0.113.7"),
    "a Google Front End": lambda _: External("35.191.10.20"),
}
ADMITTED = {
    "vLLM API and metrics": {"its own namespace", "gmp-system (Managed Prometheus)"},
    "Saxml HTTP server": {"its own namespace"},
    "Saxml admin server": {"its own namespace"},
    "Saxml model server": {"its own namespace"},
    "Saxml TPU runtime": {"its own namespace"},
    "Ray dashboard and job API": {"its own namespace", "kube-system"},
    "Ray GCS": {"its own namespace"},
    "Ray Serve": {"its own namespace"},
    "Ray metrics": {"its own namespace", "gmp-system (Managed Prometheus)"},
}


def _template_metadata(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = manifest["spec"]
    if manifest["kind"] == "JobSet":
        return spec["replicatedJobs"][0]["template"]["spec"]["template"].get("metadata") or {}
    if manifest["kind"] == "RayService":
        return spec["rayClusterConfig"]["headGroupSpec"]["template"].get("metadata") or {}
    return spec["template"].get("metadata") or {}


def _server(manifests: list[dict[str, Any]], kind: str, name: str) -> Pod:
    (manifest,) = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    return Pod(manifest["metadata"]["namespace"], _template_metadata(manifest).get("labels") or {})


@pytest.fixture(scope="module")
def dev_manifests(shipped_stack: Callable[[str], PreviewResult]) -> list[dict[str, Any]]:
    return kubernetes_manifests(shipped_stack("dev"))


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("server", SERVERS)
def test_who_reaches_each_server_of_the_dev_stack(
    dev_manifests: list[dict[str, Any]], server: str, source: str
) -> None:
    kind, name, port = SERVERS[server]
    target = _server(dev_manifests, kind, name)
    assert admits(dev_manifests, target, port, SOURCES[source](target.namespace)) == (source in ADMITTED[server])


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_every_namespace_with_pods_denies_ingress_by_default(
    stack: str, shipped_stack: Callable[[str], PreviewResult]
) -> None:
    """Scenario namespaces get the NamespaceIngressPolicy, tenants' namespaces the Tenant's own: one deny-ingress
    each that selects every pod and lets nothing in."""
    manifests = kubernetes_manifests(shipped_stack(stack))
    with_pods = {m["metadata"]["namespace"] for m in manifests if m["kind"] in WORKLOAD_KINDS}
    denying = {
        m["metadata"]["namespace"]
        for m in manifests
        if m["kind"] == "NetworkPolicy"
        and m["metadata"]["name"] == "deny-ingress"
        and m["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    }
    assert with_pods
    assert with_pods <= denying
    names = [(m["metadata"]["namespace"], m["metadata"]["name"]) for m in manifests if m["kind"] == "NetworkPolicy"]
    assert len(names) == len(set(names)), "a namespace got two policies of one name (a tenant's doubled?)"


def _variant(tmp_path: Path, base: str, change: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:
    stack = yaml.safe_load((ROOT / f"Pulumi.{base}.yaml").read_text())
    change(stack["config"])
    project = program_with_stacks(tmp_path, {"variant": yaml.safe_dump(stack)})
    return kubernetes_manifests(run_program(project, "variant"))


def test_a_load_balancer_opens_the_serving_port_alone_to_its_clients(tmp_path: Path) -> None:
    def internal_llama(config: dict[str, Any]) -> None:
        config[f"{PREFIX}llama"]["exposure"] = "internal-load-balancer"
        config[f"{PREFIX}apiKey"] = {"secure": "placeholder-never-decrypted-offline"}

    manifests = _variant(tmp_path, "dev", internal_llama)
    vllm = _server(manifests, "Deployment", "vllm-llama")
    client = External("10.128.0.9")
    assert admits(manifests, vllm, 8000, client)
    assert not admits(manifests, vllm, 8001, client)
    assert not admits(manifests, vllm, 8000, Pod("default"))
    saxml_http = _server(manifests, "Deployment", "saxml-http")
    assert not admits(manifests, saxml_http, 8888, client)


def test_a_helm_operator_reaches_the_ray_head_from_its_own_namespace(tmp_path: Path) -> None:
    def helm_operator(config: dict[str, Any]) -> None:
        config[f"{PREFIX}clusters"][0]["rayOperator"] = False
        config[f"{PREFIX}stableDiffusion"]["operator"] = "helm"

    manifests = _variant(tmp_path, "gpu", helm_operator)
    head = _server(manifests, "RayService", "stable-diffusion")
    assert admits(manifests, head, 8265, Pod("kuberay-system"))
    assert not admits(manifests, head, 8265, Pod("kube-system"))
    # No add-on, no Ray monitoring to let in.
    assert not admits(manifests, head, 8080, Pod("gmp-system"))


def test_client_namespaces_reach_the_serving_port_alone(tmp_path: Path) -> None:
    def llama_clients(config: dict[str, Any]) -> None:
        config[f"{PREFIX}llama"]["clientNamespaces"] = ["apps", "batch-jobs"]

    manifests = _variant(tmp_path, "dev", llama_clients)
    vllm = _server(manifests, "Deployment", "vllm-llama")
    for namespace in ("apps", "batch-jobs"):
        assert admits(manifests, vllm, 8000, Pod(namespace))
        assert not admits(manifests, vllm, 8001, Pod(namespace))
    assert not admits(manifests, vllm, 8000, Pod("default"))
    # Only the instance that names them: the other scenarios' servers stay closed to those namespaces.
    assert not admits(manifests, _server(manifests, "Deployment", "saxml-http"), 8888, Pod("apps"))


@pytest.mark.parametrize(
    ("scenario", "clients", "message"),
    [
        (
            "saxml",
            ["Apps"],
            "config key gke-tpu-serving:saxml.clientNamespaces[0]: 'Apps' is not a valid DNS-1123 label; allowed: "
            "1-63 characters of lowercase letters, digits and '-', starting and ending with a letter or digit",
        ),
        (
            "llama",
            ["apps", "llama"],
            "config key gke-tpu-serving:llama.clientNamespaces[1]: 'llama' is the instance's own namespace, which is "
            "always let in; allowed: other namespaces",
        ),
    ],
)
def test_bad_client_namespaces_are_refused(tmp_path: Path, scenario: str, clients: list[str], message: str) -> None:
    def change(config: dict[str, Any]) -> None:
        config[f"{PREFIX}{scenario}"]["clientNamespaces"] = clients

    # Refused at config load (a ValueError, as the preview reports it), before anything is registered.
    with pytest.raises(ValueError) as refused:
        _variant(tmp_path, "dev", change)
    assert str(refused.value) == message
