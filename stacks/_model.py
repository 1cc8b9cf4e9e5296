"""The validated stack config's types, shared by config.py (which builds them) and the scenario modules."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from gke_tpu_serving.cluster.gke_tpu_cluster import GkeTpuClusterArgs
from gke_tpu_serving.cluster.plan import ClusterPlan, TpuPoolPlan
from gke_tpu_serving.errors import PathPart, format_path

if TYPE_CHECKING:
    from .tenants import Tenancy

PROJECT = "gke-tpu-serving"


class ConfigError(ValueError):
    """Bad stack config. The message starts with the config key."""


def config_error(path: tuple[PathPart, ...], reason: str) -> ConfigError:
    """`("clusters", 0, "tpu_pools")` -> "config key gke-tpu-serving:clusters[0].tpuPools: <reason>"."""
    return ConfigError(f"config key {PROJECT}:{format_path(path, camel=True)}: {reason}")


class ScenarioPlacement(TypedDict):
    """Where a scenario runs: a cluster of `clusters` and one of that cluster's accelerator pools."""

    cluster: str
    """The `name` of a cluster in `clusters`."""
    pool: str
    """The `name` of one of that cluster's `tpuPools` or `gpuPools`."""


class StorageScenarioConfig(ScenarioPlacement):
    """A scenario whose pods use a bucket through a Workload Identity Kubernetes ServiceAccount."""

    namespace: NotRequired[str]
    """Kubernetes namespace of the scenario (created by the stack). Default: the scenario's own."""
    bucket: NotRequired[str]
    """Bucket name. Default: `<gcp:project>-<scenario's suffix>`."""
    protect_bucket: NotRequired[bool]
    """Protect the bucket from deletion (see README, "Deleting a bucket on purpose"). Default: true."""


@dataclass(frozen=True)
class Cluster:
    """A cluster of the stack: its name, the component's args, and the validated plan of those args."""

    index: int
    """Position in `clusters` (for error messages)."""
    name: str
    args: GkeTpuClusterArgs
    plan: ClusterPlan


@dataclass(frozen=True)
class Placement:
    """A scenario's resolved placement: the cluster and the node pools (one per slice) it runs on."""

    key: str
    """The scenario's config key (stableDiffusion, saxml, llama)."""
    cluster: Cluster
    pool: str
    tpu_pools: tuple[TpuPoolPlan, ...]
    """The TPU node pools of the placement, one per slice; empty for a GPU pool."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """The scenario's own config keys (snake_case), as checked against its Config type."""
    tenant: str | None = None
    """The `tenants` entry the scenario deploys into (its `tenant` key), if any."""


@dataclass(frozen=True)
class StackConfig:
    """The whole stack config, validated."""

    gcp_project: str
    clusters: tuple[Cluster, ...]
    scenarios: Mapping[str, Placement]
    """Enabled scenarios by config key."""
    image_registry_location: str = "us-central1"
    """Region of the Artifact Registry repository for the workload images."""
    ci_service_account: str | None = None
    """Email of the service account CI pushes images as."""
    secrets: Mapping[str, Any] = field(default_factory=dict)
    """Secret config values (pulumi.Output secrets) by key, e.g. hfToken."""
    tenancy: "Tenancy | None" = None
    """The teams sharing the clusters (`tenants`, `tenancy`), if any."""
