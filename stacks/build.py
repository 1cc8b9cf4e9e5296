"""The stack: one GkeTpuCluster per configured cluster, the image repository (and the images `pulumi up` builds into
it), the tenants, then every scenario instance on its cluster."""

from typing import Any

import pulumi

from gke_tpu_serving import GkeTpuCluster, ImageRepository, Tenant
from gke_tpu_serving.cluster.quota import quota_lines, tpu_quota

from .cluster_addons import ClusterAddons
from .config import StackConfig
from .images import StackImages
from .model import DeployContext
from .naming import DNS_LABEL_MAX, derived_name
from .tenancy import deploy as tenants

REPOSITORY_PREFIX = "gke-tpu-serving"


def build(config: StackConfig) -> dict[str, Any]:
    """Register every resource of the stack; returns the stack outputs."""
    clusters = {c.name: GkeTpuCluster(c.name, c.args) for c in config.clusters}  # type: ignore[arg-type]
    # One repository per stack for the workload images; every cluster's nodes pull from it, CI pushes to it.
    images = ImageRepository(
        "images",
        {
            "project": config.gcp_project,
            "location": config.image_registry_location,
            "repository_id": derived_name(REPOSITORY_PREFIX, config.stack, limit=DNS_LABEL_MAX),
            "readers": {
                f"{name}-nodes": pulumi.Output.concat("serviceAccount:", c.node_service_account_email)
                for name, c in clusters.items()
            },
            "writers": {"ci": f"serviceAccount:{config.ci_service_account}"} if config.ci_service_account else {},
        },
    )
    outputs: dict[str, Any] = {
        "clusters": {
            name: {
                "name": c.cluster_name,
                "location": c.location,
                "endpoint": c.endpoint,
                "dnsEndpoint": c.dns_endpoint,
            }
            for name, c in clusters.items()
        },
        "kubeconfigs": {name: c.kubeconfig for name, c in clusters.items()},
        "imageRepository": images.url,
        # Known at preview, so a reviewer (and the first-deploy guide) sees the quota to request per zone.
        "tpuQuota": quota_lines(tpu_quota(c.plan for c in config.clusters)),
    }
    tenant_components: dict[str, Tenant] = {}
    if config.tenancy is not None:
        tenant_components, outputs["tenants"] = tenants.deploy(config.tenancy, clusters, config.secrets)
    addons = {name: ClusterAddons(cluster, config.gcp_project) for name, cluster in clusters.items()}
    # Built on first use: a stack whose scenarios all name prebuilt images registers no build and no cache.
    builds = StackImages(
        project=config.gcp_project,
        location=config.image_registry_location,
        repository=images,
        cache_repository_id=derived_name(REPOSITORY_PREFIX, config.stack, "cache", limit=DNS_LABEL_MAX),
    )
    for instance in config.instances:
        context = DeployContext(
            stack=config.info,
            secrets=config.secrets,
            cluster=clusters[instance.cluster.name],
            addons=addons[instance.cluster.name],
            images=builds,
            tenant=tenant_components[instance.tenant] if instance.tenant is not None else None,
        )
        instance_outputs = instance.scenario.deploy(instance, context)
        if instance.name is None:
            outputs[instance.key] = instance_outputs
        else:
            outputs.setdefault(instance.key, {})[instance.name] = instance_outputs
    return outputs
