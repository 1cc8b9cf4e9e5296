"""What another project gets from the component package: the cross-language schema, generated in-process the way
the source plugin's host (components/__main__.py) generates it for `pulumi package add <repo>/components`, and the
package's metadata (version, py.typed, dependencies)."""

import ast
import json
import runpy
import subprocess
import sys
import tomllib
from importlib.metadata import requires
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from pulumi.provider.experimental.component import ComponentProvider

import gke_tpu_serving
from gke_tpu_serving import COMPONENTS, PACKAGE_NAME, __version__

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "components"
PACKAGE = PLUGIN / "gke_tpu_serving"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def hosted() -> dict[str, Any]:
    """The arguments the plugin's entry point gives `component_provider_host`, run as the engine runs it (as
    __main__) with the host replaced, so that it does not start serving."""
    calls: list[dict[str, Any]] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("pulumi.provider.experimental.component_provider_host", lambda **kwargs: calls.append(kwargs))
        runpy.run_path(str(PLUGIN / "__main__.py"), run_name="__main__")
    assert len(calls) == 1
    return calls[0]


@pytest.fixture(scope="module")
def schema(hosted: dict[str, Any]) -> dict[str, Any]:
    """The schema the host publishes: `component_provider_host` builds this provider from the same arguments."""
    provider = ComponentProvider(**hosted)
    assert provider.schema
    schema: dict[str, Any] = json.loads(provider.schema)
    return schema


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
        "dnsEndpoint",
        "kubeconfig",
        "workloadPool",
        "nodeServiceAccountEmail",
    }
    inputs = schema["resources"][f"{PACKAGE_NAME}:index:GkeTpuCluster"]["inputProperties"]
    assert inputs["publicEndpoint"]["type"] == "boolean"
    assert inputs["authorizedNetworks"]["items"]["$ref"].endswith(":index:AuthorizedNetworkArgs")
    network = schema["types"][f"{PACKAGE_NAME}:index:AuthorizedNetworkArgs"]
    assert network["required"] == ["cidrBlock"]


def test_namespace_ingress_policy_schema(schema: dict[str, Any]) -> None:
    spec = schema["resources"][f"{PACKAGE_NAME}:index:NamespaceIngressPolicy"]
    assert spec["requiredInputs"] == ["allows", "namespace"]
    allow = schema["types"][f"{PACKAGE_NAME}:index:IngressAllowArgs"]
    assert set(allow["properties"]) == {
        "name",
        "podLabels",
        "ports",
        "sameNamespace",
        "fromNamespaces",
        "fromCidrs",
    }


def test_tpu_pool_type_takes_the_catalog_enum(schema: dict[str, Any]) -> None:
    tpu_pool = schema["types"][f"{PACKAGE_NAME}:index:TpuPoolArgs"]
    assert tpu_pool["required"] == ["generation", "machineType", "name", "topology"]
    generation = schema["types"][f"{PACKAGE_NAME}:index:TpuGeneration"]
    assert [v["value"] for v in generation["enum"]] == ["v4", "v5e", "v5p", "v6e", "tpu7x"]
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


def test_the_plugin_entry_point_hosts_every_component(hosted: dict[str, Any]) -> None:
    assert hosted["components"] is COMPONENTS and hosted["name"] == "gke-tpu-serving"
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
        "NamespaceIngressPolicy",
    }


def test_the_schema_version_is_the_package_version(schema: dict[str, Any]) -> None:
    # The wheel's version is read from the same attribute, so SDKs generated from the plugin carry the package's.
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "gke_tpu_serving.__version__"}
    assert schema["version"] == __version__ == str(Version(__version__))


def test_the_schema_cannot_mark_secrets(schema: dict[str, Any]) -> None:
    # Pulumi 3.272's analyzer has no secret marker (PropertyDefinition and schema.Property carry no `secret`), so
    # README says the secrets are secret values at run time, not in the schema. When this fails, the SDK has
    # learned secrets: mark kubeconfig and the token inputs, and update README.
    cluster = schema["resources"][f"{PACKAGE_NAME}:index:GkeTpuCluster"]
    assert "secret" not in cluster["properties"]["kubeconfig"]
    vllm = schema["resources"][f"{PACKAGE_NAME}:index:VllmDeploymentWithHpa"]
    assert "secret" not in vllm["inputProperties"]["hfToken"]


def test_the_package_ships_py_typed() -> None:
    assert (PACKAGE / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["gke_tpu_serving"]


# Import names of the package's third-party imports, and the distributions that provide them (google is a
# namespace package: its distributions are per subpackage).
DISTRIBUTIONS = {
    "pulumi": "pulumi",
    "pulumi_gcp": "pulumi-gcp",
    "pulumi_kubernetes": "pulumi-kubernetes",
    "yaml": "pyyaml",
    "google.protobuf": "protobuf",
}
# Imported, but installed as the pulumi SDK's own dependencies: the offline mocks speak the engine's protobuf.
FROM_PULUMI = {"protobuf"}


def _imported_distributions() -> set[str]:
    modules: set[str] = set()
    for path in [PLUGIN / "__main__.py", *PACKAGE.rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module)
    third_party = {
        ".".join(m.split(".")[:2]) if m.startswith("google.") else m.split(".")[0]
        for m in modules
        if m.split(".")[0] not in {*sys.stdlib_module_names, "gke_tpu_serving"}
    }
    unknown = third_party - DISTRIBUTIONS.keys()
    assert not unknown, f"add the distributions of {sorted(unknown)} to DISTRIBUTIONS"
    return {DISTRIBUTIONS[name] for name in third_party}


def _requirements(lines: list[str]) -> dict[str, Requirement]:
    parsed = [Requirement(line) for line in lines if line and not line.startswith("#")]
    return {canonicalize_name(r.name): r for r in parsed}


def test_both_dependency_lists_are_what_the_package_imports() -> None:
    # pyproject.toml is what `pip install` reads; components/requirements.txt, what the engine installs for the plugin.
    declared = _requirements(PYPROJECT["project"]["dependencies"])
    assert _requirements((PLUGIN / "requirements.txt").read_text().splitlines()) == declared
    assert all({s.operator for s in r.specifier} == {">=", "<"} for r in declared.values()), declared
    assert set(declared) == _imported_distributions() - FROM_PULUMI
    assert FROM_PULUMI.issubset(canonicalize_name(Requirement(r).name) for r in requires("pulumi") or [])


def test_the_plugin_host_does_not_import_the_offline_harness() -> None:
    # A fresh interpreter, as the engine starts the plugin: importing the entry point's modules must leave the mocks
    # and runner out of the provider (README, "Using the components from another project").
    check = (
        "import runpy, sys; runpy.run_path(sys.argv[1], run_name='plugin'); "
        "assert 'gke_tpu_serving' in sys.modules and 'gke_tpu_serving.offline' not in sys.modules"
    )
    subprocess.run(
        [sys.executable, "-c", check, str(PLUGIN / "__main__.py")],
        check=True,
        env={"PYTHONPATH": str(PLUGIN)},
    )


def _type_checking_imports() -> dict[str, tuple[str, ...]]:
    """What the package root imports for type checkers: {module: names}."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    (block,) = [n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"]
    return {
        node.module: tuple(alias.name for alias in node.names)
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gke_tpu_serving.")
    }


def test_the_lazy_names_are_the_names_type_checkers_see() -> None:
    exports = gke_tpu_serving._EXPORTS
    assert _type_checking_imports() == exports
    for module, names in exports.items():
        for name in names:
            assert getattr(gke_tpu_serving, name) is getattr(sys.modules[module], name), name
    assert sorted(gke_tpu_serving.__all__) == sorted(
        ["COMPONENTS", "PACKAGE_NAME", *(n for ns in exports.values() for n in ns)]
    )


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'gke_tpu_serving' has no attribute 'GkeTpuClusters'"):
        gke_tpu_serving.GkeTpuClusters  # noqa: B018


def test_importing_a_component_imports_its_domain_and_no_provider_module_before_it_is_used() -> None:
    # A fresh interpreter: the package root and the offline runner import no component and no provider SDK; importing
    # Tenant imports its own component modules, no other domain's, and no Google service package of pulumi_gcp.
    check = (
        "import json, sys; import gke_tpu_serving.offline.__main__; before = set(sys.modules); "
        "from gke_tpu_serving import Tenant; "
        "real = lambda names: sorted(n for n in names if type(sys.modules[n]).__name__ != '_LazyModule'); "
        "packages = [n for n in real(set(sys.modules) - before) if hasattr(sys.modules[n], '__path__')]; "
        "print(json.dumps([real(before), real(set(sys.modules) - before), packages]))"
    )
    run = subprocess.run(
        [sys.executable, "-c", check], check=True, capture_output=True, text=True, env={"PYTHONPATH": str(PLUGIN)}
    )
    runner, tenant, tenant_packages = json.loads(run.stdout)
    component_modules = set(gke_tpu_serving._EXPORTS) - {"gke_tpu_serving.catalog"}
    assert sorted(component_modules & set(runner)) == []
    assert [m for m in runner if m.startswith(("pulumi_gcp", "pulumi_kubernetes", "requests"))] == []
    assert sorted(component_modules & set(tenant)) == [
        "gke_tpu_serving.identity.workload_identity",
        "gke_tpu_serving.tenancy.tenant",
    ]
    # Its Google service account and IAM binding (pulumi_gcp.serviceaccount, .projects) load when it creates them.
    assert [p for p in tenant_packages if p.startswith("pulumi_gcp")] == ["pulumi_gcp"]
