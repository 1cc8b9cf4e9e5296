"""The two-team stack (Pulumi.teams.yaml) through the offline preview, the teams' RayClusters, scenarios deployed
into a team's namespace, and the tenancy checks of the stack config: a deployment outside its tenant's namespace or
above its quota, a TPU group above its pool, and quotas above the cluster's TPU chips, are refused at load with the
config key, the value and what is allowed."""

import copy
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from helpers import ROOT
from manifest_validation import validate_manifest

from gke_tpu_serving.offline import PreviewResult, kubernetes_manifests, run_program
from gke_tpu_serving.offline.plan_checks import integrity_violations
from policy.adapter import violations
from stacks.config import ConfigError, parse
from stacks.tenancy.deploy import notebook_token

PREFIX = "gke-tpu-serving:"
SECRETS = frozenset({"iapClientSecret", "notebookSecret"})
LLAMA_IMAGE = "us-central1-docker.pkg.dev/p/gke-tpu-serving/llama:v1"


def teams_config() -> tuple[dict[str, Any], str]:
    config = yaml.safe_load((ROOT / "Pulumi.teams.yaml").read_text())["config"]
    raw = {key.removeprefix(PREFIX): value for key, value in config.items() if key.startswith(PREFIX)}
    for key in SECRETS:
        del raw[key]  # secrets reach parse() only as the names of the keys that are set
    return raw, config["gcp:project"]


@pytest.fixture(scope="module")
def teams(shipped_stack: Callable[[str], PreviewResult]) -> PreviewResult:
    return shipped_stack("teams")


def tenanted_config() -> dict[str, Any]:
    """Pulumi.teams.yaml with a v5e 4x8 slice added, Saxml in team-a (its quota raised to the 32 chips more) and
    Stable Diffusion in team-b (its RayCluster's TPU group one host smaller to make room)."""
    document = yaml.safe_load((ROOT / "Pulumi.teams.yaml").read_text())
    config = document["config"]
    config[f"{PREFIX}clusters"][0]["tpuPools"].append(
        {"name": "v5e-4x8", "generation": "v5e", "machineType": "ct5lp-hightpu-4t", "topology": "4x8"}
    )
    team_a, team_b = config[f"{PREFIX}tenants"]
    team_a["quota"]["tpuChips"] = 48
    team_b["rayCluster"]["workerGroups"][1]["maxReplicas"] = 3
    # The route the shipped stack cannot have: Stable Diffusion in team-b renders the Serve Service it reaches.
    team_b["routes"] = [{"path": "/serve/", "service": "stable-diffusion-serve-svc", "port": 8000}]
    config[f"{PREFIX}saxml"] = {
        "cluster": "teams",
        "pool": "v5e-4x8",
        "tenant": "team-a",
        "namespace": "team-a",
        "httpServerImage": "us-central1-docker.pkg.dev/p/gke-tpu-serving/saxml-http:v1",
    }
    config[f"{PREFIX}stableDiffusion"] = {
        "cluster": "teams",
        "pool": "v5e-2x2",
        "tenant": "team-b",
        "namespace": "team-b",
        "image": "us-central1-docker.pkg.dev/p/gke-tpu-serving/stable-diffusion:v1",
    }
    return document


@pytest.fixture(scope="module")
def tenanted(tmp_path_factory: pytest.TempPathFactory) -> PreviewResult:
    project = tmp_path_factory.mktemp("tenanted")
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "stacks", project / "stacks")
    (project / "Pulumi.tenanted.yaml").write_text(yaml.safe_dump(tenanted_config(), sort_keys=False))
    return run_program(project, "tenanted")


def _objects(result: PreviewResult, kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (m["metadata"].get("namespace", ""), m["metadata"]["name"]): m
        for m in kubernetes_manifests(result)
        if m["kind"] == kind
    }


def test_each_team_gets_its_namespace_with_restricted_pod_security(teams: PreviewResult) -> None:
    namespaces = _objects(teams, "Namespace")
    assert sorted(namespaces) == [("", "team-a"), ("", "team-b"), ("", "tenant-gateway")]
    for team in ("team-a", "team-b"):
        labels = namespaces[("", team)]["metadata"]["labels"]
        assert labels["gke-tpu-serving/tenant"] == team
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_quotas_split_the_clusters_32_tpu_chips_between_the_teams(teams: PreviewResult) -> None:
    quotas = _objects(teams, "ResourceQuota")
    hard = {"requests.cpu": "96", "requests.memory": "512Gi", "requests.google.com/tpu": "16"}
    assert sorted(quotas) == [("team-a", "tenant-quota"), ("team-b", "tenant-quota")]
    for quota in quotas.values():
        assert quota["spec"]["hard"] == {**hard, "requests.nvidia.com/gpu": "0"}


def test_role_bindings_bind_each_teams_own_members(teams: PreviewResult) -> None:
    bindings = _objects(teams, "RoleBinding")
    assert bindings[("team-a", "contributor-members")]["subjects"] == [
        {"kind": "Group", "name": "team-a@example.com", "apiGroup": "rbac.authorization.k8s.io"}
    ]
    assert bindings[("team-b", "contributor-members")]["subjects"] == [
        {"kind": "User", "name": "bob@example.com", "apiGroup": "rbac.authorization.k8s.io"}
    ]
    assert sorted(key for key in bindings if key[0] == "team-b") == [
        ("team-b", "admin-members"),
        ("team-b", "admin-ray"),
        ("team-b", "contributor-members"),
        ("team-b", "contributor-ray"),
    ]


def test_the_teams_cluster_resolves_google_groups_in_rbac(teams: PreviewResult) -> None:
    cluster = teams.one("gcp:container/cluster:Cluster", "teams-cluster").inputs
    assert cluster["authenticatorGroupsConfig"] == {"securityGroup": "gke-security-groups@example.com"}


def test_user_members_need_no_rbac_security_group() -> None:
    def users_only(raw: dict[str, Any]) -> None:
        del raw["clusters"][0]["rbacSecurityGroup"]
        for tenant in raw["tenants"]:
            tenant["members"] = [m for m in tenant["members"] if m["member"].startswith("user:")]
            tenant["members"][0]["role"] = "admin"

    config = _parse(users_only)
    assert config.clusters[0].plan.rbac_security_group is None


def test_each_namespace_denies_ingress_from_the_other_team(teams: PreviewResult) -> None:
    policies = _objects(teams, "NetworkPolicy")
    for team in ("team-a", "team-b"):
        assert sorted(name for namespace, name in policies if namespace == team) == [
            "allow-gateway",
            "allow-same-namespace",
            "allow-system-namespaces",
            "deny-ingress",
        ]
        assert policies[(team, "deny-ingress")]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}


def test_notebooks_connect_to_their_teams_ray_cluster(teams: PreviewResult) -> None:
    deployments = _objects(teams, "Deployment")
    for team in ("team-a", "team-b"):
        (container,) = deployments[(team, f"{team}-notebook")]["spec"]["template"]["spec"]["containers"]
        assert container["env"][0] == {"name": "RAY_ADDRESS", "value": f"ray://{team}-head-svc:10001"}
    assert teams.outputs["tenants"]["team-a"]["notebookToken"] == "[secret]"


def test_the_gateway_routes_each_team_hostname_behind_iap(teams: PreviewResult) -> None:
    routes = _objects(teams, "HTTPRoute")
    assert routes[("team-b", "teams-tenants")]["spec"]["hostnames"] == ["team-b.ml.example.com"]
    paths = [r["matches"][0]["path"]["value"] for r in routes[("team-b", "teams-tenants")]["spec"]["rules"]]
    assert paths == ["/ray/", "/notebook/"]
    protected = sorted(key for key in _objects(teams, "GCPBackendPolicy"))
    assert protected == [
        ("team-a", "team-a-head-svc-iap"),
        ("team-a", "team-a-notebook-iap"),
        ("team-b", "team-b-head-svc-iap"),
        ("team-b", "team-b-notebook-iap"),
    ]


def test_every_manifest_validates(teams: PreviewResult) -> None:
    manifests = kubernetes_manifests(teams)
    assert len(manifests) == 60  # with each team's Ray head budget and Ray token Secret
    for manifest in manifests:
        validate_manifest(manifest)


def test_the_stack_passes_the_policy_pack(teams: PreviewResult) -> None:
    assert violations(teams) == []


def test_notebook_tokens_differ_per_team() -> None:
    assert notebook_token("s", "team-a") != notebook_token("s", "team-b")
    assert notebook_token("s", "team-a") == notebook_token("s", "team-a")


def test_teams_config_parses_into_two_tenants() -> None:
    raw, project = teams_config()
    config = parse(raw, project, SECRETS)
    assert config.tenancy is not None
    assert [t.config["name"] for t in config.tenancy.tenants] == ["team-a", "team-b"]


def _llama(tenant: str | None, **extra: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        # The team's TPU chips go to the server instead of its RayCluster's TPU group.
        raw["tenants"][0]["rayCluster"]["workerGroups"] = [{"name": "cpu", "maxReplicas": 4}]
        raw["llama"] = {"cluster": "teams", "pool": "v6e-2x4", "image": LLAMA_IMAGE, "namespace": "team-a", **extra}
        if tenant is not None:
            raw["llama"]["tenant"] = tenant

    return mutate


def _tenant(index: int, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        raw["tenants"][index][key] = value

    return mutate


def _quota(index: int, chips: int) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        raw["tenants"][index]["quota"]["tpuChips"] = chips

    return mutate


def _ray_group(index: int, group: int, **values: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        raw["tenants"][index]["rayCluster"]["workerGroups"][group].update(values)

    return mutate


def _both(*mutations: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(raw)

    return mutate


def _parse(mutate: Callable[[dict[str, Any]], None], secrets: frozenset[str] = SECRETS) -> Any:
    raw, project = teams_config()
    raw = copy.deepcopy(raw)
    mutate(raw)
    return parse(raw, project, secrets)


def test_a_scenario_in_its_tenants_namespace_and_quota_is_accepted() -> None:
    config = _parse(_llama("team-a"))
    assert config.instance("llama").tenant == "team-a"


BAD = [
    (
        "group_member_on_a_cluster_without_google_groups_for_rbac",
        lambda raw: raw["clusters"][0].pop("rbacSecurityGroup"),
        "config key gke-tpu-serving:tenants[0].members[0].member: 'group:team-a-leads@example.com' is a Google Group, "
        "but cluster 'teams' has no rbacSecurityGroup, so GKE would not resolve it in RBAC; allowed: set "
        "clusters[0].rbacSecurityGroup: gke-security-groups@DOMAIN (a group containing the team's groups), or user: "
        "members",
    ),
    (
        "deployment_outside_its_tenants_namespace",
        _llama("team-a", namespace="llama"),
        "config key gke-tpu-serving:llama.namespace: 'llama' is not the namespace of tenant 'team-a'; allowed: 'team-a'",
    ),
    (
        "client_namespaces_in_a_tenants_namespace",
        _llama("team-a", clientNamespaces=["apps"]),
        "config key gke-tpu-serving:llama.clientNamespaces: ['apps'] is not allowed with tenant 'team-a'; allowed: "
        "none (the tenant's NetworkPolicies decide who reaches its namespace)",
    ),
    (
        "deployment_above_its_tenants_quota",
        _both(_llama("team-a"), _quota(0, 8)),
        "config key gke-tpu-serving:llama: requests 16 TPU chips (google.com/tpu) at its maximum scale, which brings "
        "tenant 'team-a' to 16; allowed: its quota of 8",
    ),
    (
        "ray_cluster_above_the_memory_quota",
        _both(_llama("team-a"), _tenant(0, "quota", {"cpu": "96", "memory": "4Gi", "tpuChips": 16})),
        "config key gke-tpu-serving:tenants[0].rayCluster: requests 40.5Gi memory at its maximum scale, which brings "
        "tenant 'team-a' to 40.5Gi; allowed: its quota of 4Gi",
    ),
    (
        "ray_cluster_tpu_group_above_the_tpu_quota",
        _quota(0, 8),
        "config key gke-tpu-serving:tenants[0].rayCluster: requests 16 TPU chips (google.com/tpu) at its maximum "
        "scale, which brings tenant 'team-a' to 16; allowed: its quota of 8",
    ),
    (
        "ray_cluster_and_notebook_above_the_cpu_quota",
        _tenant(0, "quota", {"cpu": "27", "memory": "512Gi", "tpuChips": 16}),
        "config key gke-tpu-serving:tenants[0].notebook: requests 2 CPU cores at its maximum scale, which brings "
        "tenant 'team-a' to 28.5; allowed: its quota of 27",
    ),
    (
        "tpu_group_above_its_pool",
        _ray_group(0, 1, maxReplicas=3),
        "config key gke-tpu-serving:tenants[0].rayCluster.workerGroups[1].maxReplicas: 3 slices is more than pool "
        "'v6e-2x4' holds at its maximum size; allowed: at most 2",
    ),
    (
        "worker_group_on_an_unknown_pool",
        _ray_group(0, 1, pool="v4"),
        "config key gke-tpu-serving:tenants[0].rayCluster.workerGroups[1].pool: 'v4' is not an accelerator pool of "
        "cluster 'teams'; allowed: v6e-2x4, v5e-2x2",
    ),
    (
        "worker_group_that_cannot_reach_its_minimum",
        _ray_group(1, 0, minReplicas=5),
        "config key gke-tpu-serving:tenants[1].rayCluster.workerGroups[0].minReplicas: 5 is more than the maximum replica count, 4; "
        "allowed: 0 to 4",
    ),
    (
        "gpus_on_a_cpu_group",
        _ray_group(1, 0, gpus=1),
        "config key gke-tpu-serving:tenants[1].rayCluster.workerGroups[0].gpus: set on a group without a pool; "
        "allowed: gpus only on a gpuPools pool",
    ),
    (
        "unpinned_ray_image",
        _tenant(1, "rayCluster", {"image": "rayproject/ray"}),
        "config key gke-tpu-serving:tenants[1].rayCluster.image: image 'rayproject/ray' is not pinned; allowed: a tag "
        "other than 'latest' (REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST)",
    ),
    (
        "two_teams_with_one_ray_cluster_name",
        _tenant(1, "rayCluster", {"name": "team-a"}),
        "config key gke-tpu-serving:tenants[1].rayCluster.name: 'team-a' is already tenant 'team-a''s RayCluster; "
        "allowed: a name unique in the stack",
    ),
    (
        "quotas_above_the_clusters_tpu_chips",
        _quota(1, 24),
        "config key gke-tpu-serving:tenants: the tenants of cluster 'teams' are promised 40 TPU chips (google.com/tpu) "
        "(team-a 16, team-b 24), more than its pools' 32 at their maximum size; allowed: quotas that sum to at most "
        "32, or allowOvercommit: true",
    ),
    (
        "unknown_tenant",
        _llama("team-c"),
        "config key gke-tpu-serving:llama.tenant: 'team-c' is not a tenant of this stack; allowed: team-a, team-b",
    ),
    (
        "stable_diffusion_beside_a_ray_cluster_that_takes_the_whole_quota",
        lambda raw: raw.__setitem__(
            "stableDiffusion",
            {"cluster": "teams", "pool": "v5e-2x2", "image": LLAMA_IMAGE, "tenant": "team-b", "namespace": "team-b"},
        ),
        "config key gke-tpu-serving:stableDiffusion: requests 4 TPU chips (google.com/tpu) at its maximum scale, which "
        "brings tenant 'team-b' to 20; allowed: its quota of 16",
    ),
    (
        "notebook_image_with_another_ray_version",
        _tenant(0, "rayCluster", {"rayVersion": "2.59.0"}),
        "config key gke-tpu-serving:tenants[0].notebook.imageRayVersion: Ray 2.60.0 in image "
        "'us-central1-docker.pkg.dev/your-project-id/gke-tpu-serving-teams/notebook:2.60.0-py311' does not match Ray 2.59.0 "
        "of RayCluster 'team-a'; allowed: 2.59.0 (the Ray client needs the same version)",
    ),
    (
        "notebook_without_a_ray_cluster",
        lambda raw: raw["tenants"][0].pop("rayCluster"),
        "config key gke-tpu-serving:tenants[0].notebook: set without rayCluster; required: the rayCluster the notebook "
        "connects to",
    ),
    (
        "member_without_a_kind",
        _tenant(1, "members", [{"member": "bob@example.com", "role": "admin"}]),
        "config key gke-tpu-serving:tenants[1].members[0].member: 'bob@example.com' is not a member; allowed: "
        "group:GROUP_EMAIL (a Google Group under Google Groups for RBAC) or user:USER_EMAIL",
    ),
    (
        "two_teams_in_one_namespace",
        _tenant(1, "namespace", "team-a"),
        "config key gke-tpu-serving:tenants[1].namespace: 'team-a' is already tenant 'team-a''s on cluster 'teams'; "
        "allowed: a namespace of its own",
    ),
    (
        "tenant_on_an_unknown_cluster",
        _tenant(0, "cluster", "other"),
        "config key gke-tpu-serving:tenants[0].cluster: 'other' is not a cluster of this stack; allowed: teams",
    ),
    (
        "routes_without_a_hostname",
        lambda raw: raw["tenancy"].pop("domain"),
        "config key gke-tpu-serving:tenants[0].hostname: missing, and tenancy.domain is not set; required: a hostname "
        "for the team's routes",
    ),
    (
        "bad_route",
        _tenant(1, "routes", [{"path": "/serve", "service": "team-b-serve-svc", "port": 8000}]),
        "config key gke-tpu-serving:tenants[1].routes[0].path: '/serve' is not allowed; allowed: a path such as /ray/ "
        "ending in /",
    ),
    (
        "route_to_a_service_the_stack_does_not_create",
        _tenant(1, "routes", [{"path": "/serve/", "service": "team-b-serve-svc", "port": 8000}]),
        "config key gke-tpu-serving:tenants[1].routes[0].service: 'team-b-serve-svc' is not a Service this stack "
        "creates in namespace 'team-b'; allowed: team-b-head-svc, team-b-notebook, or a Service of a scenario "
        "instance with tenant: team-b",
    ),
    (
        "ray_auth_disabled_on_a_routed_dashboard",
        lambda raw: raw["tenants"][0]["rayCluster"].update(auth="disabled"),
        "config key gke-tpu-serving:tenants[0].rayCluster.auth: disabled, but the team's gateway routes the Ray "
        "dashboard and job API (/ray/) beyond the cluster; allowed: token (the default)",
    ),
    (
        "misspelt_quota_key",
        _tenant(0, "quota", {"cpu": "96", "memory": "512Gi", "tpus": 16}),
        "config key gke-tpu-serving:tenants[0].quota.tpus: unknown key (did you mean gpus?); allowed: cpu, memory, tpuChips, gpus, "
        "memoryLimit",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_tenancy_is_refused_with_its_key(mutate: Callable[[dict[str, Any]], None], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _parse(mutate)
    assert str(raised.value) == message


def test_overcommit_is_allowed_only_when_asked() -> None:
    def overcommit(raw: dict[str, Any]) -> None:
        _quota(1, 24)(raw)
        raw["tenancy"]["allowOvercommit"] = True

    assert _parse(overcommit).tenancy is not None


def test_iap_needs_the_client_secret() -> None:
    with pytest.raises(ConfigError) as raised:
        _parse(lambda raw: None, frozenset({"notebookSecret"}))
    assert str(raised.value) == (
        "config key gke-tpu-serving:tenancy.mode: iap, but the iapClientSecret secret is not set; allowed: set it with "
        "`pulumi config set --secret iapClientSecret ...`, or mode istio"
    )


def test_notebooks_need_the_notebook_secret() -> None:
    with pytest.raises(ConfigError) as raised:
        _parse(lambda raw: None, frozenset({"iapClientSecret"}))
    assert str(raised.value) == (
        "config key gke-tpu-serving:tenants: a team has a notebook, but the notebookSecret secret is not set; allowed: "
        "set it with `pulumi config set --secret notebookSecret ...` (each notebook's Jupyter token is derived from it)"
    )


def test_each_team_gets_a_ray_cluster_whose_cpu_and_tpu_groups_scale_from_zero(teams: PreviewResult) -> None:
    clusters = _objects(teams, "RayCluster")
    assert sorted(clusters) == [("team-a", "team-a"), ("team-b", "team-b")]
    bounds = {
        team: {g["groupName"]: (g["minReplicas"], g["maxReplicas"], g["numOfHosts"]) for g in spec["workerGroupSpecs"]}
        for (team, _), spec in ((key, c["spec"]) for key, c in clusters.items())
    }
    assert bounds == {"team-a": {"v6e": (0, 2, 1), "cpu": (0, 4, 1)}, "team-b": {"v5e": (0, 4, 1), "cpu": (0, 4, 1)}}
    spec = clusters[("team-b", "team-b")]["spec"]
    assert spec["enableInTreeAutoscaling"] is True
    # On the Ray add-on the stack gives the token (Ray's way for operators without authOptions).
    assert "authOptions" not in spec
    token_ref = {"secretKeyRef": {"name": "team-b-ray-auth", "key": "auth_token"}}
    templates = [spec["headGroupSpec"]["template"], *(g["template"] for g in spec["workerGroupSpecs"])]
    assert all(t["spec"]["containers"][0]["env"][-1]["valueFrom"] == token_ref for t in templates)
    assert spec["autoscalerOptions"]["env"][-1]["valueFrom"] == token_ref
    secret = teams.one("kubernetes:core/v1:Secret", "team-b-ray-auth").inputs
    assert secret["metadata"] == {"name": "team-b-ray-auth", "namespace": "team-b"}
    assert spec["headGroupSpec"]["template"]["spec"]["serviceAccountName"] == "workloads"
    (v5e,) = [g for g in spec["workerGroupSpecs"] if g["groupName"] == "v5e"]
    assert v5e["template"]["spec"]["nodeSelector"] == {
        "cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice",
        "cloud.google.com/gke-tpu-topology": "2x2",
    }


def test_a_ray_cluster_waits_for_its_teams_namespace(teams: PreviewResult) -> None:
    ray_cluster = teams.one("kubernetes:ray.io/v1:RayCluster", "team-a")
    namespace = teams.one("kubernetes:core/v1:Namespace", "team-a-namespace")
    assert namespace.urn in ray_cluster.options["dependsOn"]


def test_notebooks_get_the_token_of_their_ray_cluster(teams: PreviewResult) -> None:
    (container,) = _objects(teams, "Deployment")[("team-a", "team-a-notebook")]["spec"]["template"]["spec"][
        "containers"
    ]
    assert container["env"][-2:] == [
        {"name": "RAY_AUTH_MODE", "value": "token"},
        {"name": "RAY_AUTH_TOKEN", "valueFrom": {"secretKeyRef": {"name": "team-a-ray-auth", "key": "auth_token"}}},
    ]


def test_scenarios_deploy_into_their_teams_namespace_without_a_namespace_of_their_own(tenanted: PreviewResult) -> None:
    assert sorted(_objects(tenanted, "Namespace")) == [("", "team-a"), ("", "team-b"), ("", "tenant-gateway")]
    accounts = sorted(_objects(tenanted, "ServiceAccount"))
    assert accounts == [("team-a", "sax-sa"), ("team-a", "workloads"), ("team-b", "ray-sd"), ("team-b", "workloads")]
    assert sorted(_objects(tenanted, "JobSet")) == [("team-a", "saxml-model-server")]
    assert sorted(_objects(tenanted, "RayService")) == [("team-b", "stable-diffusion")]


def test_a_scenarios_identity_waits_for_its_tenant(tenanted: PreviewResult) -> None:
    account = tenanted.one("kubernetes:core/v1:ServiceAccount", "saxml-identity-ksa")
    for name in ("team-a-namespace", "team-a-quota", "team-a-deny-ingress"):
        assert tenanted.by_urn(next(u for u in account.options["dependsOn"] if u.endswith(f"::{name}"))).name == name


# Pod Security Standards, `restricted` profile (Kubernetes 1.33): what a team namespace's admission enforces.
_RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def _restricted_violations(pod: dict[str, Any]) -> list[str]:
    found = [key for key in ("hostNetwork", "hostPID", "hostIPC") if pod.get(key)]
    found += [f"volume {v['name']}" for v in pod.get("volumes", []) if not set(v) - {"name"} <= _RESTRICTED_VOLUMES]
    pod_context = pod.get("securityContext", {})
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        context = container.get("securityContext", {})
        if context.get("privileged") or context.get("allowPrivilegeEscalation") is not False:
            found.append(f"{container['name']}: privilege escalation")
        if "ALL" not in context.get("capabilities", {}).get("drop", []):
            found.append(f"{container['name']}: capabilities")
        if any(port.get("hostPort") for port in container.get("ports", [])):
            found.append(f"{container['name']}: hostPort")
        if not context.get("runAsNonRoot", pod_context.get("runAsNonRoot")):
            found.append(f"{container['name']}: runAsNonRoot")
        if context.get("runAsUser", pod_context.get("runAsUser")) == 0:
            found.append(f"{container['name']}: runAsUser 0")
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {}))
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            found.append(f"{container['name']}: seccompProfile")
    return found


def _pod_specs(value: Any) -> Iterator[dict[str, Any]]:
    """Every pod spec inside a manifest (Deployments, Jobs, JobSets, Ray clusters)."""
    if isinstance(value, dict):
        if "containers" in value:
            yield value
        for item in value.values():
            yield from _pod_specs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _pod_specs(item)


def test_every_pod_in_a_team_namespace_passes_pod_security_restricted(tenanted: PreviewResult) -> None:
    in_teams = [m for m in kubernetes_manifests(tenanted) if m["metadata"].get("namespace") in ("team-a", "team-b")]
    pods = {(m["kind"], m["metadata"]["name"]): list(_pod_specs(m)) for m in in_teams}
    assert {key: len(specs) for key, specs in pods.items() if specs} == {
        ("Deployment", "team-a-notebook"): 1,
        ("Deployment", "team-b-notebook"): 1,
        ("RayCluster", "team-a"): 3,
        ("RayCluster", "team-b"): 3,
        ("Deployment", "saxml-admin-server"): 1,
        ("Deployment", "saxml-http"): 1,
        ("JobSet", "saxml-model-server"): 1,
        ("RayService", "stable-diffusion"): 2,
    }
    assert {key: v for key, specs in pods.items() for spec in specs if (v := _restricted_violations(spec))} == {}


def test_a_route_to_a_tenanted_scenarios_service_reaches_it(tenanted: PreviewResult) -> None:
    rules = _objects(tenanted, "HTTPRoute")[("team-b", "teams-tenants")]["spec"]["rules"]
    assert rules[-1]["backendRefs"] == [{"name": "stable-diffusion-serve-svc", "port": 8000}]
    assert integrity_violations(tenanted) == []


def test_every_tenanted_manifest_validates(tenanted: PreviewResult) -> None:
    for manifest in kubernetes_manifests(tenanted):
        validate_manifest(manifest)
