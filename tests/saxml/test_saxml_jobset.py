"""SaxmlJobSet and SaxmlModels under Pulumi mocks: the admin, model and HTTP servers, their identity, Services and
exposure, the declarative publishing of models; every object validated against real schemas."""

import json
import re
from typing import Any

import pulumi
import pytest
from helpers import allowed, args_factory, assert_refused_before_any_child
from manifest_validation import validate_manifest

from gke_tpu_serving import Exposure, SaxmlJobSet, SaxmlJobSetArgs, SaxmlModels, SaxmlModelsArgs
from gke_tpu_serving.catalog import TpuGeneration
from gke_tpu_serving.offline import kubernetes_manifests

COMPONENT = "gke-tpu-serving:index:SaxmlJobSet"
JOBSET = "kubernetes:jobset.x-k8s.io/v1alpha2:JobSet"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
JOB = "kubernetes:batch/v1:Job"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
HTTP_IMAGE = "us-central1-docker.pkg.dev/demo-project/gke-tpu-serving/saxml-http-server@sha256:" + "b" * 64
SPMD = {
    "model": "/sax/test/spmd",
    "model_path": "saxml.server.pax.lm.params.lm_cloud.LmCloudSpmd175B32Test",
    "checkpoint": "None",
    "replicas": 2,
}


BASE_ARGS: SaxmlJobSetArgs = {
    "namespace": "saxml",
    "service_account_name": "sax-sa",
    "bucket": "demo-saxml-state",
    "tpu_generation": TpuGeneration.V5E,
    "tpu_machine_type": "ct5lp-hightpu-4t",
    "tpu_topology": "4x8",
    "slices": 2,
    "http_server_image": HTTP_IMAGE,
    "models": [SPMD],  # type: ignore[list-item]
}
args = args_factory(BASE_ARGS)


def _pod_specs(result: Any) -> dict[str, dict[str, Any]]:
    """Every pod spec the cell runs, by the name of the object that owns it."""
    specs = {d.name: d.inputs["spec"]["template"]["spec"] for d in result.of_type(DEPLOYMENT)}
    specs |= {j.name: j.inputs["spec"]["template"]["spec"] for j in result.of_type(JOB)}
    for jobset in result.of_type(JOBSET):
        (job,) = jobset.inputs["spec"]["replicatedJobs"]
        specs[jobset.name] = job["template"]["spec"]["template"]["spec"]
    return specs


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


def test_every_object_passes_schema_validation(pulumi_mocks: Any) -> None:
    SaxmlJobSet("saxml", args())
    manifests = kubernetes_manifests(pulumi_mocks.settle())
    assert sorted(m["kind"] for m in manifests) == [
        "ConfigMap",
        "Deployment",
        "Deployment",
        "Job",
        "JobSet",
        "PodDisruptionBudget",
        "PodDisruptionBudget",
        "PodDisruptionBudget",
        "Service",
        "Service",
    ]
    for manifest in manifests:
        validate_manifest(manifest)


def test_model_servers_are_one_job_per_slice_of_eight_hosts(pulumi_mocks: Any) -> None:
    SaxmlJobSet("saxml", args())
    jobset = pulumi_mocks.settle().one(JOBSET, "saxml-model-server").inputs
    assert jobset["metadata"]["name"] == "saxml-model-server"
    assert jobset["metadata"]["annotations"] == {
        "alpha.jobset.sigs.k8s.io/exclusive-topology": "cloud.google.com/gke-nodepool"
    }
    (job,) = jobset["spec"]["replicatedJobs"]
    assert job["replicas"] == 2
    spec = job["template"]["spec"]
    assert (spec["parallelism"], spec["completions"], spec["backoffLimit"]) == (8, 8, 0)
    assert jobset["spec"]["failurePolicy"] == {"maxRestarts": 10}
    (container,) = spec["template"]["spec"]["containers"]
    assert container["image"] == "us-docker.pkg.dev/cloud-tpu-images/inference/sax-model-server:v1.2.0"
    assert container["args"] == [
        "--sax_cell=/sax/test",
        "--port=10001",
        "--platform_chip=tpuv5e",
        "--platform_topology=4x8",
    ]
    assert _env(container) == {"SAX_ROOT": "gs://demo-saxml-state/sax-root", "MEGASCALE_NUM_SLICES": ""}
    assert container["resources"] == {"requests": {"google.com/tpu": "4"}, "limits": {"google.com/tpu": "4"}}


def test_max_restarts_and_the_cell_are_configurable(pulumi_mocks: Any) -> None:
    model = {**SPMD, "model": "/sax/prod/spmd"}
    SaxmlJobSet("saxml", args(max_restarts=3, cell="/sax/prod", models=[model]))
    result = pulumi_mocks.settle()
    jobset = result.one(JOBSET, "saxml-model-server").inputs["spec"]
    assert jobset["failurePolicy"] == {"maxRestarts": 3}
    (container,) = jobset["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]["containers"]
    assert container["args"][0] == "--sax_cell=/sax/prod"
    (admin,) = result.one(DEPLOYMENT, "saxml-admin-server").inputs["spec"]["template"]["spec"]["containers"]
    assert _env(admin)["SAX_CELL"] == "/sax/prod"


def test_no_pod_uses_the_host_network_and_every_server_runs_as_the_workload_identity(pulumi_mocks: Any) -> None:
    SaxmlJobSet("saxml", args(service_account_name=pulumi.Output.from_input("sax-sa")))
    specs = _pod_specs(pulumi_mocks.settle())
    assert set(specs) == {"saxml-admin-server", "saxml-model-server", "saxml-http", "saxml-models-sync"}
    assert [name for name, spec in specs.items() if "hostNetwork" in spec] == []
    servers = {name: spec.get("serviceAccountName") for name, spec in specs.items() if name != "saxml-models-sync"}
    assert servers == {"saxml-admin-server": "sax-sa", "saxml-model-server": "sax-sa", "saxml-http": "sax-sa"}
    # The publishing Job only talks to the HTTP server: it gets no Google identity.
    assert "serviceAccountName" not in specs["saxml-models-sync"]
    assert all(spec["automountServiceAccountToken"] is False for spec in specs.values())


def test_every_pod_runs_unprivileged(pulumi_mocks: Any) -> None:
    SaxmlJobSet("saxml", args())
    for name, spec in _pod_specs(pulumi_mocks.settle()).items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in spec["containers"]:
            assert container["securityContext"] == {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            }, name


def test_admin_server_keeps_the_cell_in_the_bucket(pulumi_mocks: Any) -> None:
    SaxmlJobSet("saxml", args())
    result = pulumi_mocks.settle()
    pod = result.one(DEPLOYMENT, "saxml-admin-server").inputs["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "us-docker.pkg.dev/cloud-tpu-images/inference/sax-admin-server:v1.2.0"
    assert _env(container) == {"GSBUCKET": "demo-saxml-state", "SAX_CELL": "/sax/test", "PORT": "10000"}
    assert container["ports"] == [{"name": "serve", "containerPort": 10000}]
    assert container["readinessProbe"]["tcpSocket"] == {"port": "serve"}
    assert container["livenessProbe"]["tcpSocket"] == {"port": "serve"}
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}
    assert "nodeSelector" not in pod  # the system pool: TPU nodes are tainted for TPU pods
    service = result.one(SERVICE, "saxml-admin-server").inputs
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "serve", "port": 10000, "targetPort": "serve", "protocol": "TCP"}]


def test_http_server_finds_the_cell_through_the_bucket_and_is_private_by_default(pulumi_mocks: Any) -> None:
    component = SaxmlJobSet("saxml", args())
    result = pulumi_mocks.settle()
    (container,) = result.one(DEPLOYMENT, "saxml-http").inputs["spec"]["template"]["spec"]["containers"]
    assert container["image"] == HTTP_IMAGE
    assert _env(container) == {"SAX_ROOT": "gs://demo-saxml-state/sax-root"}
    assert container["ports"] == [{"name": "serve", "containerPort": 8888}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "serve"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "serve"}
    service = result.one(SERVICE, "saxml-http").inputs
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "serve", "port": 8888, "targetPort": "serve", "protocol": "TCP"}]
    assert "annotations" not in service["metadata"]
    assert pulumi_mocks.resolve(component.http_url) == "http://saxml-http.saxml.svc:8888"


@pytest.mark.parametrize("exposure", [Exposure.INTERNAL_LOAD_BALANCER, Exposure.PUBLIC_LOAD_BALANCER])
def test_a_load_balancer_is_refused_the_http_server_does_not_authenticate(
    pulumi_mocks: Any, exposure: Exposure
) -> None:
    assert_refused_before_any_child(
        pulumi_mocks,
        SaxmlJobSet,
        "bad",
        args(exposure=exposure),
        f"exposure: {exposure.value}, but the Saxml HTTP server (/generate; /publish and /unpublish but for the admin "
        "token) does not authenticate requests, and a load balancer would hand them to it from anywhere it is "
        "reachable; allowed: cluster-ip (to reach it from outside the cluster, route it through a Gateway with "
        "Identity-Aware Proxy (a TenantGateway route), or use kubectl port-forward)",
    )


def test_images_can_be_overridden(pulumi_mocks: Any) -> None:
    admin = "us-central1-docker.pkg.dev/p/r/saxml-admin-server:abc123"
    model = "us-central1-docker.pkg.dev/p/r/saxml-model-server:abc123"
    SaxmlJobSet("saxml", args(admin_server_image=admin, model_server_image=model))
    result = pulumi_mocks.settle()
    assert result.one(DEPLOYMENT, "saxml-admin-server").inputs["spec"]["template"]["spec"]["containers"][0][
        "image"
    ] == (admin)
    jobset = result.one(JOBSET, "saxml-model-server").inputs["spec"]["replicatedJobs"][0]
    assert jobset["template"]["spec"]["template"]["spec"]["containers"][0]["image"] == model


def test_model_servers_wait_for_the_admin_server_and_the_jobset_controller(pulumi_mocks: Any) -> None:
    controller = pulumi.CustomResource("test:index:Controller", "jobset-controller")
    SaxmlJobSet("saxml", args(), opts=pulumi.ResourceOptions(depends_on=[controller]))
    result = pulumi_mocks.settle()
    depends_on = result.one(JOBSET, "saxml-model-server").options["dependsOn"]
    assert result.one(DEPLOYMENT, "saxml-admin-server").urn in depends_on
    assert result.one("test:index:Controller", "jobset-controller").urn in depends_on


def test_models_are_published_by_a_job_running_the_client_after_the_http_server(pulumi_mocks: Any) -> None:
    SaxmlJobSet("saxml", args())
    result = pulumi_mocks.settle()
    config_map = result.one(CONFIG_MAP, "saxml-models-config").inputs
    assert json.loads(config_map["data"]["models.json"]) == {"cell": "/sax/test", "models": [SPMD]}
    job = result.one(JOB, "saxml-models-sync")
    assert re.fullmatch(r"saxml-models-sync-[0-9a-f]{10}", job.inputs["metadata"]["name"])
    (container,) = job.inputs["spec"]["template"]["spec"]["containers"]
    assert container["image"] == HTTP_IMAGE
    assert container["command"] == [
        "python",
        "-m",
        "saxml_client",
        "sync",
        "--server",
        "http://saxml-http.saxml.svc:8888",
        "--models-file",
        "/etc/saxml/models.json",
        "--wait",
    ]
    assert container["volumeMounts"] == [{"name": "models", "mountPath": "/etc/saxml", "readOnly": True}]
    volumes = job.inputs["spec"]["template"]["spec"]["volumes"]
    # The volume names the ConfigMap through its output: the Job waits for it.
    assert volumes == [{"name": "models", "configMap": {"name": "saxml-models-config"}}]
    for needed in (
        result.one(DEPLOYMENT, "saxml-http"),
        result.one(SERVICE, "saxml-http"),
        result.one(DEPLOYMENT, "saxml-admin-server"),
    ):
        assert needed.urn in job.options["dependsOn"]


def test_an_admin_token_is_kept_in_a_secret_that_the_server_and_the_publisher_read(pulumi_mocks: Any) -> None:
    SaxmlJobSet("saxml", args(admin_token=pulumi.Output.secret("t" * 48)))
    result = pulumi_mocks.settle()
    secret = result.one("kubernetes:core/v1:Secret", "saxml-admin-token").inputs
    assert secret["metadata"] == {"name": "saxml-admin-token", "namespace": "saxml"}
    assert list(secret["stringData"]) == ["SAXML_ADMIN_TOKEN"]
    by_reference = {
        "name": "SAXML_ADMIN_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "saxml-admin-token", "key": "SAXML_ADMIN_TOKEN"}},
    }
    specs = _pod_specs(result)
    (server,) = specs["saxml-http"]["containers"]
    (publisher,) = specs["saxml-models-sync"]["containers"]
    assert by_reference in server["env"] and publisher["env"] == [by_reference]
    # Nothing else gets the token: the admin and model servers never see it.
    others = [c for name in ("saxml-admin-server", "saxml-model-server") for c in specs[name]["containers"]]
    assert not [e for c in others for e in c.get("env", []) if e["name"] == "SAXML_ADMIN_TOKEN"]
    for manifest in kubernetes_manifests(result):
        validate_manifest(manifest)


def test_without_an_admin_token_no_secret_is_rendered(pulumi_mocks: Any) -> None:
    SaxmlJobSet("saxml", args())
    result = pulumi_mocks.settle()
    assert result.of_type("kubernetes:core/v1:Secret") == []
    (publisher,) = _pod_specs(result)["saxml-models-sync"]["containers"]
    assert "env" not in publisher


def test_the_publishing_job_is_bounded_and_cleaned_up(pulumi_mocks: Any) -> None:
    SaxmlJobSet("saxml", args())
    job = pulumi_mocks.settle().one(JOB, "saxml-models-sync")
    spec = job.inputs["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"], spec["ttlSecondsAfterFinished"]) == (2, 1800, 86400)
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_defaults_are_resolved_in_the_models_file(pulumi_mocks: Any) -> None:
    SaxmlJobSet("saxml", args(models=[{"model": "/sax/test/lm", "model_path": "a.b.C"}]))
    data = pulumi_mocks.settle().one(CONFIG_MAP, "saxml-models-config").inputs["data"]["models.json"]
    assert json.loads(data)["models"] == [
        {"model": "/sax/test/lm", "model_path": "a.b.C", "checkpoint": "None", "replicas": 1}
    ]


def test_without_models_nothing_is_published_or_unpublished(pulumi_mocks: Any) -> None:
    without = args()
    del without["models"]
    SaxmlJobSet("saxml", without)
    result = pulumi_mocks.settle()
    assert result.of_type(JOB) == [] and result.of_type(CONFIG_MAP) == []


BASE_MODELS_ARGS: SaxmlModelsArgs = {
    "namespace": "saxml",
    "image": HTTP_IMAGE,
    "server_url": "http://saxml-http.saxml.svc:8888",
    "models": [SPMD],  # type: ignore[list-item]
}
models_args = args_factory(BASE_MODELS_ARGS)


def _job_hashes(pulumi_mocks: Any, before: SaxmlModelsArgs, after: SaxmlModelsArgs) -> tuple[str, str]:
    """The hash suffix of the publishing Job's name for two sets of args."""
    SaxmlModels("before", before)
    SaxmlModels("after", after)
    result = pulumi_mocks.settle()
    names = [result.one(JOB, f"{name}-sync").inputs["metadata"]["name"] for name in ("before", "after")]
    return names[0].removeprefix("before-sync-"), names[1].removeprefix("after-sync-")


@pytest.mark.parametrize(
    "change",
    [
        {"models": []},
        {"models": [{**SPMD, "replicas": 1}]},
        {"models": [{**SPMD, "checkpoint": "gs://demo/ckpt"}]},
        {"image": HTTP_IMAGE.replace("b" * 64, "c" * 64)},
        {"server_url": "http://other.saxml.svc:8888"},
    ],
)
def test_any_change_renames_the_publishing_job_so_it_runs_again(pulumi_mocks: Any, change: dict[str, Any]) -> None:
    before, after = _job_hashes(pulumi_mocks, models_args(), models_args(**change))
    assert before != after


def test_an_unchanged_document_keeps_the_publishing_job(pulumi_mocks: Any) -> None:
    # Spelling a default out is no change: the name hashes the resolved models file.
    implicit = [{k: v for k, v in SPMD.items() if k != "checkpoint"}]
    before, after = _job_hashes(pulumi_mocks, models_args(), models_args(models=implicit))
    assert before == after


BAD_ARGS = [
    (
        {"tpu_generation": TpuGeneration.V6E, "tpu_machine_type": "ct6e-standard-4t", "tpu_topology": "4x4"},
        "tpu_generation: TPU v6e is not a chip Saxml knows (its model server would register an unknown chip type); allowed: v4, v5e",
    ),
    (
        {"tpu_topology": "2x2"},
        "tpu_topology: 2x2 on ct5lp-hightpu-4t is a single-host topology; allowed: a multi-host topology (SaxmlJobSet "
        "runs one model server per slice of several hosts)",
    ),
    (
        {"tpu_generation": "v7"},
        f"tpu_generation: unknown TPU generation 'v7'; allowed: {allowed(TpuGeneration)}",
    ),
    (
        {"tpu_machine_type": "ct4p-hightpu-4t"},
        "tpu_machine_type: machine type 'ct4p-hightpu-4t' is not a TPU v5e machine type; allowed: ct5lp-hightpu-1t, "
        "ct5lp-hightpu-4t, ct5lp-hightpu-8t",
    ),
    (
        {"tpu_topology": "4x4x4"},
        "tpu_topology: topology '4x4x4' is not valid for TPU v5e on ct5lp-hightpu-4t; allowed: 2x2 (single-host), "
        "2x4, 4x4, 4x8, 8x8, 8x16, 16x16 (multi-host)",
    ),
    ({"slices": 0}, "slices: 0 is not allowed; allowed: an integer >= 1"),
    ({"max_restarts": -1}, "max_restarts: -1 is not allowed; allowed: an integer >= 0"),
    (
        {"http_server_image": "saxml-http:latest"},
        "http_server_image: image 'saxml-http:latest' is not pinned; allowed: a tag other than 'latest' "
        "(REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST)",
    ),
    (
        {"model_server_image": "us-docker.pkg.dev/cloud-tpu-images/inference/sax-model-server"},
        "model_server_image: image 'us-docker.pkg.dev/cloud-tpu-images/inference/sax-model-server' is not pinned; "
        "allowed: a tag other than 'latest' (REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST)",
    ),
    (
        {"bucket": "Saxml"},
        "bucket: 'Saxml' is not a valid bucket name; allowed: 3-63 characters of lowercase letters, digits, '-' and "
        "'_', starting and ending with a letter or digit, without a 'goog' prefix or 'google' inside",
    ),
    (
        {"cell": "sax/test"},
        "cell: 'sax/test' is not a Saxml cell; allowed: /sax/NAME, NAME of lowercase letters, digits, '-' and '_' "
        "starting with a letter",
    ),
    (
        {"models": [{**SPMD, "model": "/sax/other/spmd"}]},
        "models[0].model: '/sax/other/spmd' is not a model of cell /sax/test; allowed: /sax/test/NAME, NAME of "
        "lowercase letters, digits, '-' and '_' starting with a letter",
    ),
    (
        {"models": [SPMD, SPMD]},
        "models[1].model: '/sax/test/spmd' is listed twice; allowed: each model once",
    ),
    (
        {"models": [{**SPMD, "model_path": "LmCloudSpmd175B32Test"}]},
        "models[0].model_path: 'LmCloudSpmd175B32Test' is not a registered model path; allowed: a dotted Python path "
        "such as saxml.server.pax.lm.params.lm_cloud.LmCloudSpmd175B32Test",
    ),
    (
        {"models": [{**SPMD, "checkpoint": "/data/ckpt"}]},
        "models[0].checkpoint: '/data/ckpt' is not allowed; allowed: None or a gs:// path",
    ),
    (
        {"models": [{**SPMD, "replicas": 3}]},
        "models[0].replicas: 3 is more than the 2 model servers (each replica takes one); allowed: 1 to 2",
    ),
    (
        {"exposure": "public"},
        f"exposure: 'public' is not allowed; allowed: {allowed(Exposure)}",
    ),
]


@pytest.mark.parametrize(("extra", "reason"), BAD_ARGS)
def test_bad_args_raise_before_any_child(pulumi_mocks: Any, extra: dict[str, Any], reason: str) -> None:
    assert_refused_before_any_child(pulumi_mocks, SaxmlJobSet, "bad", args(**extra), reason)


def test_a_name_too_long_for_the_model_servers_pod_names_is_refused(pulumi_mocks: Any) -> None:
    name = "a" * 35
    with pytest.raises(ValueError) as error:
        SaxmlJobSet(name, args())
    assert str(error.value) == (
        f"SaxmlJobSet '{name}': name: '{name}-model-server' makes pod names such as "
        f"'{name}-model-server-slice-1-7-abcde', which are not DNS-1035 labels of at most 63 characters; allowed: at "
        "most 47 characters of lowercase letters, digits and '-', starting with a letter"
    )
    SaxmlJobSet(name[:-1], args())


def test_saxml_models_refuses_bad_args_by_its_own_name(pulumi_mocks: Any) -> None:
    with pytest.raises(
        ValueError, match=re.escape("SaxmlModels 'm': server_url: 'saxml-http:8888' is not allowed; allowed: an http")
    ):
        SaxmlModels("m", models_args(server_url="saxml-http:8888"))


def test_saxml_models_name_must_leave_room_for_the_jobs_hash(pulumi_mocks: Any) -> None:
    # <name>-sync-<10 hex digits> must still be a DNS-1123 label: 17 characters go to the suffix.
    name = "m" * 48
    with pytest.raises(ValueError) as error:
        SaxmlModels(name, models_args())
    assert re.fullmatch(
        rf"SaxmlModels '{name}': name: '{name}-sync-[0-9a-f]{{10}}' is not a valid DNS-1123 label; allowed: 1-63 "
        r"characters of lowercase letters, digits and '-', starting and ending with a letter or digit "
        r"\(the Job's name, with its hash\)",
        str(error.value),
    )
    assert [r.type for r in pulumi_mocks.settle().resources if r.type.startswith("kubernetes:")] == []
    SaxmlModels(name[:-1], models_args())
