"""Checks `tenants` and `tenancy` against the clusters and the scenario instances that name a tenant, before any
resource is registered."""

from collections.abc import Mapping, Sequence
from typing import Any, cast

from gke_tpu_serving import (
    AccessMode,
    NotebookArgs,
    RayAuthMode,
    RayClusterArgs,
    TenantArgs,
)
from gke_tpu_serving.catalog.versions import RAY_VERSION
from gke_tpu_serving.errors import ArgError, PathPart
from gke_tpu_serving.ray.cluster_args import max_requests
from gke_tpu_serving.ray.ray_cluster import check_ray_cluster_args
from gke_tpu_serving.ray.spec import check_ray_name
from gke_tpu_serving.tenancy.notebook import DEFAULTS as NOTEBOOK_DEFAULTS
from gke_tpu_serving.tenancy.notebook import check_notebook_args
from gke_tpu_serving.tenancy.quota import Demand, Resources, check_capacity, check_demands, parse_quantity
from gke_tpu_serving.tenancy.tenant import check_tenant_args
from gke_tpu_serving.tenancy.tenant_gateway import check_tenant_gateway_args

from ..model import Cluster, Placement, StackInfo, config_error
from ..typed import convert
from .model import (
    ParsedTenant,
    Tenancy,
    TenancyConfig,
    TenantConfig,
    WorkerGroupConfig,
    gateway_args,
    ray_cluster_name,
    ray_token_secret,
    tenant_routes,
)


def _error(path: Sequence[PathPart], error: ArgError) -> Exception:
    return config_error((*path, *error.path), error.reason)


# Where a RayCluster arg of a worker group comes from in the group's config.
_GROUP_KEY_OF_ARG = {"group_name": "name", "replicas": "min_replicas"}
_GROUP_KINDS = ("tpu_worker_groups", "gpu_worker_groups", "cpu_worker_groups")


def _worker_group(group: WorkerGroupConfig, cluster: Cluster, at: tuple[PathPart, ...]) -> tuple[str, dict[str, Any]]:
    """(the RayCluster args key of the group's kind, the group's args), from its config and its pool."""
    minimum = group.get("min_replicas", 0)
    args: dict[str, Any] = {"group_name": group["name"], "replicas": minimum, "min_replicas": minimum}
    args |= {key: value for key, value in group.items() if key in ("cpu", "memory")}
    pool = group.get("pool")
    if pool is None:
        if "gpus" in group:
            raise ArgError((*at, "gpus"), "set on a group without a pool; allowed: gpus only on a gpuPools pool")
        args["max_replicas"] = group.get("max_replicas", max(minimum, 1))
        return "cpu_worker_groups", args
    slices = cluster.plan.tpu_slices_of(pool)
    gpu_pool = cluster.plan.gpu_pool(pool)
    if slices:
        shape = slices[0].tpu_slice
        kind, unit, capacity = "tpu_worker_groups", "slices", sum(p.max_size for p in slices) // shape.hosts
        args |= {
            "tpu_generation": shape.generation,
            "tpu_machine_type": shape.machine_type,
            "tpu_topology": shape.topology,
        }
    elif gpu_pool is not None:
        per_node = gpu_pool.machine.gpus_per_vm
        workers_per_node = max(per_node // max(group.get("gpus", per_node), 1), 1)
        kind, unit, capacity = "gpu_worker_groups", "workers", gpu_pool.max_nodes * workers_per_node
        args |= {"accelerator_type": gpu_pool.accelerator_type, "machine_type": gpu_pool.machine.name}
        args |= {key: value for key, value in group.items() if key == "gpus"}
    else:
        names = ", ".join(cluster.plan.pool_names) or "none"
        raise ArgError(
            (*at, "pool"), f"{pool!r} is not an accelerator pool of cluster {cluster.name!r}; allowed: {names}"
        )
    args["max_replicas"] = group.get("max_replicas", capacity)
    if args["max_replicas"] > capacity:
        raise ArgError(
            (*at, "max_replicas"),
            f"{args['max_replicas']} {unit} is more than pool {pool!r} holds at its maximum size; allowed: at most "
            f"{capacity}",
        )
    return kind, args


def _ray_cluster_args(config: TenantConfig, cluster: Cluster, namespace: str) -> RayClusterArgs | None:
    """The team's RayCluster from its config; raises ArgError with paths relative to the tenants entry."""
    ray = config.get("ray_cluster")
    if ray is None:
        return None
    check_ray_name(("ray_cluster", "name"), ray_cluster_name(config))
    args: dict[str, Any] = {"namespace": namespace, "service_account_name": "workloads"}
    for key in ("image", "ray_version", "head", "auth"):
        if key in ray:
            args[key] = ray[key]
    origin: dict[tuple[str, int], int] = {}
    for index, group in enumerate(ray.get("worker_groups", [])):
        kind, group_args = _worker_group(group, cluster, ("ray_cluster", "worker_groups", index))
        kind_groups: list[Any] = args.setdefault(kind, [])
        origin[(kind, len(kind_groups))] = index
        kind_groups.append(group_args)
    try:
        check_ray_cluster_args(cast(RayClusterArgs, args))
    except ArgError as error:
        path = error.path
        if path[0] in _GROUP_KINDS:
            key = str(path[2])
            index = origin[(str(path[0]), int(path[1]))]
            raise ArgError(
                ("ray_cluster", "worker_groups", index, _GROUP_KEY_OF_ARG.get(key, key), *path[3:]), error.reason
            ) from None
        raise error.within(("ray_cluster",)) from None
    return cast(RayClusterArgs, args)


def _notebook_args(config: TenantConfig, cluster: Cluster, namespace: str) -> NotebookArgs | None:
    notebook = config.get("notebook")
    if notebook is None:
        return None
    ray = config.get("ray_cluster")
    if ray is None:
        raise ArgError(("notebook",), "set without rayCluster; required: the rayCluster the notebook connects to")
    args: NotebookArgs = {
        "namespace": namespace,
        "service_account_name": "workloads",
        "ray_cluster": ray_cluster_name(config),
        "ray_version": ray.get("ray_version", RAY_VERSION),
        "token": "checked-at-deploy",
        **notebook,
    }
    if ray.get("auth", RayAuthMode.TOKEN) is RayAuthMode.TOKEN:
        args["ray_auth_token_secret"] = ray_token_secret(config, cluster)
    try:
        check_notebook_args(args)
    except ArgError as error:
        key = str(error.path[0])
        # Keys the notebook takes from rayCluster are reported there.
        where = {"ray_version": ("ray_cluster", "ray_version"), "ray_cluster": ("ray_cluster", "name")}
        raise ArgError((*where.get(key, ("notebook", key)), *error.path[1:]), error.reason) from None
    return args


def _parse_tenant(
    index: int, raw: Any, clusters: Mapping[str, Cluster], domain: str | None, project: str
) -> ParsedTenant:
    at: tuple[PathPart, ...] = ("tenants", index)
    try:
        config: TenantConfig = convert(raw, TenantConfig)
    except ArgError as error:
        raise _error(at, error) from None
    name = config["name"]
    cluster = clusters.get(config["cluster"])
    if cluster is None:
        raise config_error(
            (*at, "cluster"), f"{config['cluster']!r} is not a cluster of this stack; allowed: {', '.join(clusters)}"
        )
    args: TenantArgs = {
        "project": project,
        "namespace": config.get("namespace", name),
        "members": config["members"],
        "quota": config["quota"],
    }
    if "container_defaults" in config:
        args["container_defaults"] = config["container_defaults"]
    try:
        check_tenant_args(args)
        ray_cluster = _ray_cluster_args(config, cluster, args["namespace"])
        notebook = _notebook_args(config, cluster, args["namespace"])
    except ArgError as error:
        raise _error(at, error) from None
    _check_group_members(at, config, cluster)
    routes = tenant_routes(config, name)
    if ray_cluster is not None and ray_cluster.get("auth") is RayAuthMode.DISABLED:
        # Its dashboard and job API are routed through the team's gateway: Ray must authenticate them too.
        raise config_error(
            (*at, "ray_cluster", "auth"),
            "disabled, but the team's gateway routes the Ray dashboard and job API (/ray/) beyond the cluster; "
            "allowed: token (the default)",
        )
    hostname = config.get("hostname") or (f"{name}.{domain}" if domain else None)
    if routes and hostname is None:
        raise config_error(
            (*at, "hostname"), "missing, and tenancy.domain is not set; required: a hostname for the team's routes"
        )
    return ParsedTenant(index, config, cluster, args, hostname, routes, notebook, ray_cluster)


def _check_group_members(at: tuple[PathPart, ...], config: TenantConfig, cluster: Cluster) -> None:
    """Without Google Groups for RBAC, GKE never resolves a Google Group subject: its RoleBindings would grant
    nothing."""
    if cluster.plan.rbac_security_group is not None:
        return
    for index, entry in enumerate(config["members"]):
        member = entry["member"]
        if member.startswith("group:"):
            raise config_error(
                (*at, "members", index, "member"),
                f"{member!r} is a Google Group, but cluster {cluster.name!r} has no rbacSecurityGroup, so GKE would "
                f"not resolve it in RBAC; allowed: set clusters[{cluster.index}].rbacSecurityGroup: "
                "gke-security-groups@DOMAIN (a group containing the team's groups), or user: members",
            )


def _check_scenarios(
    tenants: Mapping[str, ParsedTenant], instances: Sequence[Placement], stack: StackInfo
) -> dict[str, list[Demand]]:
    demands: dict[str, list[Demand]] = {name: [] for name in tenants}
    for placement in instances:
        if placement.tenant is None:
            continue
        tenant = tenants.get(placement.tenant)
        if tenant is None:
            raise config_error(
                placement.at("tenant"),
                f"{placement.tenant!r} is not a tenant of this stack; allowed: {', '.join(tenants) or 'none'}",
            )
        if tenant.cluster.name != placement.cluster.name:
            raise config_error(
                placement.at("cluster"),
                f"{placement.cluster.name!r} is not the cluster of tenant {placement.tenant!r}; allowed: "
                f"{tenant.cluster.name!r}",
            )
        demand = placement.scenario.demand(placement, stack)
        demands[placement.tenant].append(Demand(placement.path, placement.namespace, demand))
    return demands


def _ray_cluster_demand(tenant: ParsedTenant, args: RayClusterArgs) -> Demand:
    settings = check_ray_cluster_args(args)
    largest = max_requests(settings.head, settings.groups)
    return Demand(("tenants", tenant.index, "ray_cluster"), args["namespace"], largest)


def _notebook_demand(tenant: ParsedTenant) -> Demand:
    notebook: Mapping[str, Any] = tenant.config.get("notebook") or {}
    cpu = parse_quantity(notebook.get("cpu", NOTEBOOK_DEFAULTS["cpu"]))
    memory = parse_quantity(notebook.get("memory", NOTEBOOK_DEFAULTS["memory"]))
    return Demand(("tenants", tenant.index, "notebook"), tenant.args["namespace"], Resources(cpu=cpu, memory=memory))


def parse(
    raw_tenants: Any,
    raw_tenancy: Any,
    clusters: Mapping[str, Cluster],
    instances: Sequence[Placement],
    stack: StackInfo,
    secret_keys: frozenset[str],
) -> Tenancy | None:
    """Validate `tenants` and `tenancy` against the clusters and the scenario instances that name a tenant."""
    project = stack.gcp_project
    for placement in instances:
        if raw_tenants is None and placement.tenant is not None:
            raise config_error(
                placement.at("tenant"), f"{placement.tenant!r} is not a tenant of this stack; allowed: none"
            )
    if raw_tenants is None:
        if raw_tenancy is not None:
            raise config_error(("tenancy",), "set without tenants; allowed: tenancy only with a tenants list")
        return None
    if not isinstance(raw_tenants, list) or not raw_tenants:
        raise config_error(("tenants",), f"{raw_tenants!r} is not allowed; allowed: a non-empty list of teams")
    try:
        settings: TenancyConfig = convert(raw_tenancy or {}, TenancyConfig)
    except ArgError as error:
        raise _error(("tenancy",), error) from None
    domain = settings.get("domain")
    parsed = [_parse_tenant(index, entry, clusters, domain, project) for index, entry in enumerate(raw_tenants)]
    by_name: dict[str, ParsedTenant] = {}
    namespaces: dict[tuple[str, str], str] = {}
    ray_clusters: dict[str, str] = {}
    for tenant in parsed:
        name, namespace = tenant.config["name"], tenant.args["namespace"]
        if name in by_name:
            raise config_error(("tenants", tenant.index, "name"), f"{name!r} is used twice; allowed: unique names")
        if tenant.ray_cluster is not None:
            ray_name = ray_cluster_name(tenant.config)
            if ray_name in ray_clusters:
                raise config_error(
                    ("tenants", tenant.index, "ray_cluster", "name"),
                    f"{ray_name!r} is already tenant {ray_clusters[ray_name]!r}'s RayCluster; allowed: a name unique "
                    "in the stack",
                )
            ray_clusters[ray_name] = name
        other = namespaces.get((tenant.cluster.name, namespace))
        if other is not None:
            raise config_error(
                ("tenants", tenant.index, "namespace"),
                f"{namespace!r} is already tenant {other!r}'s on cluster {tenant.cluster.name!r}; allowed: a "
                "namespace of its own",
            )
        by_name[name] = tenant
        namespaces[(tenant.cluster.name, namespace)] = name
    _check_access(parsed, settings, project, secret_keys)
    demands = _check_scenarios(by_name, instances, stack)
    for tenant in parsed:
        own = demands[tenant.config["name"]]
        if tenant.notebook is not None:
            own.insert(0, _notebook_demand(tenant))
        if tenant.ray_cluster is not None:
            own.insert(0, _ray_cluster_demand(tenant, tenant.ray_cluster))
        try:
            quota = check_tenant_args(tenant.args).quota
            check_demands(tenant.config["name"], tenant.args["namespace"], quota, own)
        except ArgError as error:
            raise config_error(error.path, error.reason) from None
    if not settings.get("allow_overcommit", False):
        _check_capacity(parsed)
    with_scenarios = {placement.tenant for placement in instances if placement.tenant is not None}
    for tenant in parsed:
        _check_route_services(tenant, tenant.config["name"] in with_scenarios)
    return Tenancy(tuple(parsed), settings)


def _check_route_services(tenant: ParsedTenant, has_scenarios: bool) -> None:
    """A configured route must reach a Service the stack creates: a route to nothing is a dangling HTTPRoute (and an
    IAP policy on nothing). There is deliberately no key for a Service made outside the stack: the plan's integrity
    checks would refuse its route anyway. The Services of scenario instances in the team's namespace are named by
    their scenario; the preview's integrity checks (gke_tpu_serving.k8s.integrity) hold those routes to them."""
    if has_scenarios:
        return
    created = [route["service"] for route in tenant.routes[: len(tenant.routes) - len(tenant.config.get("routes", []))]]
    for index, route in enumerate(tenant.config.get("routes", [])):
        if route["service"] not in created:
            allowed = ", ".join(created) or "none (the team has no rayCluster or notebook)"
            raise config_error(
                ("tenants", tenant.index, "routes", index, "service"),
                f"{route['service']!r} is not a Service this stack creates in namespace {tenant.args['namespace']!r};"
                f" allowed: {allowed}, or a Service of a scenario instance with tenant: {tenant.config['name']}",
            )


def _check_access(
    tenants: Sequence[ParsedTenant], settings: TenancyConfig, project: str, secret_keys: frozenset[str]
) -> None:
    for cluster_name in sorted({t.cluster.name for t in tenants}):
        routed = [t for t in tenants if t.cluster.name == cluster_name and t.routes]
        if not routed:
            continue
        args = gateway_args(routed, settings, project)
        if args["mode"] is AccessMode.IAP:
            if "iapClientSecret" not in secret_keys:
                raise config_error(
                    ("tenancy", "mode"),
                    "iap, but the iapClientSecret secret is not set; allowed: set it with "
                    "`pulumi config set --secret iapClientSecret ...`, or mode istio",
                )
            args["iap_client_secret"] = "checked-at-deploy"
        try:
            check_tenant_gateway_args(args)
        except ArgError as error:
            path = error.path
            if path[:1] == ("tenants",) and len(path) > 1:
                # The gateway lists routed tenants only; point at the stack's own tenants entry.
                tenant = next(t for t in tenants if t.config["name"] == args["tenants"][int(path[1])]["name"])
                rest = list(path[2:])
                if rest[:1] == ["routes"] and len(rest) > 1:
                    # The routes the stack adds (/ray/, /notebook/) come before the configured ones.
                    rest[1] = int(rest[1]) - (len(tenant.routes) - len(tenant.config.get("routes", [])))
                raise config_error(("tenants", tenant.index, *rest), error.reason) from None
            raise _error(("tenancy",), error) from None
    if any(t.notebook is not None for t in tenants) and "notebookSecret" not in secret_keys:
        raise config_error(
            ("tenants",),
            "a team has a notebook, but the notebookSecret secret is not set; allowed: set it with "
            "`pulumi config set --secret notebookSecret ...` (each notebook's Jupyter token is derived from it)",
        )


def _check_capacity(tenants: Sequence[ParsedTenant]) -> None:
    for cluster_name in sorted({t.cluster.name for t in tenants}):
        on_cluster = [t for t in tenants if t.cluster.name == cluster_name]
        plan = on_cluster[0].cluster.plan
        capacity = Resources(tpu_chips=plan.max_tpu_chips, gpus=plan.max_gpus)
        for field_name in ("tpu_chips", "gpus"):
            quotas = [(t.config["name"], int(getattr(check_tenant_args(t.args).quota, field_name))) for t in on_cluster]
            try:
                check_capacity(("tenants",), field_name, quotas, int(getattr(capacity, field_name)), cluster_name)
            except ArgError as error:
                raise config_error(error.path, error.reason) from None
