"""gke-tpu-serving: Pulumi components that serve generative models on GKE with TPUs and GPUs."""

from .gke_tpu_cluster import GkeTpuCluster, GkeTpuClusterArgs, GpuPoolArgs, ReleaseChannel, SystemPoolArgs, TpuPoolArgs

PACKAGE_NAME = "gke-tpu-serving"
"""The Pulumi package name: component type tokens are `gke-tpu-serving:index:<Class>`."""

COMPONENTS = [GkeTpuCluster]
"""Every component the package hosts for other languages."""

__all__ = [
    "COMPONENTS",
    "PACKAGE_NAME",
    "GkeTpuCluster",
    "GkeTpuClusterArgs",
    "GpuPoolArgs",
    "ReleaseChannel",
    "SystemPoolArgs",
    "TpuPoolArgs",
]
