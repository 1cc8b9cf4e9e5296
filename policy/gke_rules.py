"""GKE clusters and node pools: identity, node hardening, upgrades and TPU slice shape."""

from collections.abc import Iterator
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from gke_tpu_serving.catalog import TPU_GENERATIONS, TpuGeneration, tpu_slice
from gke_tpu_serving.cluster.control_plane import PUBLIC_CONTROL_PLANE_LABEL
from gke_tpu_serving.errors import ArgError

from ._props import at, elements, is_unknown, number, subject, text

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"

RELEASE_CHANNELS = ("RAPID", "REGULAR", "STABLE", "EXTENDED")
TPU_MACHINE_PREFIXES = ("ct4p-", "ct5lp-", "ct5p-", "ct6e-", "tpu7x-")
_DEFAULT_COMPUTE_ACCOUNT_SUFFIX = "-compute@developer.gserviceaccount.com"
# Node counts a multi-host slice pool may set; each one that is set must be the slice's host count.
_NODE_COUNT_FIELDS: tuple[tuple[str, ...], ...] = (
    ("nodeCount",),
    ("initialNodeCount",),
    ("autoscaling", "maxNodeCount"),
    ("autoscaling", "totalMaxNodeCount"),
)


def _autopilot(args: ResourceValidationArgs) -> bool:
    return args.resource_type == CLUSTER and at(args.props, "enableAutopilot") is True


def _node_pools(args: ResourceValidationArgs) -> Iterator[tuple[str, Any]]:
    """(path prefix, pool) for a NodePool, and for each pool a Cluster defines inline in `nodePools`."""
    if args.resource_type == NODE_POOL:
        yield "", args.props
    elif args.resource_type == CLUSTER:
        for index, pool in enumerate(elements(at(args.props, "nodePools"))):
            if not is_unknown(pool):
                yield f"nodePools[{index}].", pool


def _node_configs(args: ResourceValidationArgs) -> Iterator[tuple[str, Any]]:
    """(path, nodeConfig) of every set of nodes the resource defines: a pool's, or a Standard cluster's own (its
    default pool, which exists at least until `removeDefaultNodePool` removes it) and its inline pools'."""
    if args.resource_type == CLUSTER and not _autopilot(args):
        yield "nodeConfig", at(args.props, "nodeConfig")
    for prefix, pool in _node_pools(args):
        yield f"{prefix}nodeConfig", at(pool, "nodeConfig")


def validate_workload_identity(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CLUSTER or _autopilot(args):
        return
    pool = at(args.props, "workloadIdentityConfig", "workloadPool")
    if is_unknown(pool) or text(pool):
        return
    report_violation(
        f"{subject(args)} has no Workload Identity pool; set workloadIdentityConfig.workloadPool to "
        '"PROJECT_ID.svc.id.goog" so pods authenticate as their Kubernetes ServiceAccount, not as the node.',
        None,
    )


def validate_metadata_server(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for path, node_config in _node_configs(args):
        mode = at(node_config, "workloadMetadataConfig", "mode")
        if is_unknown(mode) or mode == "GKE_METADATA":
            continue
        shown = f"is {mode}" if text(mode) else "is not set"
        report_violation(
            f"{subject(args)} does not give its nodes ({path}) the GKE metadata server "
            f"(workloadMetadataConfig.mode {shown}); set {path}.workloadMetadataConfig.mode to GKE_METADATA, "
            "or pods can read the node's credentials instead of their Workload Identity.",
            None,
        )


def _default_account(account: Any) -> str | None:
    """Why a node service account setting means the Compute Engine default account, or None if it does not."""
    if is_unknown(account):
        # An account created in the same stack: its email is known only after it exists.
        return None
    if account is None or account == "":
        return "serviceAccount is not set"
    if account == "default":
        return "serviceAccount is 'default'"
    if isinstance(account, str) and account.endswith(_DEFAULT_COMPUTE_ACCOUNT_SUFFIX):
        return f"serviceAccount is {account!r}"
    return None


def validate_no_default_service_account(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for path, node_config in _node_configs(args):
        reason = _default_account(at(node_config, "serviceAccount"))
        if reason:
            report_violation(
                f"{subject(args)} runs its nodes ({path}) as the Compute Engine default service account ({reason}); "
                f"set {path}.serviceAccount to a dedicated service account with "
                "roles/container.defaultNodeServiceAccount (GkeTpuCluster creates one unless "
                "nodeServiceAccountEmail names another).",
                None,
            )
    if args.resource_type != CLUSTER:
        return
    # Node auto-provisioning (and Autopilot) create pools as this account.
    if at(args.props, "clusterAutoscaling", "enabled") is True or _autopilot(args):
        path = "clusterAutoscaling.autoProvisioningDefaults"
        reason = _default_account(at(args.props, "clusterAutoscaling", "autoProvisioningDefaults", "serviceAccount"))
        if reason:
            report_violation(
                f"{subject(args)} auto-provisions nodes as the Compute Engine default service account ({reason}); "
                f"set {path}.serviceAccount to a dedicated service account.",
                None,
            )


def validate_shielded_nodes(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == CLUSTER and not _autopilot(args):
        enabled = at(args.props, "enableShieldedNodes")
        if not is_unknown(enabled) and enabled is not True:
            report_violation(
                f"{subject(args)} does not require shielded nodes; set enableShieldedNodes: true so every node "
                "proves its boot integrity before it joins the cluster.",
                None,
            )
    for path, node_config in _node_configs(args):
        secure_boot = at(node_config, "shieldedInstanceConfig", "enableSecureBoot")
        if not is_unknown(secure_boot) and secure_boot is not True:
            report_violation(
                f"{subject(args)} boots its nodes ({path}) without Secure Boot; set "
                f"{path}.shieldedInstanceConfig.enableSecureBoot: true.",
                None,
            )


def validate_release_channel(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CLUSTER:
        return
    channel = at(args.props, "releaseChannel", "channel")
    if is_unknown(channel) or channel in RELEASE_CHANNELS:
        return
    shown = f"releaseChannel.channel is {channel}" if text(channel) else "releaseChannel.channel is not set"
    report_violation(
        f"{subject(args)} is on no release channel ({shown}); set releaseChannel.channel to REGULAR (or RAPID, "
        "STABLE, EXTENDED) so GKE keeps the control plane and nodes on supported, patched versions.",
        None,
    )


def _ip_endpoint_problem(props: Any) -> str | None:
    """Why the cluster's IP endpoint takes the whole internet, or None when it does not (or cannot be told yet)."""
    enabled = at(props, "controlPlaneEndpointsConfig", "ipEndpointsConfig", "enabled")
    private = at(props, "privateClusterConfig", "enablePrivateEndpoint")
    if enabled is False or private is True or is_unknown(enabled) or is_unknown(private):
        return None
    authorized = at(props, "masterAuthorizedNetworksConfig")
    if authorized is None:
        return "no masterAuthorizedNetworksConfig"
    if is_unknown(authorized):
        return None
    if at(authorized, "gcpPublicCidrsAccessEnabled") is True:
        return "masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled is true (every Compute Engine address)"
    for index, block in enumerate(elements(at(authorized, "cidrBlocks"))):
        cidr = at(block, "cidrBlock")
        if text(cidr) and cidr.endswith("/0"):
            return f"masterAuthorizedNetworksConfig.cidrBlocks[{index}].cidrBlock is {cidr}"
    return None


def validate_control_plane_access(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CLUSTER:
        return
    problem = _ip_endpoint_problem(args.props)
    if problem is None or at(args.props, "resourceLabels", PUBLIC_CONTROL_PLANE_LABEL) == "true":
        return
    report_violation(
        f"{subject(args)} opens its control plane's IP endpoint to the internet ({problem}); set "
        "controlPlaneEndpointsConfig.ipEndpointsConfig.enabled to false and reach it through the DNS-based endpoint "
        "(IAM-authorized), or list only your networks in masterAuthorizedNetworksConfig.cidrBlocks; to open it on "
        f"purpose, label the cluster {PUBLIC_CONTROL_PLANE_LABEL}=true (GkeTpuCluster's public_endpoint does).",
        None,
    )


def validate_no_legacy_auth(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != CLUSTER:
        return
    if at(args.props, "enableLegacyAbac") is True:
        report_violation(
            f"{subject(args)} enables legacy ABAC, which grants access outside RBAC; remove enableLegacyAbac "
            "(or set it to false).",
            None,
        )
    if at(args.props, "masterAuth", "clientCertificateConfig", "issueClientCertificate") is True:
        report_violation(
            f"{subject(args)} issues a long-lived client certificate for the cluster admin; set "
            "masterAuth.clientCertificateConfig.issueClientCertificate to false (authenticate through IAM).",
            None,
        )


def _tpu_machine(machine_type: str) -> TpuGeneration | None:
    for generation, spec in TPU_GENERATIONS.items():
        if any(machine.name == machine_type for machine in spec.machine_types):
            return generation
    return None


def _tpu_problems(pool: Any, prefix: str) -> Iterator[str]:
    """What is wrong with a TPU pool's slice shape, each as the end of a sentence about the resource."""
    machine_type = text(at(pool, "nodeConfig", "machineType"))
    if machine_type is None or not machine_type.startswith(TPU_MACHINE_PREFIXES):
        return
    generation = _tpu_machine(machine_type)
    if generation is None:
        known = ", ".join(machine.name for spec in TPU_GENERATIONS.values() for machine in spec.machine_types)
        yield (
            f"uses TPU machine type {machine_type!r}, which the TPU catalog does not list; set "
            f"{prefix}nodeConfig.machineType to one of {known} (or add the new type to gke_tpu_serving.catalog)"
        )
        return
    placement = at(pool, "placementPolicy")
    if placement is None or is_unknown(placement):
        # Without a placement policy GKE makes each node its own single-host slice.
        return
    topology = at(placement, "tpuTopology")
    if is_unknown(topology):
        return
    if not text(topology):
        yield (
            f"carries {prefix}placementPolicy without a tpuTopology on TPU machine type {machine_type}; remove "
            "placementPolicy for single-host slices, or give a multi-host slice type COMPACT and its tpuTopology"
        )
        return
    try:
        shape = tpu_slice(generation, machine_type, topology)
    except ArgError as error:
        yield (
            f"asks for a TPU slice the catalog rejects: {error.reason}; "
            f"set {prefix}placementPolicy.tpuTopology to one of those"
        )
        return
    if not shape.multi_host:
        yield (
            f"carries a placement policy, but topology {topology} on {machine_type} is a single-host slice; "
            f"remove {prefix}placementPolicy (GKE rejects a TPU topology on single-host pools)"
        )
        return
    placement_type = at(placement, "type")
    if not is_unknown(placement_type) and placement_type != "COMPACT":
        shown = f"is {placement_type}" if text(placement_type) else "is not set"
        yield (
            f"spans {shape.hosts} hosts ({topology} on {machine_type}) but its placementPolicy.type {shown}; set "
            f"{prefix}placementPolicy.type to COMPACT so GKE places the slice's VMs on one interconnect"
        )
    counted = False
    for field in _NODE_COUNT_FIELDS:
        count = at(pool, *field)
        if count is None:
            continue
        counted = True
        if not is_unknown(count) and count != shape.hosts:
            name = prefix + ".".join(field)
            yield (
                f"sets {name} to {number(count)}, but a {topology} slice of {machine_type} VMs has {shape.hosts} "
                f"hosts; set {name} to {shape.hosts} (one node pool per slice; GKE rejects any other count)"
            )
    if not counted:
        yield (
            f"sets no node count, but a {topology} slice of {machine_type} VMs has {shape.hosts} hosts; set "
            f"{prefix}nodeCount to {shape.hosts}"
        )


def validate_tpu_slice_placement(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for prefix, pool in _node_pools(args):
        for problem in _tpu_problems(pool, prefix):
            report_violation(f"{subject(args)} {problem}.", None)


POLICIES = [
    ResourceValidationPolicy(
        "gke-workload-identity",
        "GKE clusters enable Workload Identity (workloadIdentityConfig.workloadPool), so pods use their own identity.",
        validate=validate_workload_identity,
    ),
    ResourceValidationPolicy(
        "gke-metadata-server",
        "Every node pool, and a cluster's own nodeConfig, runs the GKE metadata server (workloadMetadataConfig.mode "
        "GKE_METADATA), which hides node credentials from pods.",
        validate=validate_metadata_server,
    ),
    ResourceValidationPolicy(
        "gke-no-default-compute-service-account",
        "Nodes do not run as the Compute Engine default service account (an Editor on the project by default).",
        validate=validate_no_default_service_account,
    ),
    ResourceValidationPolicy(
        "gke-shielded-nodes",
        "Clusters require shielded nodes (enableShieldedNodes) and node pools boot with Secure Boot.",
        validate=validate_shielded_nodes,
    ),
    ResourceValidationPolicy(
        "gke-release-channel",
        "Clusters are enrolled in a release channel (RAPID, REGULAR, STABLE or EXTENDED).",
        validate=validate_release_channel,
    ),
    ResourceValidationPolicy(
        "gke-control-plane-access",
        "A cluster's control plane is not open to the internet: its IP endpoint is off (DNS-based endpoint only) or "
        "limited to authorized networks, unless the cluster is labelled as public on purpose.",
        validate=validate_control_plane_access,
    ),
    ResourceValidationPolicy(
        "gke-no-legacy-auth",
        "Clusters use neither legacy ABAC nor a client certificate for the cluster admin.",
        validate=validate_no_legacy_auth,
    ),
    ResourceValidationPolicy(
        "gke-tpu-slice-placement",
        "Multi-host TPU slice pools have a COMPACT placement policy and exactly the slice's host count as node "
        "count; single-host TPU pools carry no placement policy (checked against gke_tpu_serving.catalog).",
        validate=validate_tpu_slice_placement,
    ),
]
