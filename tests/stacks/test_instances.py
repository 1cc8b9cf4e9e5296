"""Scenarios as plug-ins with named instances, and physical names unique per stack and instance."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT, SHIPPED_STACKS, program_with_stacks
from hypothesis import given
from hypothesis import strategies as st
from manifest_validation import validate_manifest

from gke_tpu_serving.names import check_bucket_name, check_dns_label, check_service_account_id
from gke_tpu_serving.offline import PreviewResult, kubernetes_manifests, run_program
from stacks.config import ConfigError, parse
from stacks.naming import derived_name

PREFIX = "gke-tpu-serving:"
BUCKET = "gcp:storage/bucket:Bucket"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
RAY_SERVICE = "kubernetes:ray.io/v1:RayService"
NAMESPACE = "kubernetes:core/v1:Namespace"
URNS = Path(__file__).parent / "urns"


def _stack_file(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / f"Pulumi.{name}.yaml").read_text())
    return loaded


def _raw(stack: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A stack file's config as parse() takes it: project keys without the prefix, and gcp:project."""
    config = stack["config"]
    return {k.removeprefix(PREFIX): v for k, v in config.items() if k.startswith(PREFIX)}, config["gcp:project"]


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_shipped_stacks_keep_their_urns(stack: str, shipped_stack: Callable[[str], PreviewResult]) -> None:
    """Moving modules and adding named instances changed no resource's URN: `pulumi up` replaces nothing."""
    pinned = (URNS / f"{stack}.txt").read_text().split()
    assert sorted(r.urn for r in shipped_stack(stack).resources) == pinned


def _two_llama_models() -> dict[str, Any]:
    """The dev stack's Llama cluster with a second, smaller v6e pool, and two named vLLM instances, one on each pool
    (70B on the 2x4 host, 8B on the 2x2 host)."""
    stack = _stack_file("dev")
    config = stack["config"]
    llm = next(c for c in config[f"{PREFIX}clusters"] if c["name"] == "llm-us-central1")
    v6e = next(p for p in llm["tpuPools"] if p["name"] == "v6e-2x4")
    llm["tpuPools"].append({**v6e, "name": "v6e-2x2", "machineType": "ct6e-standard-4t", "topology": "2x2"})
    single = config.pop(f"{PREFIX}llama")
    config[f"{PREFIX}llama"] = [
        {**single, "name": "chat"},
        {**single, "name": "code", "pool": "v6e-2x2", "model": "meta-llama/Llama-3.1-8B"},
    ]
    return stack


def _two_regions_of_stable_diffusion() -> dict[str, Any]:
    """The dev stack's SD cluster plus the gpu stack's L4 cluster, one named Stable Diffusion instance on each."""
    stack = _stack_file("dev")
    config = stack["config"]
    gpu = _stack_file("gpu")["config"]
    config[f"{PREFIX}clusters"].extend(gpu[f"{PREFIX}clusters"])
    config[f"{PREFIX}stableDiffusion"] = [
        {**config[f"{PREFIX}stableDiffusion"], "name": "tpu"},
        {**gpu[f"{PREFIX}stableDiffusion"], "name": "gpu"},
    ]
    return stack


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PreviewResult]:
    stacks = {"llamas": _two_llama_models(), "sds": _two_regions_of_stable_diffusion()}
    project = program_with_stacks(
        tmp_path_factory.mktemp("instances"), {name: yaml.safe_dump(stack) for name, stack in stacks.items()}
    )
    return {name: run_program(project, name) for name in stacks}


def test_two_vllm_instances_on_two_pools_get_their_own_names(instances: dict[str, PreviewResult]) -> None:
    result = instances["llamas"]
    servers = {d.name: d.inputs for d in result.of_type(DEPLOYMENT) if d.name.startswith("vllm-")}
    assert set(servers) == {"vllm-llama-chat", "vllm-llama-code"}
    assert {s["metadata"]["namespace"] for s in servers.values()} == {"llama-chat", "llama-code"}
    topologies = {
        name: server["spec"]["template"]["spec"]["nodeSelector"]["cloud.google.com/gke-tpu-topology"]
        for name, server in servers.items()
    }
    assert topologies == {"vllm-llama-chat": "2x4", "vllm-llama-code": "2x2"}
    buckets = {b.inputs["name"] for b in result.of_type(BUCKET)}
    assert {
        "your-project-id-llamas-llama-chat-weights",
        "your-project-id-llamas-llama-code-weights",
        "your-project-id-llamas-llama-chat-xla-cache",
        "your-project-id-llamas-llama-code-xla-cache",
    } <= buckets
    # The cluster's metrics adapter is shared, not installed twice.
    assert [a.name for a in result.of_type("gke-tpu-serving:index:CustomMetricsAdapter")] == [
        "llm-us-central1-custom-metrics"
    ]
    assert set(result.outputs["llama"]) == {"chat", "code"}


def test_two_stable_diffusion_instances_in_two_clusters_get_their_own_names(
    instances: dict[str, PreviewResult],
) -> None:
    result = instances["sds"]
    services = {s.name: s.inputs["metadata"]["namespace"] for s in result.of_type(RAY_SERVICE)}
    assert services == {"stable-diffusion-tpu": "stable-diffusion-tpu", "stable-diffusion-gpu": "stable-diffusion-gpu"}
    providers = {s.name: s.options["provider"].split("::")[-1] for s in result.of_type(RAY_SERVICE)}
    assert providers == {"stable-diffusion-tpu": "sd-v4-k8s", "stable-diffusion-gpu": "sd-l4-k8s"}
    assert set(result.outputs["stableDiffusion"]) == {"tpu", "gpu"}


@pytest.mark.parametrize("stack", ["llamas", "sds"])
def test_instances_render_valid_names_and_manifests(stack: str, instances: dict[str, PreviewResult]) -> None:
    result = instances[stack]
    urns = [r.urn for r in result.resources]
    assert len(urns) == len(set(urns))
    for bucket in result.of_type(BUCKET):
        check_bucket_name(bucket.inputs["name"])
    for manifest in kubernetes_manifests(result):
        check_dns_label(manifest["metadata"].get("namespace", "default"))
        validate_manifest(manifest)


def test_two_stacks_of_one_project_never_share_a_bucket_a_repository_or_a_service_account(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.dev.yaml").read_text()
    project = program_with_stacks(tmp_path, {"dev": text, "staging": text})
    dev, staging = run_program(project, "dev"), run_program(project, "staging")

    def physical(result: PreviewResult) -> set[str]:
        names = {b.inputs["name"] for b in result.of_type(BUCKET)}
        names |= {r.inputs["repositoryId"] for r in result.of_type("gcp:artifactregistry/repository:Repository")}
        # Node service accounts are named after their cluster, which two stacks cannot share either.
        names |= {
            a.inputs["accountId"]
            for a in result.of_type("gcp:serviceaccount/account:Account")
            if not a.name.endswith("-nodes")
        }
        return names

    # 5 buckets, the image and build-cache repositories and Saxml's Google service account
    assert len(physical(dev)) == 8
    assert physical(dev).isdisjoint(physical(staging))


@given(
    parts=st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,40}[a-z0-9]", fullmatch=True), min_size=1, max_size=5),
    limit=st.integers(min_value=12, max_value=63),
)
def test_derived_names_fit_their_limit_and_stay_stable(parts: list[str], limit: int) -> None:
    name = derived_name(*parts, limit=limit)
    assert len(name) <= limit
    assert name == derived_name(*parts, limit=limit)
    if len("-".join(parts)) <= limit:
        assert name == "-".join(parts)


def test_stack_names_are_made_safe_for_physical_names() -> None:
    assert derived_name("my-project", "Team_A.prod+eu", "llama", "weights", limit=63) == (
        "my-project-team-a-prod-eu-llama-weights"
    )


def test_a_long_project_and_stack_still_get_valid_distinct_names() -> None:
    project = "a-very-long-project-id-000001"
    stack = "integration-europe-west4"
    names = {derived_name(project, stack, "stablediffusion", instance, "xla-cache", limit=63) for instance in "ab"}
    assert len(names) == 2
    for name in names:
        check_bucket_name(name)
    check_service_account_id(derived_name("sax-sa", stack, "instance-one", limit=30))


def _refusal(edit: Callable[[dict[str, Any]], None]) -> str:
    stack = _two_llama_models()
    edit(stack["config"])
    raw, project = _raw(stack)
    with pytest.raises(ConfigError) as error:
        parse(raw, project, frozenset({"hfToken"}))  # set, as the dev stack it is built from needs it
    return str(error.value)


def test_instance_names_must_be_unique() -> None:
    def rename(config: dict[str, Any]) -> None:
        config[f"{PREFIX}llama"][1]["name"] = "chat"

    assert _refusal(rename) == ("config key gke-tpu-serving:llama[1].name: 'chat' is used twice; allowed: unique names")


def test_a_listed_instance_needs_a_name() -> None:
    def unname(config: dict[str, Any]) -> None:
        del config[f"{PREFIX}llama"][0]["name"]

    assert _refusal(unname) == "config key gke-tpu-serving:llama[0].name: missing; required: the instance's name"


def test_an_instance_name_is_a_short_dns_label() -> None:
    def bad(config: dict[str, Any]) -> None:
        config[f"{PREFIX}llama"][0]["name"] = "Chat_Bot"

    assert _refusal(bad) == (
        "config key gke-tpu-serving:llama[0].name: 'Chat_Bot' is not allowed; allowed: 1-20 characters of lowercase "
        "letters, digits and '-', starting with a letter and not ending with '-'"
    )


def test_two_instances_on_one_cluster_cannot_share_a_namespace() -> None:
    def same(config: dict[str, Any]) -> None:
        for instance in config[f"{PREFIX}llama"]:
            instance["namespace"] = "llm"

    assert _refusal(same) == (
        "config key gke-tpu-serving:llama[1].namespace: 'llm' is already the namespace of llama[0] on cluster "
        "'llm-us-central1'; allowed: a namespace of its own"
    )


def test_errors_in_a_listed_instance_name_its_position() -> None:
    def typo(config: dict[str, Any]) -> None:
        config[f"{PREFIX}llama"][1]["pool"] = "v6e"

    assert _refusal(typo) == (
        "config key gke-tpu-serving:llama[1].pool: 'v6e' is not an accelerator pool of cluster 'llm-us-central1'; "
        "allowed: v5e-4x8, v6e-2x4, v6e-2x2"
    )


def test_an_empty_list_of_instances_is_refused() -> None:
    def empty(config: dict[str, Any]) -> None:
        config[f"{PREFIX}llama"] = []

    assert _refusal(empty) == (
        "config key gke-tpu-serving:llama: [] is not allowed; allowed: a mapping (one instance) or a non-empty list "
        "of named instances"
    )
