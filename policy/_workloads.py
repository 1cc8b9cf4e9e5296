"""Where Kubernetes resources keep their pod templates and containers.

Type tokens are `kubernetes:<group>/<version>:<Kind>` (the core group is `core`); custom resources created with
`pulumi_kubernetes.apiextensions.CustomResource` get theirs from apiVersion and kind, e.g.
`kubernetes:ray.io/v1:RayService`. Versions are not matched: a rule about a kind holds for all its versions.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ._props import at, elements, is_unknown, text

# Pod templates carry these annotations to claim a documented exception; the value says why.
PRIVILEGED_REASON = "gke-tpu-serving/privileged-reason"
HOST_NETWORK_REASON = "gke-tpu-serving/host-network-reason"
# Stacks set this on a Service (or custom resource) only when stack config asks for public exposure.
PUBLIC_EXPOSURE = "gke-tpu-serving/public-exposure"
# TenantGateway sets this on an external Gateway whose every backend has IAP enabled (a GCPBackendPolicy per Service).
IAP_PROTECTED = "gke-tpu-serving/identity-aware-proxy"


def group_kind(resource_type: str) -> tuple[str, str] | None:
    """`kubernetes:apps/v1:Deployment` -> ("apps", "Deployment"); None for other providers' types."""
    parts = resource_type.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes":
        return None
    return parts[1].rsplit("/", 1)[0], parts[2]


@dataclass(frozen=True)
class PodTemplate:
    """One pod template (or a Pod itself) inside a resource's props."""

    path: str
    """Where it sits, for messages: "spec.template", or "" for a Pod."""
    value: Any
    """The template: metadata and spec."""
    batch: bool
    """Its pods run to completion (Jobs, CronJobs, JobSets, RayJobs): no probes needed."""
    ray: bool = False
    """A KubeRay head or worker template: KubeRay runs Ray in containers[0] and injects its probes there."""

    def _at(self, field: str) -> str:
        return f"{self.path}.{field}" if self.path else field

    @property
    def spec(self) -> Any:
        return at(self.value, "spec")

    @property
    def annotations_path(self) -> str:
        return self._at("metadata.annotations")

    def annotation(self, key: str) -> Any:
        return at(self.value, "metadata", "annotations", key)

    def has_reason(self, key: str) -> bool:
        """Whether the template carries the exception annotation `key` with a non-empty reason."""
        reason = text(self.annotation(key))
        return reason is not None and reason.strip() != ""

    def spec_path(self, field: str) -> str:
        return self._at(f"spec.{field}")


@dataclass(frozen=True)
class Container:
    template: PodTemplate
    field: str
    """containers, initContainers or ephemeralContainers."""
    index: int
    value: Any

    @property
    def path(self) -> str:
        return self.template.spec_path(f"{self.field}[{self.index}]")

    @property
    def label(self) -> str:
        """The container's name as a message quotes it."""
        name = text(at(self.value, "name"))
        return repr(name) if name else "(unnamed)"

    @property
    def long_running(self) -> bool:
        """Runs for the pod's lifetime: a container of a non-batch pod, or a native sidecar (restartPolicy Always)."""
        if self.template.batch:
            return False
        if self.field == "containers":
            return True
        return self.field == "initContainers" and at(self.value, "restartPolicy") == "Always"


def _template(
    root: Any, path: tuple[str | int, ...], label: str, *, batch: bool, ray: bool = False
) -> list[PodTemplate]:
    value = at(root, *path)
    if value is None or is_unknown(value):
        return []
    return [PodTemplate(label, value, batch=batch, ray=ray)]


def _ray_cluster(props: Any, path: tuple[str, ...], *, batch: bool) -> list[PodTemplate]:
    cluster = at(props, *path)
    prefix = ".".join(path)
    templates = _template(
        cluster, ("headGroupSpec", "template"), f"{prefix}.headGroupSpec.template", batch=batch, ray=True
    )
    for index, group in enumerate(elements(at(cluster, "workerGroupSpecs"))):
        label = f"{prefix}.workerGroupSpecs[{index}].template"
        templates += _template(group, ("template",), label, batch=batch, ray=True)
    return templates


def _spec_template(props: Any) -> list[PodTemplate]:
    return _template(props, ("spec", "template"), "spec.template", batch=False)


def _pod(props: Any) -> list[PodTemplate]:
    # A bare Pod that is not restarted runs to completion like a Job's.
    batch = at(props, "spec", "restartPolicy") in ("Never", "OnFailure")
    return [PodTemplate("", props, batch=batch)]


def _job(props: Any) -> list[PodTemplate]:
    return _template(props, ("spec", "template"), "spec.template", batch=True)


def _cron_job(props: Any) -> list[PodTemplate]:
    return _template(props, ("spec", "jobTemplate", "spec", "template"), "spec.jobTemplate.spec.template", batch=True)


def _job_set(props: Any) -> list[PodTemplate]:
    templates: list[PodTemplate] = []
    for index, job in enumerate(elements(at(props, "spec", "replicatedJobs"))):
        label = f"spec.replicatedJobs[{index}].template.spec.template"
        templates += _template(job, ("template", "spec", "template"), label, batch=True)
    return templates


def _ray_service(props: Any) -> list[PodTemplate]:
    return _ray_cluster(props, ("spec", "rayClusterConfig"), batch=False)


def _ray_cluster_resource(props: Any) -> list[PodTemplate]:
    return _ray_cluster(props, ("spec",), batch=False)


def _ray_job(props: Any) -> list[PodTemplate]:
    submitter = _template(props, ("spec", "submitterPodTemplate"), "spec.submitterPodTemplate", batch=True)
    return _ray_cluster(props, ("spec", "rayClusterSpec"), batch=True) + submitter


def _leader_worker_set(props: Any) -> list[PodTemplate]:
    templates: list[PodTemplate] = []
    for role in ("leaderTemplate", "workerTemplate"):
        path = ("spec", "leaderWorkerTemplate", role)
        templates += _template(props, path, ".".join(path), batch=False)
    return templates


_TEMPLATES: dict[tuple[str, str], Callable[[Any], list[PodTemplate]]] = {
    ("apps", "Deployment"): _spec_template,
    ("apps", "StatefulSet"): _spec_template,
    ("apps", "DaemonSet"): _spec_template,
    ("apps", "ReplicaSet"): _spec_template,
    ("core", "ReplicationController"): _spec_template,
    ("core", "Pod"): _pod,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cron_job,
    ("jobset.x-k8s.io", "JobSet"): _job_set,
    ("ray.io", "RayService"): _ray_service,
    ("ray.io", "RayCluster"): _ray_cluster_resource,
    ("ray.io", "RayJob"): _ray_job,
    ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"): _leader_worker_set,
}


def pod_templates(resource_type: str, props: Any) -> list[PodTemplate]:
    """Every pod template of a workload resource; [] for any other resource."""
    found = group_kind(resource_type)
    extract = _TEMPLATES.get(found) if found else None
    return extract(props) if extract else []


def containers(
    resource_type: str, props: Any, fields: tuple[str, ...] = ("initContainers", "containers", "ephemeralContainers")
) -> Iterator[Container]:
    """Every known container of every pod template of a resource, in `fields`."""
    for template in pod_templates(resource_type, props):
        for field in fields:
            for index, value in enumerate(elements(at(template.spec, field))):
                if not is_unknown(value):
                    yield Container(template, field, index, value)
