"""The floor of an offline preview: a Pulumi program that declares what a real preview declared (config
`gke-tpu-serving:planFile`, the preview's `--json` plan) with nothing of the real program's own around it.

`gke-tpu-serving:floor` says how much of the plan it declares:

- `plan` (the default): every resource of the plan, in dependency order, each through its provider SDK's class
  constructor (`pulumi_kubernetes.core.v1.Namespace(name, opts=..., metadata=...)`, as any program creating it does)
  with the plan's inputs, parent and options (dependsOn, provider, protect, aliases, ...), from one flat loop. What any
  program declaring this plan pays the SDK: importing the classes' modules, translating and serialising the inputs,
  the option edges, the source position of each resource. Secret inputs are passed as secret Outputs; values unknown
  at preview are passed as their placeholder text (cheaper than an unknown Output, so the floor errs low), and the
  dependencies the program's inputs carried are not in the plan (the explicit dependsOn are).
- `plain`: as many resources of each type, instances of those classes initialised as their Pulumi base class is:
  no inputs, options or parent, and (calling the base initialiser, not the class's) no source position.
- `bare`: as many bare `pulumi.CustomResource`s of each type token: the Pulumi SDK alone.

A component type (no SDK defines it) is a bare `pulumi.ComponentResource` in every mode. scripts/bench_preview.py runs
this through the same offline runner as the real program, so what the real preview costs above `plan` is the
program's own: its other imports, its checks, its component classes and their nesting, how it wires its inputs.
"""

import importlib
import importlib.util
import json
import re
from collections import Counter
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any, cast

import pulumi
from pulumi import _types
from pulumi.runtime.rpc import get_resource_module, get_resource_package

# How the offline plan writes a secret input, and the stack's type (the runner this program runs under has them).
from gke_tpu_serving.offline.model import SECRET, STACK_TYPE

MODES = ("plan", "plain", "bare")


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


def keyword_names(cls: type[pulumi.Resource]) -> dict[str, str]:
    """`{input name: constructor keyword}` of an SDK class, from the `<Class>Args` input type its module defines
    (`apiVersion` -> `api_version`); empty where there is none (apiextensions.CustomResource takes `api_version`
    and passes any other keyword through under its own name)."""
    args = getattr(importlib.import_module(cls.__module__), f"{cls.__name__}Args", None)
    if args is None or not _types.is_input_type(args):
        return {"apiVersion": "api_version"} if cls.__name__ == "CustomResource" else {}
    return {pulumi_name: python_name for python_name, pulumi_name in _types.input_type_py_to_pulumi_names(args).items()}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def replay_value(value: Any) -> Any:
    """A plan's input as the program passed it: "[secret]" as a secret Output, containers element by element."""
    if value == SECRET:
        return pulumi.Output.secret(SECRET)
    if isinstance(value, dict):
        return {key: replay_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [replay_value(item) for item in value]
    return value


def replay_options(options: dict[str, Any], declared: dict[str, pulumi.Resource]) -> pulumi.ResourceOptions:
    """A plan's options (the `--json` spelling) as resource options, resources by their declared objects."""
    timeouts = options.get("customTimeouts")
    return pulumi.ResourceOptions(
        depends_on=[declared[other] for other in options.get("dependsOn", ())] or None,
        provider=cast(pulumi.ProviderResource, declared[options["provider"]]) if "provider" in options else None,
        protect=options.get("protect"),
        retain_on_delete=options.get("retainOnDelete"),
        delete_before_replace=options.get("deleteBeforeReplace"),
        aliases=[pulumi.Alias(name=name) for name in options.get("aliases", ())] or None,
        custom_timeouts=pulumi.CustomTimeouts(**timeouts) if timeouts else None,
    )


def declare_plan(resources: list[dict[str, Any]]) -> None:
    """Every resource of a plan through its SDK class's constructor, each after its parent, provider and dependsOn."""
    by_urn = {r["urn"]: r for r in resources if r["type"] != STACK_TYPE}
    after = {
        urn: [
            other
            for other in (r["parent"], r["options"].get("provider"), *r["options"].get("dependsOn", ()))
            if other in by_urn
        ]
        for urn, r in by_urn.items()
    }
    classes: dict[str, type[pulumi.Resource] | None] = {}
    keywords: dict[type[pulumi.Resource], dict[str, str]] = {}
    declared: dict[str, pulumi.Resource] = {}
    for urn in TopologicalSorter(after).static_order():
        r = by_urn[urn]
        if r["type"] not in classes:
            classes[r["type"]] = sdk_class(r["type"])
        cls = classes[r["type"]]
        opts = replay_options(r["options"], declared)
        opts.parent = declared.get(r["parent"])
        if cls is None:
            declared[urn] = pulumi.ComponentResource(r["type"], r["name"], None, opts)
            continue
        if cls not in keywords:
            keywords[cls] = keyword_names(cls)
        names = keywords[cls]
        inputs = {names.get(key, _snake(key)): replay_value(value) for key, value in r["inputs"].items()}
        declared[urn] = cls(r["name"], opts=opts, **inputs)


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


def declare_counts(resources: list[dict[str, Any]], sdk_classes: bool) -> None:
    """As many resources of each type as the plan holds, plain (`sdk_classes`) or bare."""
    counts = Counter(r["type"] for r in resources if r["type"] != STACK_TYPE)
    for type_token, count in sorted(counts.items()):
        cls = sdk_class(type_token) if sdk_classes else None
        for index in range(count):
            register_plain(type_token, f"plain-{index}", cls)


config = pulumi.Config()
mode = config.get("floor") or "plan"
if mode not in MODES:
    raise ValueError(f"gke-tpu-serving:floor: {mode!r} is not a floor; allowed: {', '.join(MODES)}")
plan_resources: list[dict[str, Any]] = json.loads(Path(config.require("planFile")).read_text())["resources"]
if mode == "plan":
    declare_plan(plan_resources)
else:
    declare_counts(plan_resources, sdk_classes=mode == "plain")
