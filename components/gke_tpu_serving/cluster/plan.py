"""Pure validation and defaulting of GkeTpuCluster arguments.

`plan_cluster` turns the raw arguments (a `GkeTpuClusterArgs` mapping) into a fully resolved, frozen
`ClusterPlan`, or raises `ArgError` locating the first bad value. The component builds resources from
the plan; the stack config calls the same function while it loads, so a bad cluster is reported with
its config key before any resource of any cluster is registered.

Longer than 400 lines because the plan types and the one function that builds them change together (a new
pool setting is a field here and a check here), and their derived facts (max size, chips, pool names) sit on the
types so that no caller recomputes them.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from gke_tpu_serving.catalog import (
    MAX_NODES_PER_POOL_ZONE,
    MIN_GKE_VERSION_RAY_ADDON,
    ClusterMode,
    GpuAcceleratorType,
    GpuMachineType,
    TpuGeneration,
    TpuSlice,
    check_autopilot_tpu_version,
    check_min_gke_version,
    check_tpu_zone,
    gpu_accelerator,
    gpu_machine,
    is_zone,
    region_of_zone,
    tpu_generation,
    tpu_slice,
    tpu_zones,
    tpu_zones_in_region,
)
from gke_tpu_serving.cluster.control_plane import ControlPlanePlan, plan_control_plane
from gke_tpu_serving.cluster.obtainability import (
    Obtainability,
    check_fallback,
    check_obtainability,
    check_scales_from_zero,
)
from gke_tpu_serving.errors import ArgError, PathPart, require_int
from gke_tpu_serving.names import DNS_LABEL_MAX, check_gke_name, check_region, check_service_account_id
from gke_tpu_serving.tenancy.quota import check_rbac_security_group

DEFAULT_SYSTEM_MACHINE_TYPE = "e2-standard-4"
DEFAULT_RELEASE_CHANNEL = "REGULAR"
RELEASE_CHANNELS = ("RAPID", "REGULAR", "STABLE", "EXTENDED")
# GKE names the pool it creates with the cluster "default-pool"; ours is "system".
RESERVED_POOL_NAMES = ("system", "default-pool")


MAX_SLICES_PER_ENTRY = 64
"""A project limit, not GKE's (no per-cluster node pool limit was sourced): each slice is a node pool of its own, so a
typo such as `slices: 1000000000` must be refused before the plan tries to build that many pools."""


@dataclass(frozen=True)
class TpuPoolPlan:
    """One GKE node pool holding one TPU slice (GKE's rule: a multi-host slice is a whole pool)."""

    pool_name: str
    tpu_slice: TpuSlice
    zone: str
    node_count: int | None
    """Fixed size, or None when the pool autoscales between min_nodes and max_nodes."""
    min_nodes: int | None
    max_nodes: int | None
    spot: bool
    reservation: str | None
    requested_zone: str | None = None
    """The zone the args named, if any (Autopilot pins pods to it; otherwise Autopilot chooses the zone)."""
    entry_name: str = ""
    """The `tpu_pools` entry this pool comes from: `pool_name` itself, or `<entry_name>-<i>` for one of its slices."""
    obtainability: Obtainability = Obtainability.ON_DEMAND
    """How the pool obtains its nodes (spot and reservation say the same for the two modes they name)."""
    max_run_seconds: int | None = None
    """Flex-start and queued provisioning: how long a node runs before GKE removes it; None for GKE's default."""
    fallback: tuple[Obtainability, ...] = ()
    """Autopilot: the provisioning models its ComputeClass tries, in order; () for none (spot and reservation then
    select the capacity)."""
    workload_policy: str | None = None
    """The name of the Compute Engine workload policy that places this multi-host TPU7x slice (`<pool>-<cluster>`);
    None for every other pool."""

    @property
    def compute_class(self) -> str | None:
        """The name of the ComputeClass its pods select: the entry's name, when the entry has a fallback."""
        return self.entry_name if self.fallback else None

    @property
    def max_size(self) -> int:
        """Nodes the pool has at its largest: its fixed size, or its autoscaling maximum."""
        if self.node_count is not None:
            return self.node_count
        assert self.max_nodes is not None  # _plan_tpu_pool sets either a fixed size or both bounds
        return self.max_nodes

    @property
    def max_chips(self) -> int:
        """TPU chips the pool has at its largest."""
        return self.max_size * self.tpu_slice.chips_per_vm


@dataclass(frozen=True)
class GpuPoolPlan:
    """A GPU node pool that autoscales between min_nodes (0 lets it scale to zero) and max_nodes."""

    pool_name: str
    accelerator_type: GpuAcceleratorType
    machine: GpuMachineType
    zone: str | None
    min_nodes: int
    max_nodes: int
    spot: bool

    @property
    def max_gpus(self) -> int:
        """GPUs the pool has at its largest."""
        return self.max_nodes * self.machine.gpus_per_vm


@dataclass(frozen=True)
class ClusterPlan:
    """Everything GkeTpuCluster needs, validated and with every default filled in."""

    name: str
    location: str
    region: str
    release_channel: str
    min_master_version: str | None
    ray_operator: bool
    gcs_fuse_csi: bool
    managed_prometheus: bool
    private_nodes: bool
    deletion_protection: bool
    node_service_account_id: str | None
    """The id of the node service account to create; None when an existing one is given."""
    system_machine_type: str
    system_node_count: int
    tpu_pools: tuple[TpuPoolPlan, ...]
    gpu_pools: tuple[GpuPoolPlan, ...]
    mode: ClusterMode = ClusterMode.STANDARD
    """On Autopilot the pools describe the capacity that pods select; no node pool exists."""
    dataplane_v2: bool = True
    rbac_security_group: str | None = None
    """gke-security-groups@DOMAIN when Google Groups for RBAC is on; None leaves group RBAC subjects unresolved."""
    control_plane: ControlPlanePlan = field(default_factory=ControlPlanePlan)
    """Who reaches the Kubernetes API: the DNS endpoint, and the IP endpoint only where the args open it."""

    @property
    def autopilot(self) -> bool:
        return self.mode is ClusterMode.AUTOPILOT

    def tpu_slices_of(self, entry_name: str) -> tuple[TpuPoolPlan, ...]:
        """The node pools (one per slice) of the `tpu_pools` entry named `entry_name`; empty if there is none."""
        return tuple(p for p in self.tpu_pools if p.entry_name == entry_name)

    def gpu_pool(self, name: str) -> GpuPoolPlan | None:
        """The `gpu_pools` entry named `name`, if any."""
        return next((p for p in self.gpu_pools if p.pool_name == name), None)

    @property
    def pool_names(self) -> tuple[str, ...]:
        """The names of the `tpu_pools` and `gpu_pools` entries, in that order."""
        tpu = dict.fromkeys(p.entry_name for p in self.tpu_pools)
        return (*tpu, *(p.pool_name for p in self.gpu_pools))

    @property
    def max_tpu_chips(self) -> int:
        """TPU chips of every pool at its largest."""
        return sum(p.max_chips for p in self.tpu_pools)

    @property
    def max_gpus(self) -> int:
        """GPUs of every pool at its largest."""
        return sum(p.max_gpus for p in self.gpu_pools)


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _check(path: Sequence[PathPart], check: Any, *values: Any) -> Any:
    """Run a catalog or name check, re-raising its complaint located at `path`."""
    try:
        return check(*values)
    except ArgError as error:
        raise ArgError(path, error.reason) from None


def _gke_name(value: Any) -> str:
    check_gke_name(value)
    return str(value)


def _node_bounds(at: tuple[PathPart, ...], min_nodes: Any, max_nodes: Any) -> tuple[int, int]:
    """Autoscaling bounds of a pool: min defaults to 0 (scale to zero), max to 1 or min."""
    min_nodes = require_int((*at, "min_nodes"), 0 if min_nodes is None else min_nodes, minimum=0)
    max_nodes = require_int((*at, "max_nodes"), max(min_nodes, 1) if max_nodes is None else max_nodes, minimum=1)
    if max_nodes > MAX_NODES_PER_POOL_ZONE:
        raise ArgError(
            (*at, "max_nodes"),
            f"{max_nodes} is more than GKE's {MAX_NODES_PER_POOL_ZONE} nodes per node pool zone; allowed: "
            f"{max(min_nodes, 1)} to {MAX_NODES_PER_POOL_ZONE}",
        )
    if min_nodes > max_nodes:
        raise ArgError(
            (*at, "min_nodes"),
            f"{min_nodes} is more than the maximum node count, {max_nodes}; allowed: 0 to {max_nodes}",
        )
    return min_nodes, max_nodes


def _location_region(location: Any) -> str:
    if isinstance(location, str) and is_zone(location):
        return region_of_zone(location)
    try:
        check_region(location)
    except ArgError:
        raise ArgError(
            ("location",), f"{location!r} is not a GCP region or zone; allowed: e.g. 'us-central1' or 'us-central1-a'"
        ) from None
    return str(location)


def _pool_zone(
    path: Sequence[PathPart], zone: Any, location: str, region: str, generation: TpuGeneration | None
) -> str | None:
    """The zone a pool runs in: the one asked for, else the cluster's zone, else (regional cluster, TPU)
    the first zone of the region that offers the generation."""
    if zone is not None:
        if not isinstance(zone, str) or not is_zone(zone):
            raise ArgError(path, f"{zone!r} is not a GCP zone; allowed: e.g. 'us-central1-a'")
        if region_of_zone(zone) != region:
            raise ArgError(path, f"zone {zone!r} is not in the cluster's region {region!r}")
    elif is_zone(location):
        zone = location
    elif generation is not None:
        offered = tpu_zones_in_region(generation, region)
        if not offered:
            raise ArgError(
                path,
                f"no zone of region {region!r} offers TPU {generation.value}; "
                f"allowed: {', '.join(tpu_zones(generation))}",
            )
        zone = offered[0]
    if generation is not None and zone is not None:
        _check(path, check_tpu_zone, generation, zone)
    return zone


def _plan_tpu_pool(
    index: int, pool: Mapping[str, Any], location: str, region: str, cluster: str, autopilot: bool
) -> tuple[TpuPoolPlan, ...]:
    at: tuple[PathPart, ...] = ("tpu_pools", index)
    name: str = _check((*at, "name"), _gke_name, pool.get("name"))
    obtainability = check_obtainability(at, pool, autopilot=autopilot)
    fallback = check_fallback(at, pool, autopilot=autopilot)
    try:
        # The catalog locates its complaint at the pool's field of the same name (generation, machine_type, topology).
        generation, machine_type, topology = (
            _enum_value(pool.get("generation")),
            pool.get("machine_type"),
            pool.get("topology"),
        )
        shape = tpu_slice(generation, machine_type, topology)  # type: ignore[arg-type]
    except ArgError as error:
        raise error.within(at) from None
    generation = shape.generation
    zone = _pool_zone((*at, "zone"), pool.get("zone"), location, region, generation)
    assert zone is not None  # a TPU pool always resolves to a zone (or _pool_zone raised)

    slices = require_int((*at, "slices"), pool.get("slices", 1), minimum=1)
    if slices > MAX_SLICES_PER_ENTRY:
        raise ArgError(
            (*at, "slices"),
            f"{slices} is more than {MAX_SLICES_PER_ENTRY} slices (node pools) for one tpuPools entry; allowed: 1 to "
            f"{MAX_SLICES_PER_ENTRY} (a project limit, not GKE's: split a larger fleet into entries or clusters)",
        )
    if slices > 1 and not shape.multi_host:
        raise ArgError(
            (*at, "slices"),
            f"{slices} slices of a single-host {shape.topology} topology; allowed: 1 "
            "(single-host slices are nodes of one pool: set its minimum and maximum node counts instead)",
        )

    min_nodes = pool.get("min_nodes")
    max_nodes = pool.get("max_nodes")
    check_scales_from_zero(at, obtainability, min_nodes)
    if obtainability.nodes_come_and_go:
        # Flex-start and queued provisioning pools autoscale from zero: GKE creates nodes when it obtains capacity.
        min_nodes = 0
    node_count: int | None = None
    if shape.multi_host:
        # A multi-host slice is created and removed as a whole: its pool holds exactly `hosts` nodes,
        # or scales between 0 and `hosts` atomically.
        if max_nodes is not None and max_nodes != shape.hosts:
            raise ArgError(
                (*at, "max_nodes"),
                f"{max_nodes!r} does not match the slice: TPU {generation.value} {shape.topology} on "
                f"{shape.machine_type} has {shape.hosts} hosts and scales as one; allowed: {shape.hosts}",
            )
        if min_nodes is not None and min_nodes not in (0, shape.hosts):
            raise ArgError(
                (*at, "min_nodes"),
                f"{min_nodes!r} would split a multi-host slice of {shape.hosts} hosts; "
                f"allowed: 0 (scale to zero) or {shape.hosts}",
            )
        if min_nodes == 0:
            min_nodes, max_nodes = 0, shape.hosts
        else:
            min_nodes = max_nodes = None
            node_count = shape.hosts
    elif min_nodes is None and max_nodes is None:
        node_count = 1
    else:
        min_nodes, max_nodes = _node_bounds(at, min_nodes, max_nodes)

    reservation = pool.get("reservation")
    pool_names = [name] if slices == 1 else [f"{name}-{i}" for i in range(slices)]
    for pool_name in pool_names:
        _check((*at, "name"), check_gke_name, pool_name)
        if shape.needs_workload_policy and not autopilot:
            policy = f"{pool_name}-{cluster}"
            if len(policy) > DNS_LABEL_MAX:
                raise ArgError(
                    (*at, "name"),
                    f"{name!r} makes the workload policy name {policy!r}, {len(policy)} characters; allowed: at most "
                    f"{DNS_LABEL_MAX} for pool and cluster names together (a TPU7x multi-host pool needs one)",
                )
    return tuple(
        TpuPoolPlan(
            pool_name=pool_name,
            tpu_slice=shape,
            zone=zone,
            node_count=node_count,
            min_nodes=min_nodes,
            max_nodes=max_nodes,
            spot=bool(pool.get("spot", False)),
            reservation=reservation,
            requested_zone=pool.get("zone"),
            entry_name=name,
            obtainability=obtainability,
            max_run_seconds=pool.get("max_run_duration"),
            fallback=fallback,
            workload_policy=f"{pool_name}-{cluster}" if shape.needs_workload_policy and not autopilot else None,
        )
        for pool_name in pool_names
    )


def _plan_gpu_pool(index: int, pool: Mapping[str, Any], location: str, region: str) -> GpuPoolPlan:
    at: tuple[PathPart, ...] = ("gpu_pools", index)
    name: str = _check((*at, "name"), _gke_name, pool.get("name"))
    accelerator = _check(
        (*at, "accelerator_type"), gpu_accelerator, _enum_value(pool.get("accelerator_type"))
    ).accelerator_type
    machine = _check((*at, "machine_type"), gpu_machine, accelerator, pool.get("machine_type"))
    min_nodes, max_nodes = _node_bounds(at, pool.get("min_nodes"), pool.get("max_nodes"))
    return GpuPoolPlan(
        pool_name=name,
        accelerator_type=accelerator,
        machine=machine,
        zone=_pool_zone((*at, "zone"), pool.get("zone"), location, region, None),
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        spot=bool(pool.get("spot", False)),
    )


def plan_cluster(name: str, args: Mapping[str, Any]) -> ClusterPlan:
    """Validate GkeTpuCluster arguments and resolve every default. Raises ArgError on the first bad value.

    `name` is the GKE cluster name (the component's resource name)."""
    _check(("name",), check_gke_name, name)
    location = args.get("location")
    region = _location_region(location)
    assert isinstance(location, str)
    mode = _cluster_mode(args.get("mode", ClusterMode.STANDARD))
    if mode is ClusterMode.AUTOPILOT:
        _check_autopilot_args(args, location, region)

    channel = _enum_value(args.get("release_channel", DEFAULT_RELEASE_CHANNEL))
    if channel not in RELEASE_CHANNELS:
        raise ArgError(("release_channel",), f"{channel!r} is not allowed; allowed: {', '.join(RELEASE_CHANNELS)}")

    tpu_pools = tuple(
        plan
        for index, pool in enumerate(args.get("tpu_pools") or [])
        for plan in _plan_tpu_pool(index, pool, location, region, name, mode is ClusterMode.AUTOPILOT)
    )
    gpu_pools = tuple(
        _plan_gpu_pool(index, pool, location, region) for index, pool in enumerate(args.get("gpu_pools") or [])
    )
    _check_unique_pool_names(tpu_pools, gpu_pools)

    ray_operator = bool(args.get("ray_operator", False))
    version = args.get("min_master_version")
    if version is not None:
        needs = [(tpu_generation(g).min_gke_version, f"TPU {g.value}") for g in _generations(tpu_pools)]
        if ray_operator:
            needs.append((MIN_GKE_VERSION_RAY_ADDON, "the Ray add-on"))
        for minimum, needed_for in needs:
            _check(("min_master_version",), check_min_gke_version, version, minimum, needed_for)
    if mode is ClusterMode.AUTOPILOT:
        for generation in _generations(tpu_pools):
            _check(("min_master_version",), check_autopilot_tpu_version, generation, version)

    existing_account = args.get("node_service_account_email")
    account_id = None
    if existing_account is None:
        account_id = args.get("node_service_account_id")
        if account_id is None:
            account_id = f"{name}-nodes"
            try:
                check_service_account_id(account_id)
            except ArgError as error:
                raise ArgError(
                    ("node_service_account_id",),
                    f"{error.reason} (the default, derived from the cluster name; set a shorter id explicitly)",
                ) from None
        _check(("node_service_account_id",), check_service_account_id, account_id)

    rbac_security_group = args.get("rbac_security_group")
    if rbac_security_group is not None:
        check_rbac_security_group(rbac_security_group, at=("rbac_security_group",))

    system_pool = args.get("system_pool") or {}
    return ClusterPlan(
        name=name,
        location=location,
        region=region,
        release_channel=channel,
        min_master_version=version,
        ray_operator=ray_operator,
        gcs_fuse_csi=bool(args.get("gcs_fuse_csi", True)),
        managed_prometheus=bool(args.get("managed_prometheus", True)),
        private_nodes=bool(args.get("private_nodes", False)),
        deletion_protection=bool(args.get("deletion_protection", True)),
        node_service_account_id=account_id,
        system_machine_type=system_pool.get("machine_type", DEFAULT_SYSTEM_MACHINE_TYPE),
        system_node_count=require_int(("system_pool", "node_count"), system_pool.get("node_count", 1), minimum=1),
        tpu_pools=tpu_pools,
        gpu_pools=gpu_pools,
        mode=mode,
        dataplane_v2=bool(args.get("dataplane_v2", True)),
        rbac_security_group=rbac_security_group,
        control_plane=plan_control_plane(args),
    )


def _cluster_mode(value: Any) -> ClusterMode:
    for member in ClusterMode:
        if value is member or value == member.value:
            return member
    raise ArgError(("mode",), f"{value!r} is not allowed; allowed: {', '.join(m.value for m in ClusterMode)}")


def _check_autopilot_args(args: Mapping[str, Any], location: str, region: str) -> None:
    """Refuse what only Standard node pools have: Autopilot provisions, sizes and scales the nodes itself."""
    if is_zone(location):
        raise ArgError(
            ("location",),
            f"{location!r} is a zone, but Autopilot clusters are regional; allowed: a region, e.g. {region!r} "
            "(a pool's zone pins its pods to one zone)",
        )
    if args.get("system_pool") is not None:
        raise ArgError(
            ("system_pool",),
            f"{args['system_pool']!r} is not allowed on Autopilot, which runs system pods on nodes it manages; "
            "allowed: leave it out",
        )
    for kind in ("tpu_pools", "gpu_pools"):
        for index, pool in enumerate(args.get(kind) or []):
            if pool.get("min_nodes") is not None:
                raise ArgError(
                    (kind, index, "min_nodes"),
                    f"{pool['min_nodes']!r} is not allowed on Autopilot, which creates nodes for pending pods and "
                    "removes idle ones; allowed: leave it out (the maximum node count still bounds the replicas "
                    "placed on the pool)",
                )
    if args.get("dataplane_v2") is False:
        raise ArgError(
            ("dataplane_v2",), "false is not allowed on Autopilot, which always runs Dataplane V2; allowed: true"
        )


def _generations(tpu_pools: Sequence[TpuPoolPlan]) -> list[TpuGeneration]:
    return sorted({p.tpu_slice.generation for p in tpu_pools}, key=lambda g: g.value)


def _check_unique_pool_names(tpu_pools: Sequence[TpuPoolPlan], gpu_pools: Sequence[GpuPoolPlan]) -> None:
    seen: set[str] = set(RESERVED_POOL_NAMES)
    for kind, pools in (("tpu_pools", tpu_pools), ("gpu_pools", gpu_pools)):
        for pool in pools:
            if pool.pool_name in seen:
                raise ArgError(
                    (kind,),
                    f"node pool name {pool.pool_name!r} is used twice or reserved; allowed: unique names "
                    f"other than {', '.join(RESERVED_POOL_NAMES)}",
                )
            seen.add(pool.pool_name)
