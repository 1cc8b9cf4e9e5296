"""The cross-language schema of every component, generated in-process with Pulumi's analyzer (what
`pulumi package add <repo>/components` would publish to other languages)."""

import runpy
from pathlib import Path
from typing import Any

import pytest
from pulumi.provider.experimental.analyzer import Analyzer
from pulumi.provider.experimental.schema import generate_schema

from gke_tpu_serving import COMPONENTS, PACKAGE_NAME


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    result = Analyzer(PACKAGE_NAME).analyze(COMPONENTS)
    dependencies = sorted(result["dependencies"], key=lambda d: d.name)
    return generate_schema(
        PACKAGE_NAME, "0.1.0", None, result["component_definitions"], result["type_definitions"], dependencies
    ).to_json()


def _properties(spec: dict[str, Any]) -> dict[str, Any]:
    return {**spec.get("inputProperties", {}), **spec.get("properties", {})}


def test_every_component_has_its_package_token(schema: dict[str, Any]) -> None:
    assert set(schema["resources"]) == {f"{PACKAGE_NAME}:index:{c.__name__}" for c in COMPONENTS}
    assert all(spec["isComponent"] for spec in schema["resources"].values())


def test_every_input_output_and_type_property_is_documented(schema: dict[str, Any]) -> None:
    undocumented = [
        f"{token}.{name}"
        for token, spec in [*schema["resources"].items(), *schema["types"].items()]
        for name, prop in _properties(spec).items()
        if not prop.get("description")
    ]
    assert undocumented == []


def test_gke_tpu_cluster_inputs(schema: dict[str, Any]) -> None:
    spec = schema["resources"][f"{PACKAGE_NAME}:index:GkeTpuCluster"]
    assert spec["requiredInputs"] == ["location", "project"]
    inputs = spec["inputProperties"]
    # Wiring values accept outputs of other resources; shape values are plain so they are validated at construction.
    assert "plain" not in inputs["project"]
    assert "plain" not in inputs["nodeServiceAccountEmail"]
    assert inputs["location"]["plain"] is True
    assert inputs["tpuPools"]["items"]["$ref"] == f"#/types/{PACKAGE_NAME}:index:TpuPoolArgs"
    assert inputs["gpuPools"]["items"]["$ref"] == f"#/types/{PACKAGE_NAME}:index:GpuPoolArgs"


def test_gke_tpu_cluster_outputs(schema: dict[str, Any]) -> None:
    spec = schema["resources"][f"{PACKAGE_NAME}:index:GkeTpuCluster"]
    assert set(spec["properties"]) == {
        "clusterName",
        "location",
        "endpoint",
        "kubeconfig",
        "workloadPool",
        "nodeServiceAccountEmail",
    }


def test_tpu_pool_type_takes_the_catalog_enum(schema: dict[str, Any]) -> None:
    tpu_pool = schema["types"][f"{PACKAGE_NAME}:index:TpuPoolArgs"]
    assert tpu_pool["required"] == ["generation", "machineType", "name", "topology"]
    generation = schema["types"][f"{PACKAGE_NAME}:index:TpuGeneration"]
    assert [v["value"] for v in generation["enum"]] == ["v4", "v5e", "v5p", "v6e"]
    gpu = schema["types"][f"{PACKAGE_NAME}:index:GpuAcceleratorType"]
    assert "nvidia-l4" in [v["value"] for v in gpu["enum"]]


def test_workload_identity_schema(schema: dict[str, Any]) -> None:
    spec = schema["resources"][f"{PACKAGE_NAME}:index:WorkloadIdentity"]
    assert spec["requiredInputs"] == ["mode", "namespace", "project", "serviceAccountName"]
    assert set(spec["properties"]) == {"serviceAccountName", "namespace", "member", "googleServiceAccountEmail"}
    assert "googleServiceAccountEmail" not in spec["required"]
    mode = schema["types"][f"{PACKAGE_NAME}:index:WorkloadIdentityMode"]
    assert [v["value"] for v in mode["enum"]] == ["federated", "impersonate"]


def test_gcs_fuse_bucket_schema(schema: dict[str, Any]) -> None:
    spec = schema["resources"][f"{PACKAGE_NAME}:index:GcsFuseBucket"]
    assert spec["requiredInputs"] == ["bucketName", "location", "project"]
    assert set(spec["properties"]) == {"bucketName", "url"}
    grant = schema["types"][f"{PACKAGE_NAME}:index:BucketGrantArgs"]
    assert "plain" not in grant["properties"]["member"]  # takes WorkloadIdentity's member output
    access = schema["types"][f"{PACKAGE_NAME}:index:BucketAccess"]
    assert [v["value"] for v in access["enum"]] == ["read", "write"]


def test_the_plugin_entry_point_imports_and_hosts_every_component() -> None:
    # Run as a module, not as __main__, so it does not start serving.
    plugin = runpy.run_path(str(Path(__file__).resolve().parents[1] / "components" / "__main__.py"), run_name="plugin")
    assert plugin["COMPONENTS"] is COMPONENTS and plugin["PACKAGE_NAME"] == "gke-tpu-serving"
    assert {c.__name__ for c in COMPONENTS} == {
        "GkeTpuCluster",
        "WorkloadIdentity",
        "GcsFuseBucket",
        "CustomMetricsAdapter",
        "VllmDeploymentWithHpa",
        "WeightStagingJob",
        "ImageRepository",
        "Tenant",
        "TenantGateway",
        "Notebook",
        "JobSetController",
        "SaxmlJobSet",
        "SaxmlModels",
        "RayCluster",
        "RayService",
        "KubeRayOperator",
    }
