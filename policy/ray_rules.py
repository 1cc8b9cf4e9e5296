"""KubeRay: the Ray head (dashboard and job submission API) is not reachable without token authentication.

The unauthenticated Ray dashboard runs any job it is sent (CVE-2023-48022). Field names follow the KubeRay v1.7
CRDs (ray.io/v1): `authOptions.mode` (disabled or token), `headGroupSpec.serviceType`,
`headGroupSpec.headService`, `headGroupSpec.enableIngress`, `headGroupSpec.rayStartParams`, and a RayService's
`serveService`.
"""

from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from ._props import at, elements, is_unknown, subject
from ._workloads import PUBLIC_EXPOSURE, group_kind
from .kubernetes_rules import internal_load_balancer, opted_in

# Where each kind keeps its RayCluster spec.
_CLUSTER_SPEC: dict[str, tuple[str, ...]] = {
    "RayService": ("spec", "rayClusterConfig"),
    "RayCluster": ("spec",),
    "RayJob": ("spec", "rayClusterSpec"),
}
EXPOSED_SERVICE_TYPES = ("LoadBalancer", "NodePort")


def _head_exposures(head: Any, prefix: str) -> list[tuple[str, str]]:
    """(where, how) for each way the head is reachable from outside the cluster."""
    exposures = []
    for field in (("serviceType",), ("headService", "spec", "type")):
        service_type = at(head, *field)
        if service_type in EXPOSED_SERVICE_TYPES:
            exposures.append((f"{prefix}.headGroupSpec.{'.'.join(field)}: {service_type}", service_type))
    if at(head, "enableIngress") is True:
        exposures.append((f"{prefix}.headGroupSpec.enableIngress: true", "Ingress"))
    return exposures


def validate_ray_dashboard_auth(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    found = group_kind(args.resource_type)
    if found is None or found[0] != "ray.io" or found[1] not in _CLUSTER_SPEC:
        return
    path = _CLUSTER_SPEC[found[1]]
    prefix = ".".join(path)
    cluster = at(args.props, *path)
    mode = at(cluster, "authOptions", "mode")
    if cluster is None or is_unknown(cluster) or is_unknown(mode):
        return
    # Ray's way for operators without authOptions: RAY_AUTH_MODE=token on the Ray containers (head first).
    head_env = at(cluster, "headGroupSpec", "template", "spec", "containers", 0, "env")
    token_auth = mode == "token" or any(
        at(variable, "name") == "RAY_AUTH_MODE" and at(variable, "value") == "token" for variable in elements(head_env)
    )
    auth = f"token authentication ({prefix}.authOptions.mode: token)"
    head = at(cluster, "headGroupSpec")
    resource_annotations = at(args.props, "metadata", "annotations")
    head_annotations = [at(cluster, "headServiceAnnotations"), at(head, "headService", "metadata", "annotations")]
    opted = any(opted_in(annotations) for annotations in [resource_annotations, *head_annotations])
    internal = any(internal_load_balancer(annotations) for annotations in head_annotations)

    for where, how in _head_exposures(head, prefix):
        missing = [] if token_auth else [auth]
        if not opted and not (how == "LoadBalancer" and internal):
            missing.append(f'the opt-in annotation {PUBLIC_EXPOSURE}: "true"')
        if missing:
            report_violation(
                f"{subject(args)} exposes the Ray head, dashboard and job API included, outside the cluster "
                f"({where}) without {' and '.join(missing)}; keep the head Service ClusterIP and reach the dashboard "
                f"through kubectl port-forward, or add {' and '.join(missing)}.",
                None,
            )

    dashboard_host = at(head, "rayStartParams", "dashboard-host")
    if dashboard_host == "0.0.0.0" and not token_auth:
        report_violation(
            f"{subject(args)} binds the Ray dashboard to 0.0.0.0 ({prefix}.headGroupSpec.rayStartParams."
            f"dashboard-host), where the head Service reaches it, without token authentication; set "
            f"{prefix}.authOptions.mode: token, or bind the dashboard to 127.0.0.1.",
            None,
        )

    if found[1] == "RayService":
        serve_type = at(args.props, "spec", "serveService", "spec", "type")
        serve_annotations = at(args.props, "spec", "serveService", "metadata", "annotations")
        public_serve = serve_type == "NodePort" or (
            serve_type == "LoadBalancer" and not internal_load_balancer(serve_annotations)
        )
        if public_serve and not (opted_in(serve_annotations) or opted_in(resource_annotations)):
            report_violation(
                f"{subject(args)} exposes its Serve endpoint publicly (spec.serveService.spec.type: {serve_type}); "
                "use ClusterIP, an internal LoadBalancer (networking.gke.io/load-balancer-type: Internal), or, "
                f'where stack config asks for public exposure, annotate it {PUBLIC_EXPOSURE}: "true".',
                None,
            )


POLICIES = [
    ResourceValidationPolicy(
        "ray-dashboard-auth",
        "A RayService, RayCluster or RayJob exposes its head (LoadBalancer, NodePort, Ingress) only with KubeRay "
        "token authentication and the public-exposure opt-in, binds the dashboard to 0.0.0.0 only with token "
        "authentication, and exposes a Serve endpoint publicly only with the opt-in.",
        validate=validate_ray_dashboard_auth,
    ),
]
