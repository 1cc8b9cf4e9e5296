"""gke-tpu-serving: Pulumi components that serve generative models on GKE with TPUs and GPUs."""

from gke_tpu_serving.catalog import ClusterMode
from gke_tpu_serving.cluster.gke_tpu_cluster import (
    GkeTpuCluster,
    GkeTpuClusterArgs,
    GpuPoolArgs,
    ReleaseChannel,
    SystemPoolArgs,
    TpuPoolArgs,
)
from gke_tpu_serving.identity.gcs_fuse_bucket import (
    BucketAccess,
    BucketGrantArgs,
    GcsFuseBucket,
    GcsFuseBucketArgs,
    LifecycleRuleArgs,
)
from gke_tpu_serving.identity.image_repository import ImageRepository, ImageRepositoryArgs
from gke_tpu_serving.identity.workload_identity import WorkloadIdentity, WorkloadIdentityArgs, WorkloadIdentityMode
from gke_tpu_serving.k8s.namespace_ingress_policy import (
    IngressAllowArgs,
    NamespaceIngressPolicy,
    NamespaceIngressPolicyArgs,
)
from gke_tpu_serving.ray.kuberay_operator import KubeRayOperator, KubeRayOperatorArgs
from gke_tpu_serving.ray.ray_cluster import RayCluster, RayClusterArgs
from gke_tpu_serving.ray.ray_service import RayService, RayServiceArgs, RayServiceUpgradeStrategy
from gke_tpu_serving.ray.spec import (
    CpuWorkerGroupArgs,
    GpuWorkerGroupArgs,
    RayAuthMode,
    RayHeadArgs,
    ServeApplicationArgs,
    ServeDeploymentArgs,
    TpuWorkerGroupArgs,
)
from gke_tpu_serving.saxml.jobset_controller import JobSetController, JobSetControllerArgs
from gke_tpu_serving.saxml.saxml_jobset import SaxmlJobSet, SaxmlJobSetArgs
from gke_tpu_serving.saxml.saxml_models import SaxmlModelArgs, SaxmlModels, SaxmlModelsArgs
from gke_tpu_serving.tenancy.notebook import Notebook, NotebookArgs
from gke_tpu_serving.tenancy.tenant import (
    ContainerDefaultsArgs,
    Tenant,
    TenantArgs,
    TenantMemberArgs,
    TenantQuotaArgs,
    TenantRole,
)
from gke_tpu_serving.tenancy.tenant_gateway import (
    AccessMode,
    GatewayRouteArgs,
    GatewayTenantArgs,
    TenantGateway,
    TenantGatewayArgs,
)
from gke_tpu_serving.vllm.custom_metrics_adapter import CustomMetricsAdapter, CustomMetricsAdapterArgs
from gke_tpu_serving.vllm.vllm_deployment_with_hpa import (
    Exposure,
    VllmDeploymentWithHpa,
    VllmDeploymentWithHpaArgs,
    WeightsSource,
)
from gke_tpu_serving.vllm.weight_staging_job import WeightStagingJob, WeightStagingJobArgs

PACKAGE_NAME = "gke-tpu-serving"
"""The Pulumi package name: component type tokens are `gke-tpu-serving:index:<Class>`."""

__version__ = "0.1.0"
"""The one version: the wheel's (pyproject.toml reads it from here) and the schema's that the plugin publishes."""

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
    NamespaceIngressPolicy,
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
    "IngressAllowArgs",
    "JobSetController",
    "JobSetControllerArgs",
    "KubeRayOperator",
    "KubeRayOperatorArgs",
    "LifecycleRuleArgs",
    "NamespaceIngressPolicy",
    "NamespaceIngressPolicyArgs",
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
