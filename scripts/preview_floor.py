"""The floor of an offline preview: a Pulumi program that registers as many resources of each type as a real preview
did (config `gke-tpu-serving:types`, `{type token: count}`), each as plain as the SDK allows: no inputs, no options, no
parent. With `gke-tpu-serving:sdkClasses` true (the default) each is an instance of the class its provider SDK defines
for the type (`pulumi_kubernetes.core.v1.Namespace` for `kubernetes:core/v1:Namespace`), so the floor pays what any
program creating those types pays the SDK: importing their modules and resolving their classes' output types; false,
a bare `pulumi.CustomResource` of the type token (the Pulumi SDK alone). A component type (no SDK defines it) is a
bare `pulumi.ComponentResource` either way.

scripts/bench_preview.py runs it through the same offline runner as the real program, so what the real preview costs
above it is the program's own: its other imports, its checks, its components, their inputs and options.
"""

import importlib
import importlib.util
from typing import Any

import pulumi
from pulumi.runtime.rpc import get_resource_module, get_resource_package


def provider_package(type_token: str) -> tuple[str, str | None]:
    """A type's Pulumi package (kubernetes for `pulumi:providers:kubernetes` too) and the Python package of its SDK
    (pulumi_kubernetes), None where none is installed: a component package such as gke-tpu-serving."""
    package, module, name = type_token.split(":")
    if package == "pulumi" and module == "providers":
        package = name
    python_package = "pulumi_" + package.replace("-", "_")
    return package, python_package if importlib.util.find_spec(python_package) else None


def sdk_class(type_token: str) -> type[pulumi.Resource] | None:
    """The class that defines a type in its provider SDK, None for a component type. Looked up as the SDK registers
    it, and loaded: a provider package's modules are lazy until a name in them is read."""
    package, python_package = provider_package(type_token)
    if python_package is None:
        return None
    # Importing the SDK's package registers its modules and the types each defines.
    importlib.import_module(python_package)
    if type_token.startswith("pulumi:providers:"):
        info = getattr(get_resource_package(package, ""), "pkg_info", None)
        module, name = (info["fqn"], info["class"]) if info else (python_package, "Provider")
    else:
        info = getattr(get_resource_module(package, type_token.split(":")[1], ""), "mod_info", None)
        if info is not None:
            module, name = info["fqn"], info["classes"][type_token]
        else:
            # Not a type of the SDK: a Kubernetes custom resource (ray.io/v1:RayService) is created through
            # pulumi_kubernetes.apiextensions.CustomResource.
            module, name = f"{python_package}.apiextensions", "CustomResource"
    defined: type[pulumi.Resource] = getattr(importlib.import_module(module), name)
    return defined


def register_plain(type_token: str, name: str, cls: type[pulumi.Resource] | None) -> None:
    """One resource of the type with no inputs: an instance of `cls` initialised as its Pulumi base class is (the
    SDK class's own constructor would demand its required inputs), or a bare resource where `cls` is None."""
    if cls is None:
        if provider_package(type_token)[1] is None:
            pulumi.ComponentResource(type_token, name)
        else:
            pulumi.CustomResource(type_token, name, {})
        return
    resource: Any = cls.__new__(cls)
    if issubclass(cls, pulumi.ProviderResource):
        pulumi.ProviderResource.__init__(resource, provider_package(type_token)[0], name, {})
    elif issubclass(cls, pulumi.CustomResource):
        pulumi.CustomResource.__init__(resource, type_token, name, {})
    else:
        # A provider's component (kubernetes:yaml/v2:ConfigFile) is constructed by its provider.
        pulumi.ComponentResource.__init__(resource, type_token, name, {}, remote=True)


config = pulumi.Config()
counts: dict[str, int] = config.require_object("types")
with_sdk_classes = config.get_bool("sdkClasses") is not False
for type_token, count in sorted(counts.items()):
    cls = sdk_class(type_token) if with_sdk_classes else None
    for index in range(count):
        register_plain(type_token, f"plain-{index}", cls)
