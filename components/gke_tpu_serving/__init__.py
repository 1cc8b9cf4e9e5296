"""gke-tpu-serving: Pulumi components that serve generative models on GKE with TPUs and GPUs."""

from ._ray_spec import (
    CpuWorkerGroupArgs,
    GpuWorkerGroupArgs,
    RayAuthMode,
    RayHeadArgs,
    ServeApplicationArgs,
    ServeDeploymentArgs,
    TpuWorkerGroupArgs,
)
from .catalog import ClusterMode
from .custom_metrics_adapter import CustomMetricsAdapter, CustomMetricsAdapterArgs
from .gcs_fuse_bucket import BucketAccess, BucketGrantArgs, GcsFuseBucket, GcsFuseBucketArgs, LifecycleRuleArgs
from .gke_tpu_cluster import GkeTpuCluster, GkeTpuClusterArgs, GpuPoolArgs, ReleaseChannel, SystemPoolArgs, TpuPoolArgs
from .image_repository import ImageRepository, ImageRepositoryArgs
from .jobset_controller import JobSetController, JobSetControllerArgs
from .kuberay_operator import KubeRayOperator, KubeRayOperatorArgs
from .notebook import Notebook, NotebookArgs
from .ray_cluster import RayCluster, RayClusterArgs
from .ray_service import RayService, RayServiceArgs, RayServiceUpgradeStrategy
from .saxml_jobset import SaxmlJobSet, SaxmlJobSetArgs
from .saxml_models import SaxmlModelArgs, SaxmlModels, SaxmlModelsArgs
from .tenant import ContainerDefaultsArgs, Tenant, TenantArgs, TenantMemberArgs, TenantQuotaArgs, TenantRole
from .tenant_gateway import AccessMode, GatewayRouteArgs, GatewayTenantArgs, TenantGateway, TenantGatewayArgs
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
    JobSetController,
    SaxmlJobSet,
    SaxmlModels,
    Tenant,
    TenantGateway,
    Notebook,
    RayService,
    KubeRayOperator,
    RayCluster,
]
"""Every component the package hosts for other languages."""

__all__ = [
    "COMPONENTS",
    "PACKAGE_NAME",
    "AccessMode",
    "BucketAccess",
    "BucketGrantArgs",
    "ClusterMode",
    "ContainerDefaultsArgs",
    "CpuWorkerGroupArgs",
    "CustomMetricsAdapter",
    "CustomMetricsAdapterArgs",
    "Exposure",
    "GatewayRouteArgs",
    "GatewayTenantArgs",
    "GcsFuseBucket",
    "GcsFuseBucketArgs",
    "GkeTpuCluster",
    "GkeTpuClusterArgs",
    "GpuPoolArgs",
    "GpuWorkerGroupArgs",
    "ImageRepository",
    "ImageRepositoryArgs",
    "JobSetController",
    "JobSetControllerArgs",
    "KubeRayOperator",
    "KubeRayOperatorArgs",
    "LifecycleRuleArgs",
    "Notebook",
    "NotebookArgs",
    "RayAuthMode",
    "RayCluster",
    "RayClusterArgs",
    "RayHeadArgs",
    "RayService",
    "RayServiceArgs",
    "RayServiceUpgradeStrategy",
    "ReleaseChannel",
    "SaxmlJobSet",
    "SaxmlJobSetArgs",
    "SaxmlModelArgs",
    "SaxmlModels",
    "SaxmlModelsArgs",
    "ServeApplicationArgs",
    "ServeDeploymentArgs",
    "SystemPoolArgs",
    "Tenant",
    "TenantArgs",
    "TenantGateway",
    "TenantGatewayArgs",
    "TenantMemberArgs",
    "TenantQuotaArgs",
    "TenantRole",
    "TpuPoolArgs",
    "TpuWorkerGroupArgs",
    "VllmDeploymentWithHpa",
    "VllmDeploymentWithHpaArgs",
    "WeightStagingJob",
    "WeightStagingJobArgs",
    "WeightsSource",
    "WorkloadIdentity",
    "WorkloadIdentityArgs",
    "WorkloadIdentityMode",
]
