"""Exposure that authenticates: whatever a load balancer or an external Gateway reaches must check who is asking.

`kubernetes-no-public-exposure` asks only whether stack config opted in to an exposure; this stack policy asks whether
the exposed server authenticates, so a hand-written program that opts in (or skips the stack's config checks) is
still caught. Per cluster (Kubernetes provider) and namespace:

- a LoadBalancer or NodePort Service must select only pods that authenticate every request: a container that takes
  vLLM's key from a Secret (VLLM_API_KEY by secretKeyRef) or runs with --api-key. Pods the plan does not create (or
  that no known rule judges) are not shown to authenticate, so the Service is reported. A passthrough load balancer
  cannot authenticate on the server's behalf; Identity-Aware Proxy works only behind a Gateway.
- an external GKE Gateway must have, for every Service an HTTPRoute attached to it sends traffic to, a
  GCPBackendPolicy targeting that Service with Identity-Aware Proxy enabled (spec.default.iap.enabled: true).
- a RayService must not put its Serve endpoint behind a load balancer: Ray Serve's HTTP proxy does not authenticate
  requests (Ray's token authentication covers the dashboard, the GCS and other control-plane services, each HTTP
  server adding the token middleware itself: docs.ray.io/en/master/ray-core/internals/token-authentication.html,
  read 2026-12-07; nothing under ray/serve of Ray 2.60.0 uses it).

Values unknown during preview match anything: a selector or a label that is not known yet is never reported.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pulumi_policy import ReportViolation, StackValidationArgs, StackValidationPolicy

from ._props import at, elements, is_unknown, keys, subject, text
from ._workloads import PodTemplate, group_kind, pod_templates

EXPOSED_SERVICE_TYPES = ("LoadBalancer", "NodePort")
API_KEY_ENV = "VLLM_API_KEY"
API_KEY_FLAG = "--api-key"
_IAP_WAY = (
    "keep it ClusterIP and reach it through a Gateway with Identity-Aware Proxy (a GCPBackendPolicy with "
    "spec.default.iap.enabled: true on the Service; TenantGateway renders both)"
)


@dataclass(frozen=True)
class _Pods:
    owner: Any
    """The PolicyResource whose template these pods come from."""
    template: PodTemplate


def _namespace(resource: Any) -> Any:
    namespace = at(resource.props, "metadata", "namespace")
    return "default" if namespace is None else namespace


def _cluster(resource: Any) -> str | None:
    return resource.provider.urn if resource.provider is not None else None


def _same_place(a: Any, b: Any) -> bool:
    return _cluster(a) == _cluster(b) and _same_value(_namespace(a), _namespace(b))


def _selects(selector: Any, labels: Any) -> bool:
    if is_unknown(labels):
        return True
    found = keys(selector)
    if is_unknown(found) or not found:
        return False
    return all(_same_value(at(labels, key), at(selector, key)) for key in found)  # type: ignore[union-attr]


def _authenticates(template: PodTemplate) -> bool:
    """Whether a container of the pods checks every request: vLLM with its API key from a Secret or a flag."""
    for container in elements(at(template.spec, "containers")):
        for variable in elements(at(container, "env")):
            reference = at(variable, "valueFrom", "secretKeyRef", "name")
            if at(variable, "name") == API_KEY_ENV and (is_unknown(reference) or text(reference)):
                return True
        for argument in [*elements(at(container, "command")), *elements(at(container, "args"))]:
            if is_unknown(argument) or argument == API_KEY_FLAG or str(argument).startswith(API_KEY_FLAG + "="):
                return True
    return False


def _pods(resources: list[Any]) -> Iterator[_Pods]:
    for resource in resources:
        for template in pod_templates(resource.resource_type, resource.props):
            yield _Pods(resource, template)


def _service_problems(service: Any, pods: list[_Pods]) -> list[str]:
    service_type = at(service.props, "spec", "type")
    selector = at(service.props, "spec", "selector")
    if service_type not in EXPOSED_SERVICE_TYPES or is_unknown(selector):
        return []
    selected = [
        p
        for p in pods
        if _same_place(service, p.owner) and _selects(selector, at(p.template.value, "metadata", "labels"))
    ]
    where = f"sends {service_type} traffic (spec.type: {service_type})"
    if not selected:
        shown = ", ".join(f"{key}={at(selector, key)}" for key in sorted(keys(selector) or []))  # type: ignore[arg-type]
        return [
            f"{where} to pods this plan does not create (selector {shown or 'empty'}), which it cannot show to "
            f"authenticate requests; {_IAP_WAY}"
        ]
    return [
        f"{where} to the pods of {subject(p.owner)} ({p.template.path or 'the pod'}), which do not authenticate "
        f"requests (no container takes {API_KEY_ENV} from a Secret or runs with {API_KEY_FLAG}); {_IAP_WAY}, or give "
        "the server a key"
        for p in selected
        if not _authenticates(p.template)
    ]


def _external_gateway(gateway: Any) -> bool:
    gateway_class = text(at(gateway.props, "spec", "gatewayClassName")) or ""
    return gateway_class.startswith("gke-") and ("external" in gateway_class or "gxlb" in gateway_class)


def _attached(route: Any, gateway: Any) -> bool:
    for parent in elements(at(route.props, "spec", "parentRefs")):
        namespace = at(parent, "namespace")
        namespace = _namespace(route) if namespace is None else namespace
        same_name = _same_value(at(parent, "name"), at(gateway.props, "metadata", "name"))
        if _cluster(route) == _cluster(gateway) and same_name and _same_value(namespace, _namespace(gateway)):
            return True
    return False


def _iap_protected(service: Any, namespace: Any, route: Any, policies: list[Any]) -> bool:
    """Whether a GCPBackendPolicy of the route's cluster turns on IAP for the Service."""
    for policy in policies:
        if _cluster(policy) != _cluster(route) or not _same_value(_namespace(policy), namespace):
            continue
        target = at(policy.props, "spec", "targetRef")
        targets = is_unknown(target) or (at(target, "kind") == "Service" and _same_value(at(target, "name"), service))
        enabled = at(policy.props, "spec", "default", "iap", "enabled")
        if targets and (enabled is True or is_unknown(enabled)):
            return True
    return False


def _same_value(a: Any, b: Any) -> bool:
    return is_unknown(a) or is_unknown(b) or a == b


def _gateway_problems(gateway: Any, routes: list[Any], policies: list[Any]) -> list[str]:
    if not _external_gateway(gateway):
        return []
    problems = []
    for route in (r for r in routes if _attached(r, gateway)):
        for rule in elements(at(route.props, "spec", "rules")):
            for backend in elements(at(rule, "backendRefs")):
                name, kind = at(backend, "name"), at(backend, "kind")
                namespace = at(backend, "namespace")
                namespace = _namespace(route) if namespace is None else namespace
                if is_unknown(name) or kind not in (None, "Service"):
                    continue
                if not _iap_protected(name, namespace, route, policies):
                    problems.append(
                        f"routes internet traffic through {subject(route)} to Service {namespace}/{name}, which no "
                        "GCPBackendPolicy puts behind Identity-Aware Proxy; add one targeting the Service with "
                        "spec.default.iap.enabled: true (TenantGateway does), or use an internal GatewayClass"
                    )
    return problems


def _ray_service_problems(ray_service: Any) -> list[str]:
    serve_type = at(ray_service.props, "spec", "serveService", "spec", "type")
    if serve_type not in EXPOSED_SERVICE_TYPES:
        return []
    return [
        f"puts its Serve endpoint behind a {serve_type} Service (spec.serveService.spec.type), but Ray Serve's HTTP "
        f"proxy does not authenticate requests (Ray's token covers the dashboard and job API only); {_IAP_WAY}"
    ]


def validate_authenticated_exposure(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    by_kind: dict[tuple[str, str], list[Any]] = {}
    for resource in args.resources:
        found = group_kind(resource.resource_type)
        if found is not None:
            by_kind.setdefault(found, []).append(resource)
    pods = list(_pods(args.resources))
    routes = by_kind.get(("gateway.networking.k8s.io", "HTTPRoute"), [])
    policies = by_kind.get(("networking.gke.io", "GCPBackendPolicy"), [])
    checks = [
        *((s, _service_problems(s, pods)) for s in by_kind.get(("core", "Service"), [])),
        *(
            (g, _gateway_problems(g, routes, policies))
            for g in by_kind.get(("gateway.networking.k8s.io", "Gateway"), [])
        ),
        *((r, _ray_service_problems(r)) for r in by_kind.get(("ray.io", "RayService"), [])),
    ]
    for resource, problems in checks:
        for problem in problems:
            report_violation(f"{subject(resource)} {problem}.", resource.urn)


AUTHENTICATED_EXPOSURE = StackValidationPolicy(
    name="kubernetes-authenticated-exposure",
    description="A LoadBalancer or NodePort Service selects only pods that authenticate every request (vLLM with "
    "its API key from a Secret); every Service an external Gateway routes to is behind Identity-Aware Proxy; no "
    "RayService puts Serve (which does not authenticate) behind a load balancer.",
    validate=validate_authenticated_exposure,
)

POLICIES = [AUTHENTICATED_EXPOSURE]
