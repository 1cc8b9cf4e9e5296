"""Kubernetes objects: no unasked-for public exposure; containers sized, probed, pinned and unprivileged."""

import re
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ._props import at, elements, is_unknown, keys, subject, text
from ._workloads import (
    HOST_NETWORK_REASON,
    IAP_PROTECTED,
    PRIVILEGED_REASON,
    PUBLIC_EXPOSURE,
    containers,
    group_kind,
    pod_templates,
)

# Extended resources that make a container an accelerator workload (its node is sized by the accelerator).
ACCELERATOR_RESOURCES = ("google.com/tpu", "nvidia.com/gpu", "amd.com/gpu")
INTERNAL_LB_ANNOTATIONS = ("networking.gke.io/load-balancer-type", "cloud.google.com/load-balancer-type")
# Capabilities that amount to root on the node.
PRIVILEGED_CAPABILITIES = ("SYS_ADMIN", "ALL")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def opted_in(annotations: Any) -> bool:
    """Whether these annotations carry the public-exposure opt-in that stacks set from config."""
    return at(annotations, PUBLIC_EXPOSURE) == "true"


def internal_load_balancer(annotations: Any) -> bool:
    return any(text(at(annotations, key)) in ("Internal", "internal") for key in INTERNAL_LB_ANNOTATIONS)


_OPT_IN = f'or, where stack config asks for public exposure, annotate it {PUBLIC_EXPOSURE}: "true"'


def _service_exposure(args: ResourceValidationArgs) -> list[str]:
    annotations = at(args.props, "metadata", "annotations")
    if is_unknown(annotations) or opted_in(annotations):
        return []
    problems = []
    service_type = at(args.props, "spec", "type")
    if service_type == "LoadBalancer" and not internal_load_balancer(annotations):
        problems.append(
            "is a public LoadBalancer Service; use type ClusterIP, make it internal with the annotation "
            f"networking.gke.io/load-balancer-type: Internal, {_OPT_IN}"
        )
    if service_type == "NodePort":
        problems.append(f"opens a NodePort on every node; use type ClusterIP or an internal LoadBalancer, {_OPT_IN}")
    if [ip for ip in elements(at(args.props, "spec", "externalIPs")) if not is_unknown(ip)]:
        problems.append(f"receives traffic on spec.externalIPs; remove them, {_OPT_IN}")
    return problems


def _ingress_exposure(args: ResourceValidationArgs) -> list[str]:
    annotations = at(args.props, "metadata", "annotations")
    ingress_class = at(args.props, "spec", "ingressClassName")
    legacy_class = at(annotations, "kubernetes.io/ingress.class")
    if any(is_unknown(value) for value in (annotations, ingress_class, legacy_class)) or opted_in(annotations):
        return []
    gke_class = text(ingress_class) or text(legacy_class) or "gce"
    # Other classes are exposed through their controller's own Service, which this rule checks.
    if gke_class != "gce":
        return []
    return ["makes GKE create an external HTTP(S) load balancer; set spec.ingressClassName to gce-internal, " + _OPT_IN]


def _gateway_exposure(args: ResourceValidationArgs) -> list[str]:
    annotations = at(args.props, "metadata", "annotations")
    gateway_class = text(at(args.props, "spec", "gatewayClassName")) or ""
    external = gateway_class.startswith("gke-") and ("external" in gateway_class or "gxlb" in gateway_class)
    if not external or is_unknown(annotations) or opted_in(annotations):
        return []
    # Reachable from the internet, but every request passes Identity-Aware Proxy first: authenticated, not public.
    if at(annotations, IAP_PROTECTED) == "true":
        return []
    return [
        f"uses the external GatewayClass {gateway_class}; use an internal class such as gke-l7-rilb, put every "
        f'backend behind Identity-Aware Proxy and annotate it {IAP_PROTECTED}: "true" (TenantGateway does both), '
        + _OPT_IN
    ]


def validate_no_public_exposure(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    found = group_kind(args.resource_type)
    check = (
        {
            ("core", "Service"): _service_exposure,
            ("networking.k8s.io", "Ingress"): _ingress_exposure,
            ("gateway.networking.k8s.io", "Gateway"): _gateway_exposure,
        }.get(found)
        if found
        else None
    )
    for problem in check(args) if check else []:
        report_violation(f"{subject(args)} {problem}.", None)


def validate_resource_requests(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for container in containers(args.resource_type, args.props, ("initContainers", "containers")):
        resources = at(container.value, "resources")
        # Kubernetes takes a resource's request from its limit when only the limit is set.
        requested = keys(at(resources, "requests"))
        limited = keys(at(resources, "limits"))
        if is_unknown(resources) or not isinstance(requested, set) or not isinstance(limited, set):
            continue
        claimed = requested | limited
        if any(accelerator in claimed for accelerator in ACCELERATOR_RESOURCES):
            continue
        missing = [resource for resource in ("cpu", "memory") if resource not in claimed]
        if missing:
            report_violation(
                f"{subject(args)} runs container {container.label} ({container.path}) without a "
                f"{' or '.join(missing)} request; set resources.requests.cpu and resources.requests.memory, or "
                "request the accelerator it runs on (google.com/tpu or nvidia.com/gpu), so the scheduler can place "
                "and protect it.",
                None,
            )


# Third-party manifests the stack applies verbatim at a pinned version (kubernetes:yaml/v2:ConfigFile), by namespace,
# with why their own probes are accepted as they are. Only the probe rule is waived: the others still apply.
PROBE_EXEMPT_NAMESPACES = {
    "custom-metrics": "the Custom Metrics Stackdriver Adapter, applied from upstream at a pinned commit "
    "(gke_tpu_serving.catalog.versions); it "
    "ships no probes, and a failing adapter shows as HPA errors, not silent harm",
}


def validate_probes(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    namespace = at(args.props, "metadata", "namespace")
    if isinstance(namespace, str) and namespace in PROBE_EXEMPT_NAMESPACES:
        return
    for container in containers(args.resource_type, args.props, ("initContainers", "containers")):
        if not container.long_running:
            continue
        if container.template.ray and container.field == "containers" and container.index == 0:
            # KubeRay injects readiness and liveness probes into the Ray container itself.
            continue
        liveness, readiness, startup = (
            at(container.value, probe) for probe in ("livenessProbe", "readinessProbe", "startupProbe")
        )
        if any(is_unknown(probe) for probe in (liveness, readiness, startup)):
            continue
        missing = []
        if liveness is None:
            missing.append("a liveness probe")
        if readiness is None and startup is None:
            missing.append("a readiness probe")
        if missing:
            report_violation(
                f"{subject(args)} runs long-running container {container.label} ({container.path}) without "
                f"{' or '.join(missing)}; add a livenessProbe and a readinessProbe (a startupProbe may stand in for "
                "the readiness probe while a slow server compiles and loads).",
                None,
            )


def unpinned_reason(image: str) -> str | None:
    """Why an image reference is not pinned, or None if it is (a digest, or a tag other than latest)."""
    if _DIGEST.search(image):
        return None
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "has a malformed digest"
    if ":" not in last:
        return "has no tag, which means latest"
    if last.rsplit(":", 1)[1] == "latest":
        return "uses the moving tag latest"
    return None


def validate_pinned_images(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    pin = (
        "pin it to a version tag (REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST) so every rollout runs the "
        "same code"
    )
    for container in containers(args.resource_type, args.props):
        image = at(container.value, "image")
        if is_unknown(image):
            continue
        if not text(image):
            report_violation(
                f"{subject(args)} runs container {container.label} ({container.path}) without an image; set its "
                f"image and {pin}.",
                None,
            )
            continue
        reason = unpinned_reason(image)
        if reason:
            report_violation(
                f"{subject(args)} runs container {container.label} ({container.path}) from image {image!r}, which "
                f"{reason}; {pin}.",
                None,
            )


def validate_no_privileged(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for container in containers(args.resource_type, args.props):
        if container.template.has_reason(PRIVILEGED_REASON):
            continue
        context = at(container.value, "securityContext")
        problems = []
        if at(context, "privileged") is True:
            problems.append("privileged (securityContext.privileged: true)")
        if at(context, "allowPrivilegeEscalation") is True:
            problems.append("with privilege escalation allowed (securityContext.allowPrivilegeEscalation: true)")
        for capability in elements(at(context, "capabilities", "add")):
            if text(capability) and capability.upper().removeprefix("CAP_") in PRIVILEGED_CAPABILITIES:
                problems.append(f"with the capability {capability} (securityContext.capabilities.add)")
        for problem in problems:
            report_violation(
                f"{subject(args)} runs container {container.label} ({container.path}) {problem}; remove it (GKE "
                "exposes TPUs and GPUs as resources, without privileges), or, where it is truly needed, annotate "
                f"the pod template ({container.template.annotations_path}) with {PRIVILEGED_REASON}: <why>.",
                None,
            )


def validate_no_host_namespaces(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for template in pod_templates(args.resource_type, args.props):
        spec = template.spec
        if at(spec, "hostNetwork") is True and not template.has_reason(HOST_NETWORK_REASON):
            report_violation(
                f"{subject(args)} runs pods on the host network ({template.spec_path('hostNetwork')}), where they "
                "bypass the GKE metadata server and act as the node's service account; remove hostNetwork, or "
                f"annotate the pod template ({template.annotations_path}) with {HOST_NETWORK_REASON}: <why>.",
                None,
            )
        for field in ("hostPID", "hostIPC"):
            if at(spec, field) is True:
                report_violation(
                    f"{subject(args)} shares the node's {field.removeprefix('host')} namespace with its pods "
                    f"({template.spec_path(field)}); remove {field}.",
                    None,
                )


POLICIES = [
    ResourceValidationPolicy(
        "kubernetes-no-public-exposure",
        "No public LoadBalancer Service, NodePort, externalIPs, external GKE Ingress or Gateway unless annotated "
        'gke-tpu-serving/public-exposure: "true" (set only when stack config asks for public exposure).',
        validate=validate_no_public_exposure,
    ),
    ResourceValidationPolicy(
        "kubernetes-resource-requests",
        "Every container of every workload requests cpu and memory, or an accelerator.",
        validate=validate_resource_requests,
    ),
    ResourceValidationPolicy(
        "kubernetes-probes",
        "Long-running containers (not Jobs, CronJobs, JobSets or RayJobs) have a liveness probe and a readiness "
        "or startup probe.",
        validate=validate_probes,
    ),
    ResourceValidationPolicy(
        "kubernetes-pinned-images",
        "Every image is pinned: a digest, or a tag other than latest (no tag means latest).",
        validate=validate_pinned_images,
    ),
    ResourceValidationPolicy(
        "kubernetes-no-privileged",
        "No privileged container, privilege escalation or SYS_ADMIN capability unless the pod template carries "
        "gke-tpu-serving/privileged-reason.",
        validate=validate_no_privileged,
    ),
    ResourceValidationPolicy(
        "kubernetes-no-host-namespaces",
        "No hostPID or hostIPC, and no hostNetwork unless the pod template carries "
        "gke-tpu-serving/host-network-reason.",
        validate=validate_no_host_namespaces,
    ),
]
