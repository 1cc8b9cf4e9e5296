"""Tenant: one team's namespace on a shared cluster, with its members' roles, its share of the accelerators, its
network isolation and its Workload Identity."""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from gke_tpu_serving.errors import ArgError, component_errors, require_int
from gke_tpu_serving.identity.workload_identity import WorkloadIdentity, WorkloadIdentityMode
from gke_tpu_serving.k8s.ingress import (
    DENY_INGRESS,
    GOOGLE_FRONT_END_RANGES,
    KUBE_SYSTEM,
    MANAGED_PROMETHEUS_NAMESPACE,
    ingress_peers,
    ingress_policy_spec,
)
from gke_tpu_serving.names import dns_label_at
from gke_tpu_serving.options import inherited_dependencies
from gke_tpu_serving.tenancy.quota import Resources, check_member, parse_quantity

TENANT_LABEL = "gke-tpu-serving/tenant"
Metadata = Callable[[str], k8s.meta.v1.ObjectMetaArgs]
DEFAULT_SYSTEM_NAMESPACES = (KUBE_SYSTEM, MANAGED_PROMETHEUS_NAMESPACE)
RAY_API_GROUP = "ray.io"
RAY_RESOURCES = ("rayclusters", "rayservices", "rayjobs")


class TenantRole(Enum):
    """What a member may do in the tenant's namespace."""

    ADMIN = "admin"
    """The built-in ClusterRole admin (everything in the namespace, RoleBindings included) and the Ray editor Role."""
    CONTRIBUTOR = "contributor"
    """The built-in ClusterRole edit (workloads, Services, Secrets; no RBAC) and the Ray editor Role."""
    VIEWER = "viewer"
    """The built-in ClusterRole view (read, no Secrets) and the Ray viewer Role."""


_CLUSTER_ROLE = {TenantRole.ADMIN: "admin", TenantRole.CONTRIBUTOR: "edit", TenantRole.VIEWER: "view"}


class TenantMemberArgs(TypedDict):
    """A member of the tenant and the role it holds."""

    member: str
    """group:GROUP_EMAIL (needs Google Groups for RBAC on the cluster) or user:USER_EMAIL."""
    role: TenantRole
    """admin, contributor or viewer."""


class TenantQuotaArgs(TypedDict):
    """The tenant's share of the cluster (a ResourceQuota on requests)."""

    cpu: str
    """Sum of CPU requests, a Kubernetes quantity, e.g. "96"."""
    memory: str
    """Sum of memory requests, e.g. "512Gi"."""
    tpu_chips: NotRequired[int]
    """Sum of google.com/tpu requests (chips). Default: 0 (no TPU pods)."""
    gpus: NotRequired[int]
    """Sum of nvidia.com/gpu requests. Default: 0 (no GPU pods)."""
    memory_limit: NotRequired[str]
    """Sum of memory limits. Default: none (limits are not capped; every container has a default limit from the
    LimitRange)."""


class ContainerDefaultsArgs(TypedDict):
    """Requests and limits the LimitRange gives containers that set none (the quota makes requests mandatory)."""

    cpu: NotRequired[str]
    """Default CPU request. Default: "250m"."""
    memory: NotRequired[str]
    """Default memory request. Default: "512Mi"."""
    memory_limit: NotRequired[str]
    """Default memory limit. Default: "2Gi". There is no default CPU limit: CFS throttling stalls accelerator hosts'
    input pipelines while the chips wait."""


class TenantArgs(TypedDict):
    """Arguments of Tenant."""

    project: pulumi.Input[str]
    """GCP project id of the cluster (for the Workload Identity principal)."""
    namespace: str
    """The tenant's namespace, created by the component (DNS-1123 label)."""
    members: list[TenantMemberArgs]
    """Who may work in the namespace, and how; at least one admin."""
    quota: TenantQuotaArgs
    """The tenant's share of CPU, memory, TPU chips and GPUs."""
    container_defaults: NotRequired[ContainerDefaultsArgs]
    """LimitRange defaults for containers without their own requests. Default: 250m CPU, 512Mi (limit 2Gi)."""
    service_account_name: NotRequired[str]
    """The team's Workload Identity Kubernetes ServiceAccount (federated: grant it roles on the team's buckets).
    Default: "workloads"."""
    gateway_source_ranges: NotRequired[list[str]]
    """CIDR ranges the gateway's proxies and health checks come from, allowed in. Default: Google Front End ranges
    35.191.0.0/16 and 130.211.0.0/22 (global external Application Load Balancer)."""
    ingress_namespaces: NotRequired[list[str]]
    """Other namespaces allowed in (system agents, a self-managed KubeRay operator, an Istio ingress gateway).
    Default: kube-system and gmp-system."""


@dataclass(frozen=True)
class TenantSettings:
    """A tenant's args, checked, with defaults filled in."""

    namespace: str
    subjects: dict[TenantRole, list[tuple[str, str]]]
    """RBAC subjects (kind, name) per role."""
    quota: Resources
    hard: dict[str, str]
    """The ResourceQuota's spec.hard."""
    defaults: dict[str, str]
    service_account_name: str
    gateway_source_ranges: tuple[str, ...]
    ingress_namespaces: tuple[str, ...]


def _quantity(path: tuple[str, ...], value: object) -> Decimal:
    return parse_quantity(value, at=path)


def check_tenant_args(args: TenantArgs) -> TenantSettings:
    """Check the args (pure: the stack config calls it at load); raises ArgError."""
    namespace = dns_label_at(("namespace",), args.get("namespace"))
    subjects: dict[TenantRole, list[tuple[str, str]]] = {role: [] for role in TenantRole}
    members = args.get("members")
    if not isinstance(members, list) or not members:
        raise ArgError(("members",), f"{members!r} is not allowed; allowed: a non-empty list of members")
    seen: set[str] = set()
    for index, entry in enumerate(members):
        member, role = entry.get("member"), entry.get("role")
        subject = check_member(member, at=("members", index, "member"))
        if not isinstance(role, TenantRole):
            allowed = ", ".join(r.value for r in TenantRole)
            raise ArgError(("members", index, "role"), f"{role!r} is not allowed; allowed: {allowed}")
        if member in seen:
            raise ArgError(("members", index, "member"), f"{member!r} is listed twice; allowed: one role per member")
        seen.add(str(member))
        subjects[role].append(subject)
    if not subjects[TenantRole.ADMIN]:
        raise ArgError(("members",), "no member has role admin; allowed: at least one admin (who manages the rest)")

    quota = args.get("quota") or {}
    cpu = _quantity(("quota", "cpu"), quota.get("cpu"))
    memory = _quantity(("quota", "memory"), quota.get("memory"))
    tpu_chips = require_int(("quota", "tpu_chips"), quota.get("tpu_chips", 0), minimum=0)
    gpus = require_int(("quota", "gpus"), quota.get("gpus", 0), minimum=0)
    # Extended resources take only requests.* quota; a 0 keeps the tenant off that accelerator altogether.
    hard = {
        "requests.cpu": str(quota["cpu"]),
        "requests.memory": str(quota["memory"]),
        "requests.google.com/tpu": str(tpu_chips),
        "requests.nvidia.com/gpu": str(gpus),
    }
    if "memory_limit" in quota:
        _quantity(("quota", "memory_limit"), quota["memory_limit"])
        hard["limits.memory"] = quota["memory_limit"]

    given = args.get("container_defaults") or {}
    defaults = {"cpu": "250m", "memory": "512Mi", "memory_limit": "2Gi"} | {k: str(v) for k, v in given.items()}
    for key, value in defaults.items():
        _quantity(("container_defaults", key), value)
    if parse_quantity(defaults["memory_limit"]) < parse_quantity(defaults["memory"]):
        raise ArgError(
            ("container_defaults", "memory_limit"),
            f"{defaults['memory_limit']!r} is less than the default memory request {defaults['memory']!r}; "
            "allowed: at least the request",
        )
    ingress_namespaces = tuple(args.get("ingress_namespaces", DEFAULT_SYSTEM_NAMESPACES))
    for index, other in enumerate(ingress_namespaces):
        dns_label_at(("ingress_namespaces", index), other)
    return TenantSettings(
        namespace=namespace,
        subjects=subjects,
        quota=Resources(cpu=cpu, memory=memory, tpu_chips=tpu_chips, gpus=gpus),
        hard=hard,
        defaults=defaults,
        service_account_name=dns_label_at(("service_account_name",), args.get("service_account_name", "workloads")),
        gateway_source_ranges=tuple(args.get("gateway_source_ranges", GOOGLE_FRONT_END_RANGES)),
        ingress_namespaces=ingress_namespaces,
    )


class Tenant(pulumi.ComponentResource):
    """A team's namespace on a shared cluster: Pod Security `restricted`, RoleBindings of the team's Google groups and
    users to admin, edit (contributor) and view plus Roles for KubeRay's RayCluster, RayService and RayJob (the
    built-in roles do not cover custom resources), a ResourceQuota on CPU, memory, TPU chips and GPUs, a LimitRange,
    NetworkPolicies that let in only the namespace itself, the gateway's proxies and system namespaces, and the team's
    Workload Identity ServiceAccount. Pass the cluster's Kubernetes provider in `opts`.

    Groups need Google Groups for RBAC on the cluster (GkeTpuCluster's rbac_security_group,
    gke-security-groups@YOUR_DOMAIN, with the team's groups among its members)."""

    namespace: pulumi.Output[str]
    """The tenant's namespace."""
    service_account_name: pulumi.Output[str]
    """The team's Workload Identity Kubernetes ServiceAccount."""
    member: pulumi.Output[str]
    """Its IAM principal, to grant roles on the team's buckets and other resources."""

    def __init__(self, name: str, args: TenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gke-tpu-serving:index:Tenant", name, None, opts)
        with component_errors("Tenant", name):
            settings = check_tenant_args(args)
        namespace = settings.namespace
        labels = {TENANT_LABEL: name}

        namespace_resource = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=namespace,
                labels={
                    **labels,
                    # Admission refuses privileged, host-namespace and root pods outright, whatever a member applies.
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                },
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=inherited_dependencies(opts)),
        )
        child = pulumi.ResourceOptions(parent=self, depends_on=[namespace_resource])

        def metadata(object_name: str) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=namespace, labels=labels)

        self._role_bindings(name, settings, metadata, child)
        k8s.core.v1.ResourceQuota(
            f"{name}-quota",
            metadata=metadata("tenant-quota"),
            spec=k8s.core.v1.ResourceQuotaSpecArgs(hard=settings.hard),
            opts=child,
        )
        k8s.core.v1.LimitRange(
            f"{name}-limits",
            metadata=metadata("container-defaults"),
            spec=k8s.core.v1.LimitRangeSpecArgs(
                limits=[
                    k8s.core.v1.LimitRangeItemArgs(
                        type="Container",
                        default_request={"cpu": settings.defaults["cpu"], "memory": settings.defaults["memory"]},
                        default={"memory": settings.defaults["memory_limit"]},
                    )
                ]
            ),
            opts=child,
        )
        self._network_policies(name, settings, metadata, child)
        identity = WorkloadIdentity(
            f"{name}-identity",
            {
                "project": args["project"],
                "namespace": namespace,
                "service_account_name": settings.service_account_name,
                "mode": WorkloadIdentityMode.FEDERATED,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace_resource]),
        )
        self.namespace = namespace_resource.metadata.name
        self.service_account_name = identity.service_account_name
        self.member = identity.member
        self.register_outputs(
            {"namespace": self.namespace, "service_account_name": self.service_account_name, "member": self.member}
        )

    @staticmethod
    def _role_bindings(name: str, settings: TenantSettings, metadata: Metadata, child: pulumi.ResourceOptions) -> None:
        # The built-in roles do not reach custom resources unless their ClusterRoles aggregate into them; KubeRay's
        # do not, so Ray objects get Roles of their own.
        ray_roles = {
            "ray-editor": ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"],
            "ray-viewer": ["get", "list", "watch"],
        }
        for role_name, verbs in ray_roles.items():
            k8s.rbac.v1.Role(
                f"{name}-{role_name}",
                metadata=metadata(role_name),
                rules=[
                    k8s.rbac.v1.PolicyRuleArgs(api_groups=[RAY_API_GROUP], resources=list(RAY_RESOURCES), verbs=verbs)
                ],
                opts=child,
            )
        ray_role_of = {
            TenantRole.ADMIN: "ray-editor",
            TenantRole.CONTRIBUTOR: "ray-editor",
            TenantRole.VIEWER: "ray-viewer",
        }
        for role, subjects in settings.subjects.items():
            if not subjects:
                continue
            rbac_subjects = [
                k8s.rbac.v1.SubjectArgs(kind=kind, name=subject, api_group="rbac.authorization.k8s.io")
                for kind, subject in subjects
            ]
            for kind, role_ref in (("ClusterRole", _CLUSTER_ROLE[role]), ("Role", ray_role_of[role])):
                suffix = "ray" if kind == "Role" else "members"
                k8s.rbac.v1.RoleBinding(
                    f"{name}-{role.value}-{suffix}",
                    metadata=metadata(f"{role.value}-{suffix}"),
                    role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind=kind, name=role_ref),
                    subjects=rbac_subjects,
                    opts=child,
                )

    @staticmethod
    def _network_policies(
        name: str, settings: TenantSettings, metadata: Metadata, child: pulumi.ResourceOptions
    ) -> None:
        # Isolation is enforced on the way in: every tenant namespace denies what it does not allow, so egress stays
        # open (DNS, Google APIs, model hubs) without letting one team into another's pods.
        policies = {
            DENY_INGRESS: [],
            "allow-same-namespace": ingress_peers(same_namespace=True),
            "allow-gateway": ingress_peers(cidrs=settings.gateway_source_ranges),
            "allow-system-namespaces": ingress_peers(namespaces=settings.ingress_namespaces),
        }
        for policy_name, peers in policies.items():
            if policy_name != DENY_INGRESS and not peers:
                continue
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy_name}", metadata=metadata(policy_name), spec=ingress_policy_spec(peers), opts=child
            )
