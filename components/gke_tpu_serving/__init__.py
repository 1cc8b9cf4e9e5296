"""gke-tpu-serving: Pulumi components that serve generative models on GKE with TPUs and GPUs.

Every public name below is imported on first use (PEP 562): a program that uses two components imports those two and
the provider modules they use, not all of them. `from gke_tpu_serving import X` works as with eager imports; the
imports under TYPE_CHECKING are what type checkers read, and tests/test_component_schema.py checks they name the same
things as _EXPORTS.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pulumi

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

    COMPONENTS: list[type[pulumi.ComponentResource]]
    """Every component the package hosts for other languages."""

PACKAGE_NAME = "gke-tpu-serving"
"""The Pulumi package name: component type tokens are `gke-tpu-serving:index:<Class>`."""

__version__ = "0.1.0"
"""The one version: the wheel's (pyproject.toml reads it from here) and the schema's that the plugin publishes."""

_EXPORTS: dict[str, tuple[str, ...]] = {
    "gke_tpu_serving.catalog": ("ClusterMode",),
    "gke_tpu_serving.cluster.gke_tpu_cluster": (
        "GkeTpuCluster",
        "GkeTpuClusterArgs",
        "GpuPoolArgs",
        "ReleaseChannel",
        "SystemPoolArgs",
        "TpuPoolArgs",
    ),
    "gke_tpu_serving.identity.gcs_fuse_bucket": (
        "BucketAccess",
        "BucketGrantArgs",
        "GcsFuseBucket",
        "GcsFuseBucketArgs",
        "LifecycleRuleArgs",
    ),
    "gke_tpu_serving.identity.image_repository": ("ImageRepository", "ImageRepositoryArgs"),
    "gke_tpu_serving.identity.workload_identity": ("WorkloadIdentity", "WorkloadIdentityArgs", "WorkloadIdentityMode"),
    "gke_tpu_serving.k8s.namespace_ingress_policy": (
        "IngressAllowArgs",
        "NamespaceIngressPolicy",
        "NamespaceIngressPolicyArgs",
    ),
    "gke_tpu_serving.ray.kuberay_operator": ("KubeRayOperator", "KubeRayOperatorArgs"),
    "gke_tpu_serving.ray.ray_cluster": ("RayCluster", "RayClusterArgs"),
    "gke_tpu_serving.ray.ray_service": ("RayService", "RayServiceArgs", "RayServiceUpgradeStrategy"),
    "gke_tpu_serving.ray.spec": (
        "CpuWorkerGroupArgs",
        "GpuWorkerGroupArgs",
        "RayAuthMode",
        "RayHeadArgs",
        "ServeApplicationArgs",
        "ServeDeploymentArgs",
        "TpuWorkerGroupArgs",
    ),
    "gke_tpu_serving.saxml.jobset_controller": ("JobSetController", "JobSetControllerArgs"),
    "gke_tpu_serving.saxml.saxml_jobset": ("SaxmlJobSet", "SaxmlJobSetArgs"),
    "gke_tpu_serving.saxml.saxml_models": ("SaxmlModelArgs", "SaxmlModels", "SaxmlModelsArgs"),
    "gke_tpu_serving.tenancy.notebook": ("Notebook", "NotebookArgs"),
    "gke_tpu_serving.tenancy.tenant": (
        "ContainerDefaultsArgs",
        "Tenant",
        "TenantArgs",
        "TenantMemberArgs",
        "TenantQuotaArgs",
        "TenantRole",
    ),
    "gke_tpu_serving.tenancy.tenant_gateway": (
        "AccessMode",
        "GatewayRouteArgs",
        "GatewayTenantArgs",
        "TenantGateway",
        "TenantGatewayArgs",
    ),
    "gke_tpu_serving.vllm.custom_metrics_adapter": ("CustomMetricsAdapter", "CustomMetricsAdapterArgs"),
    "gke_tpu_serving.vllm.vllm_deployment_with_hpa": (
        "Exposure",
        "VllmDeploymentWithHpa",
        "VllmDeploymentWithHpaArgs",
        "WeightsSource",
    ),
    "gke_tpu_serving.vllm.weight_staging_job": ("WeightStagingJob", "WeightStagingJobArgs"),
}
"""Each module and the public names the package root re-exports from it."""

_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

_COMPONENT_NAMES = (
    "GkeTpuCluster",
    "WorkloadIdentity",
    "GcsFuseBucket",
    "CustomMetricsAdapter",
    "VllmDeploymentWithHpa",
    "WeightStagingJob",
    "ImageRepository",
    "JobSetController",
    "SaxmlJobSet",
    "SaxmlModels",
    "Tenant",
    "TenantGateway",
    "Notebook",
    "NamespaceIngressPolicy",
    "RayService",
    "KubeRayOperator",
    "RayCluster",
)
"""The classes in COMPONENTS, in its order."""

__all__ = ["COMPONENTS", "PACKAGE_NAME", *sorted(_MODULE_OF)]


def __getattr__(name: str) -> Any:
    if name == "COMPONENTS":
        value: Any = [__getattr__(component) for component in _COMPONENT_NAMES]
    elif name in _MODULE_OF:
        value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # Cached: the next lookup is an ordinary attribute, and COMPONENTS stays one list.
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
