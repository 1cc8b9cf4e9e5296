"""The validated stack config's types, shared by config.py (which builds them) and the scenario modules."""

from collections.abc import Mapping
from dataclasses import dataclass

from gke_tpu_serving._cluster_plan import ClusterPlan, TpuPoolPlan
from gke_tpu_serving._errors import PathPart, format_path
from gke_tpu_serving.gke_tpu_cluster import GkeTpuClusterArgs

PROJECT = "gke-tpu-serving"


class ConfigError(ValueError):
    """Bad stack config. The message starts with the config key."""


def config_error(path: tuple[PathPart, ...], reason: str) -> ConfigError:
    """`("clusters", 0, "tpu_pools")` -> "config key gke-tpu-serving:clusters[0].tpuPools: <reason>"."""
    return ConfigError(f"config key {PROJECT}:{format_path(path, camel=True)}: {reason}")


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


@dataclass(frozen=True)
class StackConfig:
    """The whole stack config, validated."""

    gcp_project: str
    clusters: tuple[Cluster, ...]
    scenarios: Mapping[str, Placement]
    """Enabled scenarios by config key."""
