"""The validated stack config's building blocks, shared by config.py (which builds them), the scenarios and the
tenants. The bottom of stacks/: it imports nothing else from stacks/ but naming.

A scenario (Stable Diffusion, Saxml, Llama) is a plug-in: a `Scenario` value with its config type, its storage, its
checks, what it asks of a tenant's quota and how it deploys. `stacks/scenarios/__init__.py` registers each once.
A stack holds any number of named instances of each scenario (`Placement`), each on its own cluster and pool.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

import pulumi

from gke_tpu_serving import BucketAccess, GkeTpuCluster, Tenant, WorkloadIdentityMode
from gke_tpu_serving.cluster.plan import ClusterPlan, GpuPoolPlan, TpuPoolPlan
from gke_tpu_serving.errors import PathPart, format_path
from gke_tpu_serving.tenancy.quota import Resources

from .cluster_addons import ClusterAddons
from .images import StackImages
from .naming import BUCKET_NAME_MAX, SERVICE_ACCOUNT_ID_MAX, derived_name

PROJECT = "gke-tpu-serving"


class ConfigError(ValueError):
    """Bad stack config. The message starts with the config key."""


def config_error(path: tuple[PathPart, ...], reason: str) -> ConfigError:
    """`("clusters", 0, "tpu_pools")` -> "config key gke-tpu-serving:clusters[0].tpuPools: <reason>"."""
    return ConfigError(f"config key {PROJECT}:{format_path(path, camel=True)}: {reason}")


class ScenarioPlacement(TypedDict):
    """Where a scenario instance runs: a cluster of `clusters` and one of that cluster's accelerator pools."""

    cluster: str
    """The `name` of a cluster in `clusters`."""
    pool: str
    """The `name` of one of that cluster's `tpuPools` or `gpuPools`."""


class StorageScenarioConfig(ScenarioPlacement):
    """A scenario whose pods use a bucket through a Workload Identity Kubernetes ServiceAccount."""

    namespace: NotRequired[str]
    """Kubernetes namespace of the instance (created by the stack). Default: the scenario's own, with `-<name>` for
    a named instance."""
    bucket: NotRequired[str]
    """Bucket name. Default: `<gcp:project>-<stack>-<scenario>[-<name>]-<role>`, shortened with a hash past 63."""
    protect_bucket: NotRequired[bool]
    """Protect the bucket from deletion (see README, "Deleting a bucket on purpose"). Default: true."""
    client_namespaces: NotRequired[list[str]]
    """Namespaces whose pods may call the instance's server on its serving port (an application of yours calling
    the model); its own namespace and `kubectl port-forward` need nothing. Not with `tenant` (the tenant's policies
    decide who reaches it). Default: none."""


@dataclass(frozen=True)
class StorageSpec:
    """How a scenario's pods reach their bucket."""

    default_namespace: str
    """The namespace of the scenario's unnamed instance; named instances append `-<name>`."""
    service_account: str
    """The Kubernetes ServiceAccount's name."""
    mode: WorkloadIdentityMode
    access: BucketAccess
    bucket_role: str
    """What the bucket holds (state, weights): it names the bucket component `<instance>-<role>` and ends the
    default bucket name."""


@dataclass(frozen=True)
class Cluster:
    """A cluster of the stack: its name, the component's args, and the validated plan of those args."""

    index: int
    """Position in `clusters` (for error messages)."""
    name: str
    args: Mapping[str, Any]
    """GkeTpuCluster's args (GkeTpuClusterArgs), as validated."""
    plan: ClusterPlan


@dataclass(frozen=True)
class StackInfo:
    """What every physical name derives from: the project and the stack."""

    gcp_project: str
    stack: str


@dataclass(frozen=True)
class Placement:
    """One instance of a scenario: its config, and the cluster and node pools (one per slice) it runs on."""

    scenario: "Scenario"
    name: str | None
    """The instance's name; None for the single-mapping form (`llama: {...}`), which keeps the scenario's names."""
    path: tuple[PathPart, ...]
    """Its config key: `(llama,)` or `(llama, 1)`; error messages start there."""
    cluster: Cluster
    pool: str
    tpu_pools: tuple[TpuPoolPlan, ...]
    """The TPU node pools of the placement, one per slice; empty for a GPU pool."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """The scenario's own config keys (snake_case), as checked against its Config type."""
    tenant: str | None = None
    """The `tenants` entry the instance deploys into (its `tenant` key), if any."""

    @property
    def key(self) -> str:
        """The scenario's config key (stableDiffusion, saxml, llama)."""
        return self.scenario.key

    @property
    def resource_prefix(self) -> str:
        """Prefix of the instance's Pulumi resource names: the scenario key, then `-<name>` for a named instance
        (so the single-mapping form keeps the URNs it always had)."""
        return self.key if self.name is None else f"{self.key}-{self.name}"

    def physical(self, base: str) -> str:
        """A Kubernetes name of the instance: `base`, then `-<name>` for a named instance."""
        return base if self.name is None else f"{base}-{self.name}"

    def at(self, *path: PathPart) -> tuple[PathPart, ...]:
        """A config key of the instance, for error messages."""
        return (*self.path, *path)

    @property
    def gpu_pool(self) -> GpuPoolPlan | None:
        """The GPU pool of the placement, if it is on one."""
        return None if self.tpu_pools else self.cluster.plan.gpu_pool(self.pool)

    @property
    def namespace(self) -> str:
        """The instance's namespace: its `namespace` key, else the scenario's, suffixed for a named instance."""
        return str(self.settings.get("namespace", self.physical(self.scenario.storage.default_namespace)))

    def bucket_name(self, stack: StackInfo, role: str, key: str) -> str:
        """The bucket the config key `key` names, else `<project>-<stack>-<scenario>[-<name>]-<role>`."""
        if key in self.settings:
            return str(self.settings[key])
        return derived_name(
            stack.gcp_project, stack.stack, self.key.lower(), self.name or "", role, limit=BUCKET_NAME_MAX
        )

    def google_service_account_id(self, stack: StackInfo, base: str) -> str:
        """A Google service account id of the instance, unique per stack and instance in the project."""
        return derived_name(base, stack.stack, self.name or "", limit=SERVICE_ACCOUNT_ID_MAX)


@dataclass(frozen=True)
class DeployContext:
    """What an instance's deploy gets, explicitly: the stack, its secrets, the cluster it runs on, that cluster's
    shared add-ons, the stack's image builds, and the Tenant component it deploys into (if any)."""

    stack: StackInfo
    secrets: Mapping[str, Any]
    cluster: GkeTpuCluster
    addons: ClusterAddons
    images: StackImages
    """The images `pulumi up` builds, shared by every instance."""
    tenant: Tenant | None = None

    @property
    def on_cluster(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(provider=self.cluster.kubernetes_provider)


@dataclass(frozen=True)
class Scenario:
    """A serving scenario, registered once in stacks/scenarios/__init__.py."""

    key: str
    """Its config key, e.g. llama."""
    config_type: type
    """The TypedDict its config is checked against (the stack's `tenant` key aside)."""
    storage: StorageSpec
    check: Callable[[Placement, StackInfo, frozenset[str]], None]
    """Checks an instance against its cluster, before anything is registered (raises ConfigError);
    the last argument names the secret keys that are set."""
    demand: Callable[[Placement, StackInfo], Resources]
    """What an instance asks of its tenant's quota at its largest."""
    deploy: Callable[[Placement, DeployContext], dict[str, Any]]
    """Registers an instance's resources; returns its stack outputs."""
