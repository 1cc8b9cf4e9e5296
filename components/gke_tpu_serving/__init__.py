"""gke-tpu-serving: Pulumi components that serve generative models on GKE with TPUs and GPUs."""

from .custom_metrics_adapter import CustomMetricsAdapter, CustomMetricsAdapterArgs
from .gcs_fuse_bucket import BucketAccess, BucketGrantArgs, GcsFuseBucket, GcsFuseBucketArgs, LifecycleRuleArgs
from .gke_tpu_cluster import GkeTpuCluster, GkeTpuClusterArgs, GpuPoolArgs, ReleaseChannel, SystemPoolArgs, TpuPoolArgs
from .image_repository import ImageRepository, ImageRepositoryArgs
from .vllm_deployment_with_hpa import Exposure, VllmDeploymentWithHpa, VllmDeploymentWithHpaArgs, WeightsSource
from .weight_staging_job import WeightStagingJob, WeightStagingJobArgs
from .workload_identity import WorkloadIdentity, WorkloadIdentityArgs, WorkloadIdentityMode

PACKAGE_NAME = "gke-tpu-serving"
"""The Pulumi package name: component type tokens are `gke-tpu-serving:index:<Class>`."""

COMPONENTS = [
    GkeTpuCluster,
    WorkloadIdentity,
    GcsFuseBucket,
    CustomMetricsAdapter,
    VllmDeploymentWithHpa,
    WeightStagingJob,
    ImageRepository,
]
"""Every component the package hosts for other languages."""

__all__ = [
    "COMPONENTS",
    "PACKAGE_NAME",
    "BucketAccess",
    "BucketGrantArgs",
    "CustomMetricsAdapter",
    "CustomMetricsAdapterArgs",
    "Exposure",
    "GcsFuseBucket",
    "GcsFuseBucketArgs",
    "GkeTpuCluster",
    "GkeTpuClusterArgs",
    "GpuPoolArgs",
    "ImageRepository",
    "ImageRepositoryArgs",
    "LifecycleRuleArgs",
    "ReleaseChannel",
    "SystemPoolArgs",
    "TpuPoolArgs",
    "VllmDeploymentWithHpa",
    "VllmDeploymentWithHpaArgs",
    "WeightStagingJob",
    "WeightStagingJobArgs",
    "WeightsSource",
    "WorkloadIdentity",
    "WorkloadIdentityArgs",
    "WorkloadIdentityMode",
]
