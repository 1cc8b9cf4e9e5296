"""Pure builders of a RayService's serveConfigV2: typed Serve application specs, their checks, and the Serve config
(ServeDeploySchema) KubeRay submits to the cluster as YAML. Imports nothing from Pulumi."""

import re
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

import yaml

from gke_tpu_serving.errors import ArgError, PathPart, require_int

SERVE_PORT = 8000
"""Where every node's Serve proxy listens (the head port named "serve")."""

_IMPORT_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*[:.][A-Za-z_][A-Za-z0-9_]*$")
_JSON_SCALARS = (str, int, float, bool, type(None))


class ServeDeploymentArgs(TypedDict):
    """Overrides for one deployment of a Serve application (Serve's deployment schema)."""

    name: str
    """The deployment's name as the application declares it, e.g. StableDiffusion."""
    num_replicas: NotRequired[int]
    """Replicas of the deployment. Default: the application's own."""
    max_ongoing_requests: NotRequired[int]
    """Requests one replica handles at once. Default: the application's own."""
    num_cpus: NotRequired[float]
    """CPUs each replica reserves (ray_actor_options.num_cpus). Default: the application's own."""
    num_gpus: NotRequired[float]
    """GPUs each replica reserves (ray_actor_options.num_gpus). Default: the application's own."""
    resources: NotRequired[dict[str, float]]
    """Custom Ray resources each replica reserves (ray_actor_options.resources), e.g. {"TPU": 4}."""


class ServeApplicationArgs(TypedDict):
    """One Ray Serve application, built from code already in the image (no runtime installs)."""

    name: str
    """Application name (unique in the RayService)."""
    import_path: str
    """module:attribute of the application or its builder, e.g. sd_serve.app:build_app."""
    route_prefix: NotRequired[str]
    """HTTP route prefix. Default: "/"."""
    args: NotRequired[dict[str, Any]]
    """Arguments passed to the application builder (JSON values). Default: none."""
    env: NotRequired[dict[str, str]]
    """Environment variables of the application's replicas (runtime_env.env_vars). Default: none."""
    deployments: NotRequired[list[ServeDeploymentArgs]]
    """Per-deployment overrides. Default: none."""


def _check_json(path: tuple[PathPart, ...], value: Any) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ArgError(path, f"key {key!r} is not allowed; allowed: string keys")
            _check_json((*path, key), item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json((*path, index), item)
    elif not isinstance(value, _JSON_SCALARS):
        raise ArgError(
            path, f"{value!r} is not allowed; allowed: JSON values (strings, numbers, booleans, lists, maps)"
        )


def _check_deployment(path: tuple[PathPart, ...], deployment: ServeDeploymentArgs) -> None:
    if not isinstance(deployment.get("name"), str) or not deployment["name"]:
        raise ArgError((*path, "name"), f"{deployment.get('name')!r} is not allowed; allowed: the deployment's name")
    for key in ("num_replicas", "max_ongoing_requests"):
        if key in deployment:
            require_int((*path, key), deployment[key], minimum=0 if key == "num_replicas" else 1)
    for key in ("num_cpus", "num_gpus"):
        value = deployment.get(key)
        if key in deployment and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            raise ArgError((*path, key), f"{value!r} is not allowed; allowed: a number >= 0")
    for resource, amount in (deployment.get("resources") or {}).items():
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
            raise ArgError((*path, "resources", resource), f"{amount!r} is not allowed; allowed: a number >= 0")


def check_serve_applications(applications: Sequence[ServeApplicationArgs]) -> None:
    """Check the applications (paths start at `applications`); raises ArgError."""
    if not isinstance(applications, list) or not applications:
        raise ArgError(("applications",), f"{applications!r} is not allowed; allowed: a non-empty list of applications")
    names: set[str] = set()
    prefixes: set[str] = set()
    for index, app in enumerate(applications):
        at: tuple[PathPart, ...] = ("applications", index)
        name = app.get("name")
        if not isinstance(name, str) or not name or name in names:
            raise ArgError((*at, "name"), f"{name!r} is not allowed; allowed: a unique, non-empty name")
        names.add(name)
        import_path = app.get("import_path")
        if not isinstance(import_path, str) or not _IMPORT_PATH.match(import_path):
            raise ArgError(
                (*at, "import_path"),
                f"{import_path!r} is not allowed; allowed: module:attribute, e.g. sd_serve.app:build_app",
            )
        prefix = app.get("route_prefix", "/")
        if not isinstance(prefix, str) or not prefix.startswith("/") or prefix in prefixes:
            raise ArgError(
                (*at, "route_prefix"), f"{prefix!r} is not allowed; allowed: a unique path starting with '/'"
            )
        prefixes.add(prefix)
        _check_json((*at, "args"), app.get("args", {}))
        for key, value in (app.get("env") or {}).items():
            if not isinstance(value, str):
                raise ArgError((*at, "env", key), f"{value!r} is not allowed; allowed: a string")
        seen: set[str] = set()
        for number, deployment in enumerate(app.get("deployments") or []):
            _check_deployment((*at, "deployments", number), deployment)
            if deployment["name"] in seen:
                raise ArgError(
                    (*at, "deployments", number, "name"), f"{deployment['name']!r} is used twice; allowed: unique names"
                )
            seen.add(deployment["name"])


def _deployment_config(deployment: ServeDeploymentArgs) -> dict[str, Any]:
    config: dict[str, Any] = {"name": deployment["name"]}
    for key in ("num_replicas", "max_ongoing_requests"):
        if key in deployment:
            config[key] = deployment[key]
    actor_options: dict[str, Any] = {key: deployment[key] for key in ("num_cpus", "num_gpus") if key in deployment}
    if deployment.get("resources"):
        actor_options["resources"] = dict(deployment["resources"])
    if actor_options:
        config["ray_actor_options"] = actor_options
    return config


def serve_config(applications: Sequence[ServeApplicationArgs]) -> dict[str, Any]:
    """Serve's declarative config (ServeDeploySchema) of the applications."""
    rendered = []
    for app in applications:
        config: dict[str, Any] = {
            "name": app["name"],
            "route_prefix": app.get("route_prefix", "/"),
            "import_path": app["import_path"],
        }
        if app.get("args"):
            config["args"] = app["args"]
        if app.get("env"):
            config["runtime_env"] = {"env_vars": dict(app["env"])}
        if app.get("deployments"):
            config["deployments"] = [_deployment_config(d) for d in app["deployments"]]
        rendered.append(config)
    # Every node's proxy listens where the Serve Service (the head port named "serve") sends traffic.
    return {"http_options": {"host": "0.0.0.0", "port": SERVE_PORT}, "applications": rendered}


def serve_config_v2(applications: Sequence[ServeApplicationArgs]) -> str:
    """serveConfigV2: the Serve config as the YAML text KubeRay submits to the cluster."""
    return yaml.safe_dump(serve_config(applications), sort_keys=False)
