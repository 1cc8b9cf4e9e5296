"""GkeTpuCluster's arguments: the cluster, its system pool and its TPU and GPU pools, as the typed dictionaries
Pulumi's schema inference reads (attribute docstrings become descriptions). plan.py checks them and resolves their
defaults."""

from enum import Enum
from typing import NotRequired, TypedDict

import pulumi

from gke_tpu_serving.catalog import ClusterMode, GpuAcceleratorType, TpuGeneration
from gke_tpu_serving.catalog.provisioning import Obtainability


class ReleaseChannel(Enum):
    """GKE release channel: how fast the control plane and nodes follow new GKE versions."""

    RAPID = "RAPID"
    REGULAR = "REGULAR"
    STABLE = "STABLE"
    EXTENDED = "EXTENDED"


class SystemPoolArgs(TypedDict):
    """The CPU pool for system pods, controllers and servers that need no accelerator."""

    machine_type: NotRequired[str]
    """Machine type. Default: e2-standard-4."""
    node_count: NotRequired[int]
    """Nodes per zone of the cluster (a regional cluster has three zones). Default: 1."""


class TpuPoolArgs(TypedDict):
    """A TPU slice shape; a Standard cluster creates one GKE node pool per slice, an Autopilot cluster none (its
    pods select the shape and GKE provisions it)."""

    name: str
    """Node pool name (GKE: at most 40 characters); with `slices` > 1 the pools are `<name>-0`, `<name>-1`, ..."""
    generation: TpuGeneration
    """TPU generation: v4, v5e, v5p, v6e or tpu7x (Ironwood)."""
    machine_type: str
    """TPU machine type of that generation, e.g. ct5lp-hightpu-4t (it fixes the chips per VM)."""
    topology: str
    """Slice topology valid for the generation and machine type, e.g. 2x2x1 (v4), 4x8 (v5e), 2x4 (v6e)."""
    zone: NotRequired[str]
    """Zone of the pool; must offer the generation. Default: the cluster's zone, or for a regional cluster the
    first zone of its region that offers the generation. Autopilot: pods are pinned to this zone only when it is
    set (otherwise GKE chooses a zone of the region that offers the generation)."""
    slices: NotRequired[int]
    """Number of identical multi-host slices, one node pool each (e.g. 2 for Saxml's two 4x8 slices). Default: 1.
    Single-host shapes scale with min_nodes/max_nodes instead."""
    min_nodes: NotRequired[int]
    """Autoscaling lower bound in nodes. Single-host: any value <= max_nodes (0 scales to zero). Multi-host: 0
    (the slice scales to zero and back as a whole) or the slice's host count. Default: no autoscaling. Refused on
    Autopilot, which creates nodes for pending pods and removes idle ones."""
    max_nodes: NotRequired[int]
    """Autoscaling upper bound in nodes. Multi-host: must equal the slice's host count. Default: no autoscaling
    (single-host pools then have 1 node, multi-host pools exactly one slice). On Autopilot it bounds the replicas
    the scenarios place on the shape."""
    spot: NotRequired[bool]
    """Use Spot VMs (cheaper, preemptible); on Autopilot the pods select Spot capacity. Default: false."""
    reservation: NotRequired[str]
    """Name of a specific Compute Engine reservation to consume; on Autopilot the pods select it. Excludes spot (Spot
    VMs cannot consume a reservation), flex_start and queued_provisioning. Default: none."""
    flex_start: NotRequired[bool]
    """DWS flex-start: GKE obtains the nodes when capacity frees up, for pending pods, and removes them after at most
    7 days. The pool autoscales from 0 (min_nodes 0), is not auto-repaired and consumes no reservation; excludes spot,
    reservation and queued_provisioning. Standard only. Default: false."""
    queued_provisioning: NotRequired[bool]
    """DWS queued provisioning (with flex-start): nodes only for a ProvisioningRequest, all at once. The workload must
    create that ProvisioningRequest (e.g. through Kueue); none of this project's scenarios does, so the stack config
    refuses to place one on such a pool. Same pool settings as flex_start. Standard only. Default: false."""
    fallback: NotRequired[list[Obtainability]]
    """Autopilot only: the provisioning models to try for this shape, in order, e.g. [reservation, spot, on-demand,
    flex-start] (queued-provisioning is not one). The cluster creates a ComputeClass named after the entry, one
    priority per model, and the pods select it instead of Spot or reservation selectors; `reservation` names the
    reservation of the reservation priority, and spot, flex_start and queued_provisioning are refused beside it.
    Default: none."""
    max_run_duration: NotRequired[int]
    """Flex-start or queued provisioning pools: seconds a node runs before GKE removes it, at most 604800 (7 days).
    Default: GKE's (7 days)."""


class GpuPoolArgs(TypedDict):
    """A GPU node pool that autoscales, down to zero nodes by default."""

    name: str
    """Node pool name (GKE: at most 40 characters)."""
    accelerator_type: GpuAcceleratorType
    """GPU type, e.g. nvidia-l4."""
    machine_type: str
    """A machine type that carries that GPU, e.g. g2-standard-8; it fixes the GPUs per node."""
    zone: NotRequired[str]
    """Zone of the pool, in the cluster's region. Default: the cluster's zones."""
    min_nodes: NotRequired[int]
    """Autoscaling lower bound. Default: 0 (no GPU is paid for while nothing runs). Refused on Autopilot."""
    max_nodes: NotRequired[int]
    """Autoscaling upper bound. Default: 1 (or min_nodes if larger)."""
    spot: NotRequired[bool]
    """Use Spot VMs. Default: false."""


class AuthorizedNetworkArgs(TypedDict):
    """A network allowed to reach the control plane's IP endpoint."""

    cidr_block: str
    """IPv4 network in CIDR notation, e.g. 203.0.113.0/24 (not 0.0.0.0/0: that is public_endpoint)."""
    display_name: NotRequired[str]
    """A name for it in the console. Default: the CIDR block."""


class GkeTpuClusterArgs(TypedDict):
    """Arguments of GkeTpuCluster."""

    project: pulumi.Input[str]
    """GCP project id that holds the cluster (and names its Workload Identity pool, PROJECT.svc.id.goog)."""
    location: str
    """A zone (zonal cluster, e.g. us-central2-b) or a region (regional cluster, e.g. us-central1). Autopilot
    clusters are regional."""
    mode: NotRequired[ClusterMode]
    """standard (node pools for the system pods, each TPU slice and each GPU pool) or autopilot (no node pools:
    GKE provisions TPU and GPU nodes from the pods' selectors and requests; tpu_pools and gpu_pools then describe
    the capacity the scenarios select). Default: standard."""
    release_channel: NotRequired[ReleaseChannel]
    """Release channel. Default: REGULAR."""
    min_master_version: NotRequired[str]
    """Minimum GKE version, e.g. 1.31.2-gke.1115000; checked against the minimum of every TPU generation in the
    cluster and of the Ray add-on. Default: the release channel's default version."""
    ray_operator: NotRequired[bool]
    """Enable the GKE Ray Operator add-on (KubeRay, with its TPU webhook). Default: false."""
    gcs_fuse_csi: NotRequired[bool]
    """Enable the Cloud Storage FUSE CSI driver add-on (model weights from buckets). Default: true."""
    managed_prometheus: NotRequired[bool]
    """Enable Google Cloud Managed Service for Prometheus (PodMonitoring, metrics for autoscaling). Default: true."""
    dataplane_v2: NotRequired[bool]
    """Dataplane V2 (eBPF datapath, ADVANCED_DATAPATH), which enforces Kubernetes NetworkPolicies. Changing it on
    an existing Standard cluster replaces the cluster. Autopilot always has it. Default: true."""
    private_nodes: NotRequired[bool]
    """Give nodes internal IP addresses only (images must then come from Artifact Registry or through Cloud NAT).
    Default: false."""
    deletion_protection: NotRequired[bool]
    """Refuse to delete the cluster until this is set to false and applied. Default: true."""
    network: NotRequired[pulumi.Input[str]]
    """VPC network (name or self link). Default: the project's default network."""
    subnetwork: NotRequired[pulumi.Input[str]]
    """Subnetwork (name or self link). Default: the network's subnetwork in the cluster's region."""
    node_service_account_email: NotRequired[pulumi.Input[str]]
    """Use this existing service account for nodes instead of creating one (it needs
    roles/container.defaultNodeServiceAccount). Default: create one. Autopilot nodes run as it too."""
    node_service_account_id: NotRequired[str]
    """Account id of the node service account to create (6-30 characters). Default: `<cluster name>-nodes`."""
    system_pool: NotRequired[SystemPoolArgs]
    """The CPU pool. Default: one e2-standard-4 node per zone. Refused on Autopilot."""
    tpu_pools: NotRequired[list[TpuPoolArgs]]
    """TPU slice pools. Default: none."""
    gpu_pools: NotRequired[list[GpuPoolArgs]]
    """GPU pools. Default: none."""
    labels: NotRequired[dict[str, str]]
    """Resource labels on the cluster. Default: none."""
    authorized_networks: NotRequired[list[AuthorizedNetworkArgs]]
    """Networks that may reach the control plane's IP endpoint, which is then on (master authorized networks).
    Default: none, and the IP endpoints are off: the control plane is reachable only through GKE's DNS-based endpoint,
    which Google authorizes with IAM (the kubeconfig and `pulumi` always use it)."""
    public_endpoint: NotRequired[bool]
    """Open the control plane's IP endpoint to the whole internet (Kubernetes still authenticates each request).
    Excludes authorized_networks. Default: false."""
    rbac_security_group: NotRequired[str]
    """Google Groups for RBAC: the Google Group, which must be named gke-security-groups@YOUR_DOMAIN, that contains
    the groups used as RBAC subjects (e.g. a Tenant's group: members). Standard and Autopilot. Default: none (RBAC
    bindings of Google Groups then grant nothing)."""
