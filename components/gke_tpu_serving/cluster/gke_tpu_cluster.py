"""GkeTpuCluster: a GKE cluster (Standard or Autopilot) ready to serve models on TPU slices and GPUs. Its args are in
args.py, their checks and defaults in plan.py."""

from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from gke_tpu_serving.catalog import region_of_zone
from gke_tpu_serving.cluster.args import (
    AuthorizedNetworkArgs,
    GkeTpuClusterArgs,
    GpuPoolArgs,
    ReleaseChannel,
    SystemPoolArgs,
    TpuPoolArgs,
)
from gke_tpu_serving.cluster.compute_class import compute_class_manifest
from gke_tpu_serving.cluster.control_plane import ControlPlanePlan, cluster_labels, kubeconfig_for
from gke_tpu_serving.cluster.obtainability import node_pool_settings
from gke_tpu_serving.cluster.plan import ClusterPlan, GpuPoolPlan, TpuPoolPlan, plan_cluster
from gke_tpu_serving.errors import component_errors

__all__ = [
    "NODE_SERVICE_ACCOUNT_ROLE",
    "AuthorizedNetworkArgs",
    "GkeTpuCluster",
    "GkeTpuClusterArgs",
    "GpuPoolArgs",
    "ReleaseChannel",
    "SystemPoolArgs",
    "TpuPoolArgs",
    "kubeconfig_for",
]

NodePool = gcp.container.NodePool

# The documented least-privilege role for GKE nodes (logs, metrics, resource metadata), replacing the
# Compute Engine default service account's Editor role.
NODE_SERVICE_ACCOUNT_ROLE = "roles/container.defaultNodeServiceAccount"
_CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


class GkeTpuCluster(pulumi.ComponentResource):
    """A GKE cluster for model serving: Workload Identity, GCS FUSE CSI, optional Ray add-on, Managed Prometheus,
    Dataplane V2 (NetworkPolicy enforcement), nodes on a dedicated least-privilege service account. Standard mode
    adds shielded nodes, a CPU system pool, one node pool per TPU slice (COMPACT placement for multi-host slices)
    and autoscaling GPU pools; Autopilot mode has no node pools (GKE provisions nodes from the pods' requests)."""

    cluster_name: pulumi.Output[str]
    """The GKE cluster name."""
    location: pulumi.Output[str]
    """The cluster's zone or region."""
    endpoint: pulumi.Output[str]
    """The control plane's IP endpoint (IP address); none reaches it unless authorized_networks or public_endpoint
    opens it."""
    dns_endpoint: pulumi.Output[str]
    """The control plane's DNS-based endpoint (a host name), which IAM authorizes; the kubeconfig uses it."""
    kubeconfig: pulumi.Output[str]
    """A kubeconfig for the cluster (secret) on the DNS endpoint that authenticates through gke-gcloud-auth-plugin
    (the caller's Google credentials: IAM on the cluster's project, then Kubernetes RBAC)."""
    workload_pool: pulumi.Output[str]
    """The Workload Identity pool, PROJECT.svc.id.goog."""
    node_service_account_email: pulumi.Output[str]
    """The service account the nodes run as."""

    def __init__(self, name: str, args: GkeTpuClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gke-tpu-serving:index:GkeTpuCluster", name, None, opts)
        with component_errors("GkeTpuCluster", name):
            plan = plan_cluster(name, args)
        child = pulumi.ResourceOptions(parent=self)
        self.plan = plan

        self.workload_pool = pulumi.Output.concat(args["project"], ".svc.id.goog")
        node_account, node_role = self._node_service_account(name, plan, args, child)
        self.node_service_account_email = node_account
        node_config = _shared_node_config(node_account)

        cluster = gcp.container.Cluster(
            f"{name}-cluster",
            gcp.container.ClusterArgs(
                name=plan.name,
                project=args["project"],
                location=plan.location,
                release_channel=gcp.container.ClusterReleaseChannelArgs(channel=plan.release_channel),
                min_master_version=plan.min_master_version,
                **(_autopilot_nodes(node_account) if plan.autopilot else _standard_nodes(node_config)),
                datapath_provider="ADVANCED_DATAPATH" if plan.dataplane_v2 else None,
                network=args.get("network"),
                subnetwork=args.get("subnetwork"),
                ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(),
                private_cluster_config=(
                    gcp.container.ClusterPrivateClusterConfigArgs(enable_private_nodes=True)
                    if plan.private_nodes
                    else None
                ),
                workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(
                    workload_pool=self.workload_pool
                ),
                addons_config=gcp.container.ClusterAddonsConfigArgs(
                    gcs_fuse_csi_driver_config=gcp.container.ClusterAddonsConfigGcsFuseCsiDriverConfigArgs(
                        enabled=plan.gcs_fuse_csi
                    ),
                    ray_operator_configs=(
                        [
                            gcp.container.ClusterAddonsConfigRayOperatorConfigArgs(
                                enabled=True,
                                ray_cluster_logging_config=gcp.container.ClusterAddonsConfigRayOperatorConfigRayClusterLoggingConfigArgs(
                                    enabled=True
                                ),
                                ray_cluster_monitoring_config=gcp.container.ClusterAddonsConfigRayOperatorConfigRayClusterMonitoringConfigArgs(
                                    enabled=True
                                ),
                            )
                        ]
                        if plan.ray_operator
                        else None
                    ),
                ),
                monitoring_config=gcp.container.ClusterMonitoringConfigArgs(
                    enable_components=["SYSTEM_COMPONENTS"],
                    managed_prometheus=gcp.container.ClusterMonitoringConfigManagedPrometheusArgs(
                        enabled=plan.managed_prometheus
                    ),
                ),
                deletion_protection=plan.deletion_protection,
                resource_labels=cluster_labels(args.get("labels"), plan.control_plane),
                **_control_plane_args(plan.control_plane),
                authenticator_groups_config=(
                    gcp.container.ClusterAuthenticatorGroupsConfigArgs(security_group=plan.rbac_security_group)
                    if plan.rbac_security_group
                    else None
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[r for r in [node_role] if r is not None]),
        )

        pools: list[NodePool] = []
        if not plan.autopilot:
            pool = _NodePoolFactory(self, name, args["project"], cluster, plan.location, node_config)
            pools = [pool.system(plan)] + [pool.tpu(p) for p in plan.tpu_pools] + [pool.gpu(p) for p in plan.gpu_pools]
        self.node_pools = pools

        self.cluster_name = cluster.name
        self.location = cluster.location
        self.endpoint = cluster.endpoint
        self.dns_endpoint = cluster.control_plane_endpoints_config.apply(_dns_endpoint)
        # On the DNS endpoint whatever else is open: it is always on, and only it works wherever `pulumi` runs.
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(cluster.name, self.dns_endpoint).apply(lambda values: kubeconfig_for(*values))
        )
        # Not part of the cross-language schema (a provider is not a portable output): Python callers pass it to
        # later components with ResourceOptions(provider=cluster.kubernetes_provider); other languages build one
        # from `kubeconfig`. It waits for the node pools so workloads are not created on an empty cluster.
        self.kubernetes_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            # The provider (and with it every Kubernetes object) is replaced exactly when this changes, not on any
            # other kubeconfig edit (pulumi-kubernetes' DiffConfig): the DNS endpoint names this cluster.
            cluster_identifier=self.dns_endpoint,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(pools)),
        )
        # Autopilot entries with a fallback: the ComputeClass their pods select (one per entry; Autopilot has no pool).
        self.compute_classes = [
            _custom_resource(
                f"{name}-{entry.entry_name}-compute-class",
                compute_class_manifest(entry.entry_name, entry.tpu_slice, entry.fallback, entry.reservation),
                pulumi.ResourceOptions(parent=self, provider=self.kubernetes_provider),
            )
            for entry in {p.entry_name: p for p in plan.tpu_pools if p.compute_class is not None}.values()
        ]
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "location": self.location,
                "endpoint": self.endpoint,
                "dns_endpoint": self.dns_endpoint,
                "kubeconfig": self.kubeconfig,
                "workload_pool": self.workload_pool,
                "node_service_account_email": self.node_service_account_email,
            }
        )

    def _node_service_account(
        self, name: str, plan: ClusterPlan, args: GkeTpuClusterArgs, child: pulumi.ResourceOptions
    ) -> tuple[pulumi.Output[str], gcp.projects.IAMMember | None]:
        existing = args.get("node_service_account_email")
        if existing is not None:
            return pulumi.Output.from_input(existing), None
        account = gcp.serviceaccount.Account(
            f"{name}-nodes",
            gcp.serviceaccount.AccountArgs(
                account_id=plan.node_service_account_id,
                project=args["project"],
                display_name=f"GKE nodes of {plan.name}",
            ),
            opts=child,
        )
        # A project-level grant is unavoidable here (node logs and metrics are project-scoped); the role is the
        # narrow one GKE documents for node service accounts, bound to this one account only.
        role = gcp.projects.IAMMember(
            f"{name}-nodes-role",
            gcp.projects.IAMMemberArgs(project=args["project"], role=NODE_SERVICE_ACCOUNT_ROLE, member=account.member),
            opts=child,
        )
        return account.email, role


def _custom_resource(
    resource_name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions
) -> k8s.apiextensions.CustomResource:
    """A cluster-scoped custom resource from its Kubernetes JSON (apiVersion, kind, metadata, spec)."""
    return k8s.apiextensions.CustomResource(
        resource_name,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=k8s.meta.v1.ObjectMetaArgs(**manifest["metadata"]),
        spec=manifest["spec"],
        opts=opts,
    )


def _control_plane_args(plan: ControlPlanePlan) -> dict[str, Any]:
    """Cluster arguments of the control plane's endpoints: the DNS endpoint for user traffic, always; the IP
    endpoints only for the authorized networks, or for everyone when public."""
    return {
        "control_plane_endpoints_config": gcp.container.ClusterControlPlaneEndpointsConfigArgs(
            dns_endpoint_config=gcp.container.ClusterControlPlaneEndpointsConfigDnsEndpointConfigArgs(
                allow_external_traffic=True
            ),
            ip_endpoints_config=gcp.container.ClusterControlPlaneEndpointsConfigIpEndpointsConfigArgs(
                enabled=plan.ip_endpoint
            ),
        ),
        "master_authorized_networks_config": (
            gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
                cidr_blocks=[
                    gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(cidr_block=cidr, display_name=name)
                    for cidr, name in plan.authorized_networks
                ],
                # Only the named networks: not every Compute Engine VM's public address.
                gcp_public_cidrs_access_enabled=False,
            )
            if plan.authorized_networks
            else None
        ),
    }


def _dns_endpoint(config: Any) -> str:
    dns = config.dns_endpoint_config if config is not None else None
    if dns is None or not dns.endpoint:
        raise pulumi.RunError("the cluster reports no DNS endpoint (controlPlaneEndpointsConfig.dnsEndpointConfig)")
    return str(dns.endpoint)


def _shared_node_config(service_account: pulumi.Input[str]) -> dict[str, Any]:
    """Node settings every pool shares (keyword arguments of both ClusterNodeConfigArgs and NodePoolNodeConfigArgs)."""
    return {
        "service_account": service_account,
        "oauth_scopes": [_CLOUD_PLATFORM_SCOPE],
        # GKE_METADATA serves Workload Identity tokens to pods instead of the node's own credentials.
        "workload_metadata_config": {"mode": "GKE_METADATA"},
        "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
    }


def _standard_nodes(node_config: dict[str, Any]) -> dict[str, Any]:
    """Cluster arguments of a Standard cluster's nodes."""
    return {
        # Node pools are managed separately; GKE still needs a first pool, which runs as our service account while
        # it briefly exists.
        "remove_default_node_pool": True,
        "initial_node_count": 1,
        "node_config": gcp.container.ClusterNodeConfigArgs(**node_config),
        "enable_shielded_nodes": True,
    }


def _autopilot_nodes(service_account: pulumi.Input[str]) -> dict[str, Any]:
    """Cluster arguments of an Autopilot cluster's nodes: only the account they run as. Autopilot nodes are always
    shielded with secure boot and serve pods the GKE metadata server, and the node settings of Standard conflict
    with enable_autopilot."""
    return {
        "enable_autopilot": True,
        "cluster_autoscaling": gcp.container.ClusterClusterAutoscalingArgs(
            auto_provisioning_defaults=gcp.container.ClusterClusterAutoscalingAutoProvisioningDefaultsArgs(
                service_account=service_account, oauth_scopes=[_CLOUD_PLATFORM_SCOPE]
            )
        ),
    }


class _NodePoolFactory:
    """Builds the cluster's node pools as children of the component, with the settings they all share."""

    def __init__(
        self,
        parent: GkeTpuCluster,
        name: str,
        project: pulumi.Input[str],
        cluster: gcp.container.Cluster,
        location: str,
        node_config: dict[str, Any],
    ) -> None:
        self.parent, self.name, self.project, self.cluster = parent, name, project, cluster
        self.location, self.node_config = location, node_config

    def _pool(
        self, pool_name: str, machine_type: str, node_config: dict[str, Any], auto_repair: bool = True, **pool_args: Any
    ) -> NodePool:
        return gcp.container.NodePool(
            f"{self.name}-{pool_name}",
            gcp.container.NodePoolArgs(
                name=pool_name,
                project=self.project,
                cluster=self.cluster.name,
                location=self.location,
                node_config=gcp.container.NodePoolNodeConfigArgs(
                    machine_type=machine_type,
                    labels={"gke-tpu-serving/pool": pool_name},
                    **self.node_config,
                    **node_config,
                ),
                # Flex-start nodes are not repaired: GKE removes them and obtains new capacity instead.
                management=gcp.container.NodePoolManagementArgs(auto_repair=auto_repair, auto_upgrade=True),
                **pool_args,
            ),
            # A pool has a fixed name in its cluster: Pulumi's default create-before-delete replacement would ask
            # GKE for a second pool of the same name and fail, so the old pool goes first (its slice is down
            # during the replacement either way: the diff shows it as `-+`).
            opts=pulumi.ResourceOptions(parent=self.parent, delete_before_replace=True),
        )

    def system(self, plan: ClusterPlan) -> NodePool:
        return self._pool("system", plan.system_machine_type, {}, node_count=plan.system_node_count)

    def tpu(self, pool: TpuPoolPlan) -> NodePool:
        shape = pool.tpu_slice
        placement = shape.placement_policy
        obtain = node_pool_settings(pool.obtainability, pool.reservation, pool.max_run_seconds)
        pool_args: dict[str, Any] = {"node_locations": [pool.zone]}
        if pool.node_count is not None:
            pool_args["node_count"] = pool.node_count
        else:
            pool_args["initial_node_count"] = pool.min_nodes
            pool_args["autoscaling"] = {
                "min_node_count": pool.min_nodes,
                "max_node_count": pool.max_nodes,
                **obtain["autoscaling"],
            }
        if "queued_provisioning" in obtain:
            pool_args["queued_provisioning"] = obtain["queued_provisioning"]
        if placement is not None:
            # A multi-host slice's hosts must sit on one ICI interconnect: COMPACT placement of that topology.
            pool_args["placement_policy"] = {"type": placement["type"], "tpu_topology": placement["tpu_topology"]}
        if pool.workload_policy is not None:
            pool_args["placement_policy"]["policy_name"] = self._workload_policy(pool).name
        return self._pool(
            pool.pool_name, shape.machine_type, obtain["node_config"], auto_repair=obtain["auto_repair"], **pool_args
        )

    # Quoted: evaluating gcp.compute imports all of pulumi_gcp's compute package (~1.7 s of CPU), which only a
    # TPU7x multi-host pool needs.
    def _workload_policy(self, pool: TpuPoolPlan) -> "gcp.compute.ResourcePolicy":
        """The workload policy a multi-host TPU7x pool names in its placement policy: HIGH_THROUGHPUT with the slice's
        topology (docs.cloud.google.com/kubernetes-engine/docs/concepts/tpu-ironwood, read 2026-12-07; the pool keeps
        its tpu_topology beside the policy name, as GoogleCloudPlatform/cluster-toolkit@1047080375af's gke-tpu-7x
        blueprint renders it)."""
        return gcp.compute.ResourcePolicy(
            f"{self.name}-{pool.pool_name}-workload-policy",
            gcp.compute.ResourcePolicyArgs(
                name=pool.workload_policy,
                project=self.project,
                region=region_of_zone(pool.zone),
                workload_policy=gcp.compute.ResourcePolicyWorkloadPolicyArgs(
                    type="HIGH_THROUGHPUT", accelerator_topology=pool.tpu_slice.topology
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self.parent),
        )

    def gpu(self, pool: GpuPoolPlan) -> NodePool:
        accelerator = {
            "type": pool.accelerator_type.value,
            "count": pool.machine.gpus_per_vm,
            # GKE installs the driver itself; no driver DaemonSet to manage.
            "gpu_driver_installation_config": {"gpu_driver_version": "LATEST"},
        }
        return self._pool(
            pool.pool_name,
            pool.machine.name,
            {"spot": pool.spot, "guest_accelerators": [accelerator]},
            node_locations=[pool.zone] if pool.zone else None,
            initial_node_count=pool.min_nodes,
            autoscaling={"min_node_count": pool.min_nodes, "max_node_count": pool.max_nodes},
        )
