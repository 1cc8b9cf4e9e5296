"""The dev stack (seed parity) through the offline preview: the resources and inputs the acceptance asks for."""

import json
import re
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import ROOT, OfflineCli, program_with_stacks
from manifest_validation import validate_manifest

from gke_tpu_serving.catalog import tpu_zones
from gke_tpu_serving.offline import PreviewResult, RecordedResource, kubernetes_manifests

POOL = "gcp:container/nodePool:NodePool"
GKE = "gcp:container/cluster:Cluster"


@pytest.fixture(scope="module")
def dev(shipped_stack: Callable[[str], PreviewResult]) -> PreviewResult:
    return shipped_stack("dev")


def _tpu_pools(dev: PreviewResult) -> list[RecordedResource]:
    return [p for p in dev.of_type(POOL) if p.inputs["nodeConfig"]["machineType"].startswith("ct")]


def test_every_cluster_has_workload_identity_and_gcs_fuse(dev: PreviewResult) -> None:
    clusters = {c.inputs["name"]: c.inputs for c in dev.of_type(GKE)}
    assert set(clusters) == {"sd-v4", "llm-us-central1"}
    for cluster in clusters.values():
        assert cluster["workloadIdentityConfig"] == {"workloadPool": "your-project-id.svc.id.goog"}
        assert cluster["addonsConfig"]["gcsFuseCsiDriverConfig"] == {"enabled": True}


def test_ray_addon_only_where_the_ray_service_runs(dev: PreviewResult) -> None:
    addons = {c.inputs["name"]: c.inputs["addonsConfig"] for c in dev.of_type(GKE)}
    assert addons["sd-v4"]["rayOperatorConfigs"][0]["enabled"] is True
    assert "rayOperatorConfigs" not in addons["llm-us-central1"]


def test_v4_pool_is_one_node_without_placement_policy(dev: PreviewResult) -> None:
    pool = dev.one(POOL, "sd-v4-tpu-v4").inputs
    assert pool["nodeConfig"]["machineType"] == "ct4p-hightpu-4t"
    assert pool["nodeCount"] == 1
    assert "placementPolicy" not in pool


def test_two_v5e_4x8_pools_of_eight_nodes_with_compact_placement(dev: PreviewResult) -> None:
    pools = [p.inputs for p in _tpu_pools(dev) if p.inputs["nodeConfig"]["machineType"] == "ct5lp-hightpu-4t"]
    assert len(pools) == 2
    for pool in pools:
        assert pool["nodeCount"] == 8
        assert pool["placementPolicy"] == {"type": "COMPACT", "tpuTopology": "4x8"}


def test_one_v6e_8t_pool_autoscaling_one_to_two(dev: PreviewResult) -> None:
    pools = [p.inputs for p in _tpu_pools(dev) if p.inputs["nodeConfig"]["machineType"].startswith("ct6e")]
    assert len(pools) == 1
    assert pools[0]["nodeConfig"]["machineType"] == "ct6e-standard-8t"
    assert pools[0]["autoscaling"] == {"minNodeCount": 1, "maxNodeCount": 2}


def test_every_tpu_pool_is_in_a_zone_that_offers_its_generation(dev: PreviewResult) -> None:
    generation_of = {"ct4p": "v4", "ct5lp": "v5e", "ct6e": "v6e"}
    for pool in _tpu_pools(dev):
        generation = generation_of[pool.inputs["nodeConfig"]["machineType"].split("-")[0]]
        (zone,) = pool.inputs["nodeLocations"]
        assert zone in tpu_zones(generation), (pool.name, zone)


def test_resource_counts(dev: PreviewResult) -> None:
    assert Counter(r.type for r in dev.resources) == {
        "pulumi:pulumi:Stack": 1,
        "gke-tpu-serving:index:GkeTpuCluster": 2,
        GKE: 2,
        POOL: 6,
        "gcp:serviceaccount/account:Account": 3,
        "gcp:projects/iAMMember:IAMMember": 3,
        "pulumi:providers:kubernetes": 2,
        # Three scenarios' identities, and the two weight-staging Jobs' writers.
        "gke-tpu-serving:index:WorkloadIdentity": 5,
        "kubernetes:core/v1:Namespace": 3,
        "kubernetes:core/v1:ServiceAccount": 5,
        "gcp:serviceaccount/iAMMember:IAMMember": 1,
        "gke-tpu-serving:index:GcsFuseBucket": 5,
        "gcp:storage/bucket:Bucket": 5,
        "gcp:storage/bucketIAMMember:BucketIAMMember": 7,
        "gke-tpu-serving:index:CustomMetricsAdapter": 1,
        "kubernetes:yaml/v2:ConfigFile": 2,
        "gke-tpu-serving:index:VllmDeploymentWithHpa": 1,
        "gke-tpu-serving:index:JobSetController": 1,
        "gke-tpu-serving:index:SaxmlJobSet": 1,
        "gke-tpu-serving:index:SaxmlModels": 1,
        "kubernetes:jobset.x-k8s.io/v1alpha2:JobSet": 1,
        "kubernetes:core/v1:ConfigMap": 1,
        # Saxml's publishing Job and the two weight-staging Jobs (Llama's with its hfToken Secret).
        "kubernetes:batch/v1:Job": 3,
        "gke-tpu-serving:index:WeightStagingJob": 2,
        # Llama's hfToken, the Saxml admin token and the Ray token of the Stable Diffusion cluster (on the add-on).
        "kubernetes:core/v1:Secret": 3,
        # The two tokens, generated once: the stack needs no secret of the operator's for them.
        "random:index/randomPassword:RandomPassword": 2,
        "gke-tpu-serving:index:ImageRepository": 1,
        # The stack's repository and the build cache's.
        "gcp:artifactregistry/repository:Repository": 2,
        # The three workload images `pulumi up` builds: llama, stable-diffusion, saxml-http-server.
        "docker-build:index:Image": 3,
        "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": 2,
        "kubernetes:apps/v1:Deployment": 3,
        "kubernetes:core/v1:Service": 3,
        "kubernetes:policy/v1:PodDisruptionBudget": 5,
        # Default-deny ingress per scenario namespace: deny-ingress and allow-same-namespace each, Llama's and Stable
        # Diffusion's allow-monitoring, Stable Diffusion's allow-kuberay-operator.
        "gke-tpu-serving:index:NamespaceIngressPolicy": 3,
        "kubernetes:networking.k8s.io/v1:NetworkPolicy": 9,
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": 1,
        "kubernetes:monitoring.googleapis.com/v1:PodMonitoring": 1,
        "gke-tpu-serving:index:RayService": 1,
        "kubernetes:ray.io/v1:RayService": 1,
    }


def test_buckets_are_private_in_the_clusters_region_and_data_buckets_protected(dev: PreviewResult) -> None:
    buckets = {b.inputs["name"]: b for b in dev.of_type("gcp:storage/bucket:Bucket")}
    assert set(buckets) == {
        "your-project-id-dev-saxml-state",
        "your-project-id-dev-llama-weights",
        "your-project-id-dev-llama-xla-cache",
        "your-project-id-dev-stablediffusion-weights",
        "your-project-id-dev-stablediffusion-xla-cache",
    }
    for name, bucket in buckets.items():
        # The compile cache is regenerable; weights and server state are not.
        protected = {} if name.endswith("xla-cache") else {"protect": True, "retainOnDelete": True}
        assert bucket.options == protected
        assert bucket.inputs["location"] == ("US-CENTRAL2" if "stablediffusion" in name else "US-CENTRAL1")
        assert bucket.inputs["uniformBucketLevelAccess"] is True
        assert bucket.inputs["publicAccessPrevention"] == "enforced"
        assert bucket.inputs["forceDestroy"] is False


def test_bucket_grants_reach_the_scenarios_identities(dev: PreviewResult) -> None:
    grants = {g.name: g.inputs for g in dev.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")}
    assert grants["llama-weights-vllm-read"] == {
        "bucket": "your-project-id-dev-llama-weights",
        "role": "roles/storage.objectViewer",
        "member": "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/"
        "your-project-id.svc.id.goog/subject/ns/llama/sa/vllm",
    }
    # The member is the Google service account's email, which GCP computes: unknown in a preview.
    assert grants["saxml-state-sax-sa-write"] == {
        "bucket": "your-project-id-dev-saxml-state",
        "role": "roles/storage.objectUser",
        "member": "[unknown]",
    }
    binding = dev.one("gcp:serviceaccount/iAMMember:IAMMember", "saxml-identity-workload-identity-user").inputs
    assert binding["member"] == "serviceAccount:your-project-id.svc.id.goog[saxml/sax-sa]"
    assert binding["role"] == "roles/iam.workloadIdentityUser"


def test_no_project_level_storage_owner_or_editor_role_anywhere(dev: PreviewResult) -> None:
    project_roles = sorted(r.inputs["role"] for r in dev.of_type("gcp:projects/iAMMember:IAMMember"))
    # The node role and the metrics adapter's read access to Cloud Monitoring, both project-scoped by nature.
    assert project_roles == ["roles/container.defaultNodeServiceAccount"] * 2 + ["roles/monitoring.viewer"]
    assert not [t for t in {r.type for r in dev.resources} if t.startswith("gcp:projects/") and "Member" not in t]


def test_kubernetes_objects_go_to_their_clusters_provider(dev: PreviewResult) -> None:
    providers = {
        name: dev.one("pulumi:providers:kubernetes", f"{name}-k8s").urn for name in ("sd-v4", "llm-us-central1")
    }
    objects = [r for r in dev.resources if r.type.startswith("kubernetes:")]
    on_sd = [r for r in objects if r.name.startswith(("stableDiffusion", "stable-diffusion"))]
    assert on_sd and all(r.options["provider"] == providers["sd-v4"] for r in on_sd)
    assert all(r.options["provider"] == providers["llm-us-central1"] for r in objects if r not in on_sd)


def test_every_kubernetes_manifest_passes_schema_validation(dev: PreviewResult) -> None:
    manifests = kubernetes_manifests(dev)
    assert sorted(m["kind"] for m in manifests) == [
        "ConfigMap",
        "Deployment",
        "Deployment",
        "Deployment",
        "HorizontalPodAutoscaler",
        "Job",
        "Job",
        "Job",
        "JobSet",
        "Namespace",
        "Namespace",
        "Namespace",
        *["NetworkPolicy"] * 9,
        *["PodDisruptionBudget"] * 5,
        "PodMonitoring",
        "RayService",
        "Secret",
        "Secret",
        "Secret",
        "Service",
        "Service",
        "Service",
        "ServiceAccount",
        "ServiceAccount",
        "ServiceAccount",
        "ServiceAccount",
        "ServiceAccount",
    ]
    for manifest in manifests:
        validate_manifest(manifest)


def test_llama_server_runs_on_the_v6e_pool_with_the_scenarios_identity(dev: PreviewResult) -> None:
    pod = dev.one("kubernetes:apps/v1:Deployment", "vllm-llama").inputs["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "vllm"
    assert pod["nodeSelector"]["cloud.google.com/gke-tpu-accelerator"] == "tpu-v6e-slice"
    hpa = dev.one("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "vllm-llama").inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 2)  # the v6e pool autoscales 1-2 nodes


def test_outputs_keep_kubeconfigs_secret_and_export_placements(dev: PreviewResult) -> None:
    assert dev.outputs["kubeconfigs"] == {"sd-v4": "[secret]", "llm-us-central1": "[secret]"}
    assert dev.outputs["saxml"]["nodePools"] == ["v5e-4x8-0", "v5e-4x8-1"]
    assert dev.outputs["llama"]["resourcesPerHost"] == {"google.com/tpu": 8}


def test_make_preview_command_prints_the_tree(
    tmp_path: Path, offline_cli: OfflineCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dev.json"
    monkeypatch.chdir(ROOT)  # `make preview` runs it from the project root, without --project-dir
    done = offline_cli("preview", "--stack", "dev", "--json", out)
    assert done.returncode == 0, done.stderr
    assert re.search(r"\n \+   │  ├─ gcp:container/nodePool:NodePool +llm-us-central1-v5e-4x8-0 +create\n", done.stdout)
    assert "+ 104 to create" in done.stdout
    document = json.loads(out.read_text())
    assert document["project"] == "gke-tpu-serving" and document["stack"] == "dev"
    assert len(document["resources"]) == 104


def _preview_variant(offline_cli: OfflineCli, tmp_path: Path, stack_text: str) -> subprocess.CompletedProcess[str]:
    """The offline preview of a copy of this project whose `bad` stack file is `stack_text`."""
    program_with_stacks(tmp_path, {"bad": stack_text})
    return offline_cli("preview", "--stack", "bad", "--project-dir", tmp_path)


def test_secret_key_in_plain_text_is_refused(tmp_path: Path, offline_cli: OfflineCli) -> None:
    stack = (ROOT / "Pulumi.dev.yaml").read_text() + "  gke-tpu-serving:hfToken: hf_plaintext\n"
    done = _preview_variant(offline_cli, tmp_path, stack)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "config key gke-tpu-serving:hfToken: set in plain text; allowed: a secret "
        "(`pulumi config set --secret hfToken ...`)"
    )


def test_secret_key_set_as_secret_reaches_the_pod_through_a_kubernetes_secret(
    tmp_path: Path, offline_cli: OfflineCli
) -> None:
    stack = (ROOT / "Pulumi.dev.yaml").read_text() + "  gke-tpu-serving:apiKey:\n    secure: v1:AAAA\n"
    done = _preview_variant(offline_cli, tmp_path, stack)
    assert done.returncode == 0, done.stderr
    assert "kubernetes:core/v1:Secret" in done.stdout and "vllm-llama-secrets" in done.stdout


def test_bad_stack_config_exits_2_with_only_the_message(tmp_path: Path, offline_cli: OfflineCli) -> None:
    done = _preview_variant(
        offline_cli, tmp_path, (ROOT / "Pulumi.dev.yaml").read_text().replace("topology: 4x8", "topology: 4x4x4")
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == (
        "config key gke-tpu-serving:clusters[1].tpuPools[0].topology: topology '4x4x4' is not valid for TPU v5e "
        "on ct5lp-hightpu-4t; allowed: 2x2 (single-host), 2x4, 4x4, 4x8, 8x8, 8x16, 16x16 (multi-host)"
    )


def test_staging_weights_runs_a_job_as_its_own_writer_before_the_server(dev: PreviewResult) -> None:
    job = dev.one("kubernetes:batch/v1:Job", "llama-weights-staging").inputs["spec"]["template"]["spec"]
    assert job["serviceAccountName"] == "weights-stager"
    assert job["containers"][0]["command"] == [
        "/opt/llama-tools/bin/python",
        "/app/stage_weights.py",
        "--dest",
        "gs://your-project-id-dev-llama-weights/models/meta-llama/Llama-3.1-70B",
        "--hf-repo",
        "meta-llama/Llama-3.1-70B",
    ]
    grants = {g.name: g.inputs["role"] for g in dev.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")}
    assert grants["llama-weights-vllm-read"] == "roles/storage.objectViewer"
    assert grants["llama-weights-weights-stager-write"] == "roles/storage.objectUser"
    deployment = dev.one("kubernetes:apps/v1:Deployment", "vllm-llama")
    # The server starts after the Job has staged the weights, and its pods need no token.
    assert dev.one("kubernetes:batch/v1:Job", "llama-weights-staging").urn in deployment.options["dependsOn"]
    env_names = [e["name"] for e in deployment.inputs["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert "HF_TOKEN" not in env_names
    # The stager's ServiceAccount waits for the namespace the scenario's identity creates.
    namespace = dev.one("kubernetes:core/v1:Namespace", "llama-identity-namespace").urn
    assert namespace in dev.one("kubernetes:core/v1:ServiceAccount", "llama-stager-ksa").options["dependsOn"]


def test_stable_diffusion_stages_the_tutorials_flax_weights_at_bf16_before_the_ray_service(dev: PreviewResult) -> None:
    job = dev.one("kubernetes:batch/v1:Job", "stableDiffusion-weights-staging").inputs
    assert (job["metadata"]["name"], job["metadata"]["namespace"]) == ("weights-staging", "stable-diffusion")
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "weights-stager"
    # The llama image the stack builds carries stage_weights.py; the Ray image cannot run it.
    assert (
        pod["containers"][0]["image"]
        == dev.one("kubernetes:apps/v1:Deployment", "vllm-llama").inputs["spec"]["template"]["spec"]["containers"][0][
            "image"
        ]
    )
    assert pod["containers"][0]["command"] == [
        "/opt/llama-tools/bin/python",
        "/app/stage_weights.py",
        "--dest",
        "gs://your-project-id-dev-stablediffusion-weights/models/CompVis/stable-diffusion-v1-4",
        "--hf-repo",
        "CompVis/stable-diffusion-v1-4",
        "--revision",
        "bf16",
        *("--allow-pattern", "model_index.json"),
        *("--allow-pattern", "scheduler/*"),
        *("--allow-pattern", "text_encoder/*"),
        *("--allow-pattern", "tokenizer/*"),
        *("--allow-pattern", "unet/*"),
        *("--allow-pattern", "vae/*"),
    ]
    # The model is public: no token, and the only Secret in the namespace is the Ray cluster's.
    assert pod["containers"][0]["env"] == []
    secrets = [
        s for s in dev.of_type("kubernetes:core/v1:Secret") if s.inputs["metadata"]["namespace"] == "stable-diffusion"
    ]
    assert [s.name for s in secrets] == ["stable-diffusion-ray-auth"]
    grants = {g.name: g.inputs["role"] for g in dev.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")}
    assert grants["stableDiffusion-weights-ray-sd-read"] == "roles/storage.objectViewer"
    assert grants["stableDiffusion-weights-weights-stager-write"] == "roles/storage.objectUser"
    service = dev.one("gke-tpu-serving:index:RayService", "stable-diffusion")
    assert dev.one("kubernetes:batch/v1:Job", "stableDiffusion-weights-staging").urn in (service.options["dependsOn"])


def test_stable_diffusion_serves_the_staged_tutorial_model_at_512(dev: PreviewResult) -> None:
    [manifest] = [m for m in kubernetes_manifests(dev) if m["kind"] == "RayService"]
    [application] = (
        manifest["spec"]["serveConfigV2"]["applications"]
        if isinstance(manifest["spec"]["serveConfigV2"], dict)
        else __import__("yaml").safe_load(manifest["spec"]["serveConfigV2"])["applications"]
    )
    assert application["args"]["model"] == "/data/weights/models/CompVis/stable-diffusion-v1-4"
    # 512x512 is the application's default, and the tutorial's size.
    assert "resolution" not in application["args"]


def test_vllm_serves_the_tutorials_model_under_its_own_name(dev: PreviewResult) -> None:
    container = dev.one("kubernetes:apps/v1:Deployment", "vllm-llama").inputs["spec"]["template"]["spec"]["containers"][
        0
    ]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MODEL"] == "/data/models/meta-llama/Llama-3.1-70B"
    assert env["SERVED_MODEL_NAME"] == "meta-llama/Llama-3.1-70B"


def test_the_offline_preview_renders_with_a_stand_in_for_the_listed_secret_and_says_so(offline_cli: OfflineCli) -> None:
    done = offline_cli("preview", "--stack", "dev", "--project-dir", ROOT)
    assert done.returncode == 0, done.stderr
    assert (
        "\nSecrets stood in for (set them before `pulumi up`, e.g. `pulumi config set --secret KEY ...`):\n"
        "    gke-tpu-serving:hfToken\n\n"
    ) in done.stdout


def test_without_the_stand_in_the_dev_stack_is_refused_with_the_command_that_sets_the_token(
    tmp_path: Path, offline_cli: OfflineCli
) -> None:
    # What a real `pulumi preview` sees before `pulumi config set --secret hfToken`: the offline key means nothing there.
    stack = (ROOT / "Pulumi.dev.yaml").read_text().replace("  offline:standInSecrets: [hfToken]\n", "")
    done = _preview_variant(offline_cli, tmp_path, stack)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "config key gke-tpu-serving:llama.stageWeights: true, but the hfToken secret is not set; allowed: false, or "
        "set it with `pulumi config set --secret hfToken ...` (Llama's weights are gated)"
    )


def test_tpu_quota_per_zone_is_an_output(dev: PreviewResult) -> None:
    assert dev.outputs["tpuQuota"] == [
        "us-central1-a v5e 64 chips",
        "us-central1-b v6e 16 chips",
        "us-central2-b v4 4 chips",
    ]


def test_image_repository_is_pulled_by_each_clusters_nodes_only(dev: PreviewResult) -> None:
    repository = dev.one("gcp:artifactregistry/repository:Repository", "images-repository")
    # One repository per stack: two stacks of a project never share (or delete) each other's images.
    assert repository.inputs["repositoryId"] == "gke-tpu-serving-dev"
    assert repository.inputs["format"] == "DOCKER"
    assert repository.inputs["dockerConfig"] == {"immutableTags": True}
    assert repository.options == {"protect": True}
    grants = dev.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
    assert sorted(g.name for g in grants) == ["images-llm-us-central1-nodes-reader", "images-sd-v4-nodes-reader"]
    assert {g.inputs["role"] for g in grants} == {"roles/artifactregistry.reader"}
    assert dev.outputs["imageRepository"] == "us-central1-docker.pkg.dev/your-project-id/gke-tpu-serving-dev"
