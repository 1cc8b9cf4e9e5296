"""The typed stack config: the only module that reads `pulumi.Config`.

`load()` reads the raw values and hands them to `parse()`, which is pure: it checks every key (structure, catalog
facts, cross references between clusters and scenarios) and raises `ConfigError` naming the config key, the bad
value and what is allowed, before the program registers any resource.
"""

import dataclasses
import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

import pulumi

from gke_tpu_serving.catalog.prices import CONFIG_KEY as PRICES_KEY
from gke_tpu_serving.catalog.prices import parse_prices
from gke_tpu_serving.cluster.gke_tpu_cluster import GkeTpuClusterArgs, ReleaseChannel
from gke_tpu_serving.cluster.obtainability import Obtainability
from gke_tpu_serving.cluster.plan import plan_cluster
from gke_tpu_serving.errors import ArgError, PathPart, format_path
from gke_tpu_serving.names import check_region

from .ingress import check_client_namespaces
from .model import PROJECT, Cluster, ConfigError, Placement, Scenario, StackInfo, config_error
from .naming import check_instance_name
from .scenarios import SCENARIOS
from .tenancy import parse as tenants
from .tenancy.model import Tenancy
from .typed import convert, unknown_key

__all__ = ["NAMESPACES", "PROJECT", "ConfigError", "StackConfig", "check_namespaces", "load", "parse"]

_GCP_PROJECT_ID = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")


class StackDefaults(TypedDict):
    """Stack-wide defaults for clusters that do not set their own (declared with types in Pulumi.yaml)."""

    release_channel: ReleaseChannel
    """Release channel. Pulumi.yaml's default: REGULAR."""
    deletion_protection: bool
    """Deletion protection. Pulumi.yaml's default: true."""


class ImageSettings(TypedDict):
    """Where the workload images live (declared with types in Pulumi.yaml)."""

    image_registry_location: str
    """Region of the Artifact Registry repository. Pulumi.yaml's default: us-central1."""
    ci_service_account: str
    """Email of the service account CI pushes images as (granted writer on the repository); "" for none."""


# The same defaults Pulumi.yaml declares for them.
IMAGE_DEFAULTS = {"imageRegistryLocation": "us-central1", "ciServiceAccount": ""}
_SERVICE_ACCOUNT_EMAIL = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]@[-a-z0-9.]+\.gserviceaccount\.com$")

# Keys that must be set with `pulumi config set --secret`; they reach the program as Pulumi secrets only.
SECRET_KEYS = ("hfToken", "apiKey", "iapClientSecret", "notebookSecret")

# The same defaults Pulumi.yaml declares (the engine applies those; parse() is also called without the engine).
DEFAULTS = {"releaseChannel": "REGULAR", "deletionProtection": True}


TOP_LEVEL_KEYS = (*DEFAULTS, *IMAGE_DEFAULTS, "clusters", *SCENARIOS, "tenants", "tenancy", *SECRET_KEYS, PRICES_KEY)
"""Every `gke-tpu-serving:` key a stack file may set, in the order messages list them."""


def _parse_cluster(index: int, raw: Any, project: str, defaults: StackDefaults) -> Cluster:
    at: tuple[PathPart, ...] = ("clusters", index)
    if not isinstance(raw, Mapping):
        raise config_error(at, f"{raw!r} is not allowed; allowed: a mapping with name, location, ...")
    fields = dict(raw)
    name = fields.pop("name", None)
    if name is None:
        raise config_error((*at, "name"), "missing; required: the cluster's name")
    if not isinstance(name, str):
        raise config_error((*at, "name"), f"{name!r} is not allowed; allowed: the cluster's name, a string")
    try:
        # A cluster entry is the cluster's name plus GkeTpuCluster's own args in camelCase.
        args = convert(fields, GkeTpuClusterArgs, skip=frozenset({"project"}), extra=("name",))
        args["project"] = project
        for key, value in defaults.items():
            args.setdefault(key, value)
        plan = plan_cluster(name, args)
    except ArgError as error:
        raise config_error((*at, *error.path), error.reason) from None
    return Cluster(index=index, name=name, args=args, plan=plan)


@dataclass(frozen=True)
class StackConfig:
    """The whole stack config, validated."""

    gcp_project: str
    clusters: tuple[Cluster, ...]
    instances: tuple[Placement, ...]
    """Every scenario instance, in the order the stack deploys them."""
    stack: str = "dev"
    """The Pulumi stack's name: derived physical names include it."""
    image_registry_location: str = "us-central1"
    """Region of the Artifact Registry repository for the workload images."""
    ci_service_account: str | None = None
    """Email of the service account CI pushes images as."""
    secrets: Mapping[str, Any] = field(default_factory=dict)
    """Secret config values (pulumi.Output secrets) by key, e.g. hfToken."""
    tenancy: Tenancy | None = None
    """The teams sharing the clusters (`tenants`, `tenancy`), if any."""

    @property
    def info(self) -> StackInfo:
        return StackInfo(gcp_project=self.gcp_project, stack=self.stack)

    @property
    def scenario_keys(self) -> set[str]:
        """The config keys of the scenarios that have an instance."""
        return {instance.key for instance in self.instances}

    def instance(self, key: str, name: str | None = None) -> Placement:
        """The instance of scenario `key` named `name` (None: the single-mapping form's)."""
        return next(i for i in self.instances if i.key == key and i.name == name)


def _parse_placement(
    scenario: Scenario, at: tuple[PathPart, ...], raw: Any, clusters: Mapping[str, Cluster]
) -> Placement:
    """One instance: `raw` is the scenario's mapping, with `name` when it is an entry of a list of instances."""
    name = None
    if isinstance(raw, Mapping):
        raw = dict(raw)
        # `tenant` is the stack's key, not the scenario's: stacks/tenants.py checks it against the tenants.
        tenant = raw.pop("tenant", None)
        if tenant is not None and not isinstance(tenant, str):
            raise config_error((*at, "tenant"), f"{tenant!r} is not allowed; allowed: the name of a tenants entry")
        if len(at) == 1 and "name" in raw:
            raise config_error(
                (*at, "name"),
                "set on a single instance; allowed: a name on each entry of a list of instances "
                f"(`{at[0]}: [{{name: ..., cluster: ..., ...}}]`)",
            )
        if len(at) > 1:
            if "name" not in raw:
                raise config_error((*at, "name"), "missing; required: the instance's name")
            try:
                name = check_instance_name(raw.pop("name"))
            except ValueError as error:
                raise config_error((*at, "name"), str(error)) from None
    else:
        tenant = None
    # The stack's own keys, read above: listed among the allowed keys with the scenario's.
    extra = ("name", "tenant") if len(at) > 1 else ("tenant",)
    try:
        settings = convert(raw, scenario.config_type, extra=extra)
    except ArgError as error:
        raise config_error((*at, *error.path), error.reason) from None
    cluster = clusters.get(settings["cluster"])
    if cluster is None:
        raise config_error(
            (*at, "cluster"),
            f"{settings['cluster']!r} is not a cluster of this stack; allowed: {', '.join(clusters)}",
        )
    pool = settings["pool"]
    if pool not in cluster.plan.pool_names:
        raise config_error(
            (*at, "pool"),
            f"{pool!r} is not an accelerator pool of cluster {cluster.name!r}; "
            f"allowed: {', '.join(cluster.plan.pool_names) or 'none (the cluster has no tpuPools or gpuPools)'}",
        )
    queued = [p for p in cluster.plan.tpu_slices_of(pool) if p.obtainability is Obtainability.QUEUED_PROVISIONING]
    if queued:
        # Queued provisioning nodes exist only for a ProvisioningRequest; the scenarios' pods (Deployments, JobSets,
        # RayServices) create none, so they would stay pending for ever.
        raise config_error(
            (*at, "pool"),
            f"{pool!r} is a queued provisioning pool, whose nodes GKE creates only for a ProvisioningRequest, and "
            f"{scenario.key} creates none; allowed: a pool without queuedProvisioning (flexStart obtains nodes for "
            "pending pods)",
        )
    return Placement(
        scenario=scenario,
        name=name,
        path=at,
        cluster=cluster,
        pool=pool,
        tpu_pools=cluster.plan.tpu_slices_of(pool),
        settings=settings,
        tenant=tenant,
    )


def _parse_instances(scenario: Scenario, raw: Any, clusters: Mapping[str, Cluster]) -> list[Placement]:
    """A scenario's instances: one mapping (one instance, with the scenario's own names) or a list of named ones."""
    key = scenario.key
    if not isinstance(raw, list):
        return [_parse_placement(scenario, (key,), raw, clusters)]
    if not raw:
        raise config_error(
            (key,), "[] is not allowed; allowed: a mapping (one instance) or a non-empty list of named instances"
        )
    instances = [_parse_placement(scenario, (key, index), entry, clusters) for index, entry in enumerate(raw)]
    seen: set[str | None] = set()
    for instance in instances:
        if instance.name in seen:
            raise config_error(instance.at("name"), f"{instance.name!r} is used twice; allowed: unique names")
        seen.add(instance.name)
    return instances


def _check_namespaces(instances: Sequence[Placement]) -> None:
    """Each instance creates its namespace (unless a tenant owns it): two on one cluster must not share one."""
    owners: dict[tuple[str, str], Placement] = {}
    for instance in instances:
        if instance.tenant is not None:
            continue
        other = owners.setdefault((instance.cluster.name, instance.namespace), instance)
        if other is not instance:
            raise config_error(
                instance.at("namespace"),
                f"{instance.namespace!r} is already the namespace of {format_path(other.path, camel=True)} on "
                f"cluster {instance.cluster.name!r}; allowed: a namespace of its own",
            )


def parse(
    raw: Mapping[str, Any], gcp_project: str | None, secret_keys: frozenset[str] = frozenset(), stack: str = "dev"
) -> StackConfig:
    """Validate the raw config: project keys without the `gke-tpu-serving:` prefix, values parsed from YAML;
    `secret_keys` names the secret keys that are set (their values never reach this function); `stack` is the
    Pulumi stack's name."""
    if not gcp_project:
        raise ConfigError(
            "config key gcp:project is missing; set it with `pulumi config set gcp:project YOUR_PROJECT_ID`"
        )
    if not _GCP_PROJECT_ID.match(gcp_project):
        raise ConfigError(
            f"config key gcp:project: {gcp_project!r} is not a GCP project id; allowed: 6-30 characters of "
            "lowercase letters, digits and '-', starting with a letter"
        )
    known = TOP_LEVEL_KEYS
    for key in raw:
        if key not in known:
            error = unknown_key((), key, known, raw)
            raise config_error(error.path, error.reason)
    _check_prices(raw)

    raw_clusters = raw.get("clusters")
    if not isinstance(raw_clusters, list) or not raw_clusters:
        raise config_error(("clusters",), f"{raw_clusters!r} is not allowed; allowed: a non-empty list of clusters")
    try:
        defaults = convert({**DEFAULTS, **{k: raw[k] for k in DEFAULTS if k in raw}}, StackDefaults)
        images = convert({**IMAGE_DEFAULTS, **{k: raw[k] for k in IMAGE_DEFAULTS if k in raw}}, ImageSettings)
    except ArgError as error:
        raise config_error(error.path, error.reason) from None
    _check_image_settings(images)
    clusters = tuple(_parse_cluster(index, entry, gcp_project, defaults) for index, entry in enumerate(raw_clusters))
    by_name: dict[str, Cluster] = {}
    for cluster in clusters:
        if cluster.name in by_name:
            raise config_error(
                ("clusters", cluster.index, "name"), f"{cluster.name!r} is used twice; allowed: unique names"
            )
        by_name[cluster.name] = cluster

    info = StackInfo(gcp_project=gcp_project, stack=stack)
    instances: list[Placement] = []
    for key, scenario in SCENARIOS.items():
        if raw.get(key) is not None:
            for instance in _parse_instances(scenario, raw[key], by_name):
                check_client_namespaces(instance)
                scenario.check(instance, info, secret_keys)
                instances.append(instance)
    _check_namespaces(instances)
    tenancy = tenants.parse(raw.get("tenants"), raw.get("tenancy"), by_name, instances, info, secret_keys)
    return StackConfig(
        gcp_project=gcp_project,
        clusters=clusters,
        instances=tuple(instances),
        stack=stack,
        image_registry_location=images["image_registry_location"],
        ci_service_account=images["ci_service_account"] or None,
        tenancy=tenancy,
    )


def _check_image_settings(images: ImageSettings) -> None:
    try:
        check_region(images["image_registry_location"])
    except ValueError as error:
        raise config_error(("image_registry_location",), str(error)) from None
    email = images["ci_service_account"]
    if email and not _SERVICE_ACCOUNT_EMAIL.match(email):
        raise config_error(
            ("ci_service_account",),
            f"{email!r} is not a service account email; allowed: NAME@PROJECT.iam.gserviceaccount.com, or an empty "
            "string for none",
        )


# The namespaces whose keys take effect: the project's own, the provider that registers resources with its default
# instance (every gcp resource; stack config configures only default providers, per Pulumi's "Resource providers"
# docs, pulumi.com/docs/iac/concepts/resources/providers, checked 2026-12-02) and Pulumi's own
# (pulumi:disable-default-providers, pulumi:tags, ...). `offline:` holds the offline preview's own settings
# (offline:standInSecrets, read by gke_tpu_serving.offline); `pulumi up` passes them on and the program ignores them.
NAMESPACES = (PROJECT, "gcp", "pulumi", "offline")


def check_namespaces(keys: Iterable[str]) -> None:
    """Refuse a config key that nothing reads: a misspelt namespace (`gke_tpu_serving:llama`) would otherwise drop a
    whole scenario with exit 0."""
    for key in sorted(keys):
        namespace, _, name = key.partition(":")
        if namespace in NAMESPACES:
            continue
        if namespace == "kubernetes":
            # Checked on the shipped stacks' plans: no Kubernetes resource uses the default provider.
            raise ConfigError(
                f"config key {key}: never read: every Kubernetes resource of this program goes through the provider "
                "built from its cluster's kubeconfig, which stack config does not configure; allowed: remove it"
            )
        close = difflib.get_close_matches(namespace.lower().replace("_", "-"), NAMESPACES, n=1)
        hint = f" (did you mean {close[0]}:{name}?)" if close else ""
        raise ConfigError(
            f"config key {key}: namespace {namespace!r} is not this project's nor a provider's{hint}; "
            f"allowed namespaces: {', '.join(NAMESPACES)}"
        )


def load() -> StackConfig:
    """Read this stack's config from Pulumi and validate it."""
    prefix = f"{PROJECT}:"
    # Every key the engine passed (through the environment or set_all_config), so that a misspelt key or namespace
    # is an error instead of being silently ignored.
    set_keys = {*pulumi.runtime.config.get_config_env(), *pulumi.runtime.config.CONFIG.get()}
    check_namespaces(set_keys)
    config = pulumi.Config(PROJECT)
    secrets = {}
    for key in SECRET_KEYS:
        if f"{prefix}{key}" not in set_keys:
            continue
        if not pulumi.runtime.config.is_config_secret(f"{prefix}{key}"):
            raise ConfigError(
                f"config key {prefix}{key}: set in plain text; allowed: a secret "
                f"(`pulumi config set --secret {key} ...`)"
            )
        secrets[key] = config.require_secret(key)
    raw: dict[str, Any] = {}
    for key in sorted(k.removeprefix(prefix) for k in set_keys if k.startswith(prefix)):
        if key in SECRET_KEYS:
            continue
        text = config.get(key)
        if text is None:
            continue
        try:
            raw[key] = json.loads(text)
        except json.JSONDecodeError:
            raw[key] = text  # a plain string where structure is expected is reported by parse()
    parsed = parse(raw, pulumi.Config("gcp").get("project"), frozenset(secrets), pulumi.get_stack())
    return dataclasses.replace(parsed, secrets=secrets)


def _check_prices(raw: Mapping[str, Any]) -> None:
    """The `prices` key only prices the preview's node pools (gke_tpu_serving.catalog.prices); checked here so a
    typo fails before anything is registered."""
    if PRICES_KEY in raw:
        try:
            parse_prices(raw[PRICES_KEY])
        except ValueError as error:
            raise config_error((PRICES_KEY,), str(error)) from None
