"""Every custom resource the shipped stacks (Pulumi.<stack>.yaml) render has its upstream CRD schema pinned in
tests/crds/sources.json and fits it strictly: none is left unvalidated. Also what makes a schema missing or a field
misspelt fail, for both kinds of schema file (a full CRD, a bare openAPIV3Schema)."""

import pytest
from helpers import ROOT
from jsonschema import ValidationError
from manifest_validation import NoSchemaError, core_kinds, validate_manifest

from gke_tpu_serving.offline import kubernetes_manifests, run_program

STACKS = sorted(path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in ROOT.glob("Pulumi.*.yaml"))


def test_the_shipped_stacks_are_the_four_stack_files() -> None:
    assert STACKS == ["autopilot", "dev", "gpu", "teams"]


@pytest.mark.parametrize(
    ("stack", "custom_kinds"),
    [
        ("autopilot", {("monitoring.googleapis.com/v1", "PodMonitoring")}),
        (
            "dev",
            {
                ("jobset.x-k8s.io/v1alpha2", "JobSet"),
                ("monitoring.googleapis.com/v1", "PodMonitoring"),
                ("ray.io/v1", "RayService"),
            },
        ),
        ("gpu", {("ray.io/v1", "RayService")}),
        (
            "teams",
            {
                ("gateway.networking.k8s.io/v1", "Gateway"),
                ("gateway.networking.k8s.io/v1", "HTTPRoute"),
                ("networking.gke.io/v1", "GCPBackendPolicy"),
                ("networking.gke.io/v1", "HealthCheckPolicy"),
                ("ray.io/v1", "RayCluster"),
            },
        ),
    ],
)
def test_every_object_of_a_shipped_stack_fits_its_schema_custom_resources_their_crds(
    stack: str, custom_kinds: set[tuple[str, str]]
) -> None:
    manifests = kubernetes_manifests(run_program(ROOT, stack))
    # validate_manifest validates these against their CRD schemas: kubernetes-validate knows none of them.
    assert {(m["apiVersion"], m["kind"]) for m in manifests} - core_kinds() == custom_kinds
    for manifest in manifests:
        validate_manifest(manifest)


def test_a_custom_resource_without_a_pinned_schema_is_refused() -> None:
    with pytest.raises(NoSchemaError) as raised:
        validate_manifest({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}})
    assert str(raised.value) == "no CRD schema for example.com/v1 Widget in tests/crds/sources.json"


HTTP_ROUTE = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "r"}}
HEALTH_CHECK_POLICY = {"apiVersion": "networking.gke.io/v1", "kind": "HealthCheckPolicy", "metadata": {"name": "h"}}


@pytest.mark.parametrize(
    ("manifest", "misspelt"),
    [
        # A full CRD (.yaml), made strict by the tests.
        ({**HTTP_ROUTE, "spec": {"hostname": ["a.example.com"]}}, "hostname"),
        # A bare openAPIV3Schema (.json), strict as published.
        (
            {
                **HEALTH_CHECK_POLICY,
                "spec": {"targetRef": {"group": "", "kind": "Service", "name": "s"}, "defaults": {}},
            },
            "defaults",
        ),
    ],
    ids=["crd", "openapi-schema"],
)
def test_a_misspelt_field_fails_either_kind_of_schema(manifest: dict[str, object], misspelt: str) -> None:
    with pytest.raises(ValidationError) as raised:
        validate_manifest(manifest)
    assert raised.value.message == f"Additional properties are not allowed ('{misspelt}' was unexpected)"
    assert list(raised.value.absolute_path) == ["spec"]
