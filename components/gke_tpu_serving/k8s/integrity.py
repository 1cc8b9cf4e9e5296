"""Plan integrity: references a cluster would leave dangling or pods it would never schedule, found over the whole
plan before anything is applied. Pure (no Pulumi import): the offline preview and the policy pack's stack policy
both call `check_plan` with the plan's resources.

Rules, each a pure function over the Kubernetes objects of one Kubernetes provider (one cluster) and its node pools:
every Service, PodMonitoring and PodDisruptionBudget selects pods of a workload the plan creates; every HTTPRoute
backend, GCPBackendPolicy/HealthCheckPolicy target and HPA scale target exists; every ServiceAccount, Secret,
ConfigMap and PersistentVolumeClaim a pod references exists in its namespace; every node selector matches a node pool
of the cluster (or, on Autopilot, capacity Autopilot provisions); every namespaced object's namespace exists; no two
objects share a kind, namespace and name. What the platform creates counts as existing: `platform_objects` lists it.

Values the preview cannot know (`UNKNOWN`) match anything: `pulumi up` checks again with them known. Children of
provider-side components (yaml/v2 ConfigFile, helm Chart) are invisible offline; under the CLI they are resources
of the plan like any other.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gke_tpu_serving.k8s.plan_objects import as_list, as_mapping, get_at, pod_references
from gke_tpu_serving.k8s.platform_objects import (
    ANY,
    AUTOPILOT_NODE_SELECTORS,
    DEFAULT_SERVICE_ACCOUNT,
    KUBERAY_FIXED_LABELS,
    KUBERAY_SERVE_LABEL,
    SYSTEM_NAMESPACES,
    UNKNOWN,
    kuberay_pod_labels,
    kuberay_services,
    kuberay_token_secret,
    node_pool_labels,
    pool_matches,
    pool_summary,
)

PROVIDER_SIDE_KUBERNETES_TYPES = frozenset(
    {
        "kubernetes:yaml/v2:ConfigGroup",
        "kubernetes:yaml/v2:ConfigFile",
        "kubernetes:helm.sh/v4:Chart",
        "kubernetes:helm.sh/v3:Release",
        "kubernetes:kustomize/v2:Directory",
    }
)
"""Kubernetes resources whose objects the provider renders itself (from files, charts or an inline list): under mocks
they are one opaque resource, so the plan holds no object for them."""

CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "APIService",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "GatewayClass",
    }
)
"""Kinds without a namespace; every other kind is treated as namespaced."""

RULES: Mapping[str, str] = {
    "integrity-unique-names": "no two objects of a cluster share a kind, namespace and name",
    "integrity-namespaces": "every namespaced object's namespace is created by the plan or is a system namespace",
    "integrity-selectors": "every Service, PodMonitoring and PodDisruptionBudget selects pods the plan creates",
    "integrity-targets": "every HTTPRoute backend, GCPBackendPolicy/HealthCheckPolicy target and HPA target exists",
    "integrity-pod-references": "every ServiceAccount, Secret, ConfigMap and PVC a pod references exists",
    "integrity-node-selectors": "every node selector matches a node pool (or what Autopilot provisions)",
}
"""Each rule's name and what it checks."""

_WORKLOAD_TEMPLATES: Mapping[str, tuple[tuple[str | int, ...], ...]] = {
    "Deployment": (("spec", "template"),),
    "StatefulSet": (("spec", "template"),),
    "DaemonSet": (("spec", "template"),),
    "ReplicaSet": (("spec", "template"),),
    "Job": (("spec", "template"),),
    "CronJob": (("spec", "jobTemplate", "spec", "template"),),
}
_RAY_KINDS = {"RayService": ("spec", "rayClusterConfig"), "RayCluster": ("spec",), "RayJob": ("spec", "rayClusterSpec")}


@dataclass(frozen=True)
class PlanResource:
    """One resource of the plan: its props plain (dicts, lists, scalars), with `UNKNOWN` for unknown values."""

    urn: str
    type: str
    name: str
    parent: str | None
    provider: str | None
    props: Mapping[str, Any]


@dataclass(frozen=True)
class IntegrityViolation:
    rule: str
    urn: str
    message: str


@dataclass(frozen=True)
class KubernetesObject:
    """A Kubernetes object of the plan: its API group, kind, name and namespace (None if cluster-scoped)."""

    resource: PlanResource
    group: str
    kind: str
    name: Any
    namespace: str | None

    @property
    def label(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    @property
    def props(self) -> Mapping[str, Any]:
        return self.resource.props


@dataclass(frozen=True)
class WorkloadPods:
    """The pods of one pod template of a workload (`path`: where the template sits), with the labels they get."""

    owner: KubernetesObject
    path: str
    labels: Mapping[str, Any]
    spec: Mapping[str, Any]


@dataclass
class KubernetesCluster:
    """The Kubernetes objects of one provider, and what it knows of the cluster behind it."""

    objects: list[KubernetesObject] = field(default_factory=list)
    pools: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    autopilot: bool = False
    known: bool = False
    """Whether the provider's cluster is in the plan (then node selectors are checked)."""


def _kubernetes_object(resource: PlanResource) -> KubernetesObject | None:
    parts = resource.type.split(":")
    if (
        len(parts) != 3
        or parts[0] != "kubernetes"
        or resource.type in PROVIDER_SIDE_KUBERNETES_TYPES
        or resource.type.endswith("Patch")
        or not isinstance(resource.props.get("metadata"), Mapping)
    ):
        return None
    group = parts[1].rsplit("/", 1)[0].removeprefix("core")
    kind = str(resource.props.get("kind") or parts[2])
    metadata = resource.props["metadata"]
    namespace = None if kind in CLUSTER_SCOPED_KINDS else metadata.get("namespace") or "default"
    return KubernetesObject(resource, group, kind, metadata.get("name", UNKNOWN), namespace)


def kubernetes_clusters(resources: Sequence[PlanResource]) -> dict[str | None, KubernetesCluster]:
    """The plan's Kubernetes objects by provider (one cluster each), with what the plan says of each cluster."""
    by_urn = {r.urn: r for r in resources}
    clusters: dict[str | None, KubernetesCluster] = {}
    for resource in resources:
        found = _kubernetes_object(resource)
        if found is not None:
            clusters.setdefault(resource.provider, KubernetesCluster()).objects.append(found)
    for provider_urn, cluster in clusters.items():
        provider = by_urn.get(provider_urn or "")
        # GkeTpuCluster parents its Kubernetes provider, its cluster and its node pools alike.
        siblings = [r for r in resources if provider is not None and r.parent == provider.parent and r.parent]
        for sibling in siblings:
            if sibling.type == "gcp:container/cluster:Cluster":
                cluster.known = True
                cluster.autopilot = sibling.props.get("enableAutopilot") is True
            elif sibling.type == "gcp:container/nodePool:NodePool":
                cluster.pools[sibling.name] = node_pool_labels(sibling.props)
    return clusters


def workload_pods(obj: KubernetesObject) -> Iterator[WorkloadPods]:
    """Every pod template of a workload object, with its pods' labels (KubeRay's included); none for other kinds."""
    for template_path in _WORKLOAD_TEMPLATES.get(obj.kind, ()):
        template = get_at(obj.props, *template_path)
        if isinstance(template, Mapping):
            yield WorkloadPods(
                obj,
                ".".join(map(str, template_path)),
                as_mapping(get_at(template, "metadata", "labels")),
                as_mapping(template.get("spec")),
            )
    if obj.kind == "JobSet":
        for index, job in enumerate(as_list(get_at(obj.props, "spec", "replicatedJobs"))):
            template = get_at(job, "template", "spec", "template")
            if isinstance(template, Mapping):
                job_path = f"spec.replicatedJobs[{index}].template.spec.template"
                yield WorkloadPods(
                    obj, job_path, as_mapping(get_at(template, "metadata", "labels")), as_mapping(template.get("spec"))
                )
    if obj.kind in _RAY_KINDS:
        spec_path = _RAY_KINDS[obj.kind]
        spec = as_mapping(get_at(obj.props, *spec_path))
        # A RayService's (and RayJob's) RayCluster is named after it plus a random suffix.
        cluster_name = obj.name if obj.kind == "RayCluster" else UNKNOWN
        groups = [("headgroup", "head", get_at(spec, "headGroupSpec", "template"), "headGroupSpec.template")]
        for index, group in enumerate(as_list(spec.get("workerGroupSpecs"))):
            groups.append(
                (get_at(group, "groupName"), "worker", get_at(group, "template"), f"workerGroupSpecs[{index}].template")
            )
        for group_name, node_type, template, path in groups:
            if not isinstance(template, Mapping):
                continue
            # KubeRay's labelPod: the template's labels win over KubeRay's, except the three that place the pod.
            own = kuberay_pod_labels(cluster_name, node_type, group_name)
            template_labels = as_mapping(get_at(template, "metadata", "labels"))
            labels = {**own, **template_labels, **{key: own[key] for key in KUBERAY_FIXED_LABELS}}
            if obj.kind == "RayService":
                labels[KUBERAY_SERVE_LABEL] = UNKNOWN
            yield WorkloadPods(obj, ".".join(map(str, (*spec_path, path))), labels, as_mapping(template.get("spec")))


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """Whether a matchLabels selector selects these labels (UNKNOWN on either side matches)."""
    return all(
        key in labels and (value is UNKNOWN or labels[key] is UNKNOWN or labels[key] == value)
        for key, value in selector.items()
    )


def _show(selector: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(selector.items()))


class _Checker:
    def __init__(self, cluster: KubernetesCluster) -> None:
        self.cluster = cluster
        self.found: list[IntegrityViolation] = []
        self.pods = [pods for obj in cluster.objects for pods in workload_pods(obj)]
        self.names: dict[tuple[str, Any], set[Any]] = {}
        for obj in cluster.objects:
            self.names.setdefault((obj.kind, obj.namespace), set()).add(obj.name)
        for obj in cluster.objects:
            if obj.kind in ("RayService", "RayCluster") and isinstance(obj.name, str):
                spec = as_mapping(get_at(obj.props, *_RAY_KINDS[obj.kind]))
                self.names.setdefault(("Service", obj.namespace), set()).update(
                    kuberay_services(obj.kind, obj.name, obj.props)
                )
                secret = kuberay_token_secret(obj.name, spec) if obj.kind == "RayCluster" else None
                if secret:
                    self.names.setdefault(("Secret", obj.namespace), set()).add(secret)

    def report(self, rule: str, obj: KubernetesObject, message: str) -> None:
        self.found.append(IntegrityViolation(rule, obj.resource.urn, message))

    def exists(self, kind: str, namespace: str | None, name: Any) -> bool:
        return (
            name is UNKNOWN
            or UNKNOWN in self.names.get((kind, namespace), set())
            or name in self.names.get((kind, namespace), set())
        )

    def unique_names(self) -> None:
        seen: dict[tuple[str, str, str | None, str], KubernetesObject] = {}
        for obj in self.cluster.objects:
            if not isinstance(obj.name, str):
                continue
            key = (obj.group, obj.kind, obj.namespace, obj.name)
            first = seen.setdefault(key, obj)
            if first is not obj:
                self.report(
                    "integrity-unique-names",
                    obj,
                    f"{obj.label} is declared by {first.resource.name!r} and again by {obj.resource.name!r}; "
                    "allowed: one object per kind, namespace and name (the second would overwrite the first)",
                )

    def namespaces(self) -> None:
        created = self.names.get(("Namespace", None), set())
        for obj in self.cluster.objects:
            namespace = obj.namespace
            if namespace is None or namespace in SYSTEM_NAMESPACES or self.exists("Namespace", None, namespace):
                continue
            allowed = ", ".join(sorted(str(n) for n in created | SYSTEM_NAMESPACES))
            self.report(
                "integrity-namespaces",
                obj,
                f"{obj.label} is in namespace {namespace!r}, which the plan does not create; allowed: {allowed}",
            )

    def selectors(self) -> None:
        for obj in self.cluster.objects:
            if obj.kind == "Service":
                selector = get_at(obj.props, "spec", "selector")
            elif obj.kind in ("PodMonitoring", "PodDisruptionBudget"):
                selector = get_at(obj.props, "spec", "selector", "matchLabels")
                if get_at(obj.props, "spec", "selector", "matchExpressions"):
                    continue  # only matchLabels is checked
            else:
                continue
            if not isinstance(selector, Mapping) or not selector:
                continue  # a Service without a selector has its endpoints managed elsewhere
            if not any(p.owner.namespace == obj.namespace and selector_matches(selector, p.labels) for p in self.pods):
                self.report(
                    "integrity-selectors",
                    obj,
                    f"{obj.label} selects pods labelled {_show(selector)}, but no workload of the plan in namespace "
                    f"{obj.namespace!r} has pods with those labels",
                )

    def targets(self) -> None:
        for obj in self.cluster.objects:
            refs: list[tuple[str, Any, Any]] = []
            if obj.kind == "HTTPRoute":
                for rule in as_list(get_at(obj.props, "spec", "rules")):
                    for ref in as_list(get_at(rule, "backendRefs")):
                        refs.append((get_at(ref, "kind") or "Service", get_at(ref, "namespace"), get_at(ref, "name")))
            elif obj.kind in ("GCPBackendPolicy", "HealthCheckPolicy"):
                ref = get_at(obj.props, "spec", "targetRef")
                refs.append((get_at(ref, "kind"), get_at(ref, "namespace"), get_at(ref, "name")))
            elif obj.kind == "HorizontalPodAutoscaler":
                ref = get_at(obj.props, "spec", "scaleTargetRef")
                refs.append((get_at(ref, "kind"), None, get_at(ref, "name")))
            for kind, namespace, name in refs:
                namespace = namespace if isinstance(namespace, str) else obj.namespace
                if not isinstance(kind, str) or self.exists(kind, namespace, name):
                    continue
                creator = "neither the plan nor KubeRay creates" if kind == "Service" else "the plan does not create"
                self.report("integrity-targets", obj, f"{obj.label} targets {kind} {namespace}/{name}, which {creator}")

    def pod_references(self) -> None:
        for pods in self.pods:
            for kind, where, name in pod_references(pods.spec):
                if kind == "ServiceAccount" and name == DEFAULT_SERVICE_ACCOUNT:
                    continue
                if self.exists(kind, pods.owner.namespace, name):
                    continue
                self.report(
                    "integrity-pod-references",
                    pods.owner,
                    f"{pods.owner.label} ({pods.path}.spec.{where}) references {kind} {pods.owner.namespace}/{name}, "
                    "which neither the plan nor the platform creates in that namespace",
                )

    def node_selectors(self) -> None:
        if not self.cluster.known:
            return
        for pods in self.pods:
            selector = pods.spec.get("nodeSelector")
            if not isinstance(selector, Mapping) or not selector:
                continue
            where = f"{pods.owner.label} ({pods.path}.spec.nodeSelector)"
            if self.cluster.autopilot:
                for key, value in sorted(selector.items()):
                    allowed = AUTOPILOT_NODE_SELECTORS.get(key)
                    if value is UNKNOWN or allowed is ANY or (allowed is not None and value in allowed):
                        continue
                    offered = "any value" if allowed is None else ", ".join(sorted(allowed))
                    if allowed is None:
                        offered = "keys " + ", ".join(sorted(AUTOPILOT_NODE_SELECTORS))
                    self.report(
                        "integrity-node-selectors",
                        pods.owner,
                        f"{where} selects {key}={value}, which Autopilot does not provision; allowed: {offered}",
                    )
                continue
            if not any(pool_matches(selector, labels) for labels in self.cluster.pools.values()):
                pools = "; ".join(
                    f"{name} ({pool_summary(labels)})" for name, labels in sorted(self.cluster.pools.items())
                )
                self.report(
                    "integrity-node-selectors",
                    pods.owner,
                    f"{where} selects {_show(selector)}, but no node pool of its cluster has those labels, so the pods "
                    f"would never be scheduled; pools: {pools or 'none'}",
                )


def check_plan(resources: Sequence[PlanResource]) -> list[IntegrityViolation]:
    """Every integrity violation of the plan, rule by rule, cluster by cluster, in plan order within each."""
    found: list[IntegrityViolation] = []
    for cluster in kubernetes_clusters(resources).values():
        checker = _Checker(cluster)
        checker.unique_names()
        checker.namespaces()
        checker.selectors()
        checker.targets()
        checker.pod_references()
        checker.node_selectors()
        found += checker.found
    return found
