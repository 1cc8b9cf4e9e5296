"""Pod pieces the workload components share: restricted security contexts, how a Service is exposed, secrets
passed by reference, and disruption budgets."""

import re
from collections.abc import Mapping
from enum import Enum
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from gke_tpu_serving.k8s import pod_security as _pod_security

# Marks a Service whose public exposure the stack config asked for; policies refuse public LBs without it.
PUBLIC_EXPOSURE_ANNOTATION = "gke-tpu-serving/public-exposure"
INTERNAL_LOAD_BALANCER_ANNOTATION = "networking.gke.io/load-balancer-type"


class Exposure(Enum):
    """How the server's Service is reachable."""

    CLUSTER_IP = "cluster-ip"
    """Inside the cluster only (default)."""
    INTERNAL_LOAD_BALANCER = "internal-load-balancer"
    """From the VPC, through an internal passthrough load balancer."""
    PUBLIC_LOAD_BALANCER = "public-load-balancer"
    """From the internet. Only when asked for explicitly, and only for a server that authenticates requests."""


IAP_WAY = (
    "to reach it from outside the cluster, route it through a Gateway with Identity-Aware Proxy (a TenantGateway "
    "route), or use kubectl port-forward"
)
"""How to reach a server that does not authenticate requests from outside the cluster: what a refusal suggests."""


def unauthenticated_exposure(exposure: Exposure, server: str, way: str = IAP_WAY) -> str:
    """Why a load balancer in front of `server`, which does not authenticate requests, is refused (an ArgError's
    reason): a passthrough load balancer cannot authenticate, so whoever reaches it reaches the server. `way`: how to
    reach it instead, in the caller's terms (the stack names its config keys)."""
    return (
        f"{exposure.value}, but {server} does not authenticate requests, and a load balancer would hand them to it "
        f"from anywhere it is reachable; allowed: cluster-ip ({way})"
    )


def service_exposure(exposure: Exposure) -> tuple[str, dict[str, str]]:
    """The Service type and annotations of an exposure (no annotations for cluster-ip)."""
    if exposure is Exposure.INTERNAL_LOAD_BALANCER:
        return "LoadBalancer", {INTERNAL_LOAD_BALANCER_ANNOTATION: "Internal"}
    if exposure is Exposure.PUBLIC_LOAD_BALANCER:
        return "LoadBalancer", {PUBLIC_EXPOSURE_ANNOTATION: "true"}
    return "ClusterIP", {}


def _snake_case_keys(context: Mapping[str, Any]) -> dict[str, Any]:
    # The nested objects of a security context have one-word keys, the same in both spellings.
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): value for key, value in context.items()}


def restricted_pod_security_context(run_as: int | None = None) -> k8s.core.v1.PodSecurityContextArgs:
    """_pod_security.restricted_pod_security_context() for core objects. The workload images run as an
    unprivileged user (workloads/llama: uid 1000, its Dockerfile's USER)."""
    return k8s.core.v1.PodSecurityContextArgs(**_snake_case_keys(_pod_security.restricted_pod_security_context(run_as)))


def restricted_container_security_context() -> k8s.core.v1.SecurityContextArgs:
    """_pod_security.restricted_container_security_context() for core objects."""
    return k8s.core.v1.SecurityContextArgs(**_snake_case_keys(_pod_security.restricted_container_security_context()))


def secret_env_vars(
    resource_name: str, namespace: str, values: Mapping[str, pulumi.Input[str]], opts: pulumi.ResourceOptions
) -> list[k8s.core.v1.EnvVarArgs]:
    """A Kubernetes Secret named `resource_name` holding `values` (kept Pulumi secrets), and the environment
    variables that reach them by reference, so no value is written into the pod spec."""
    if not values:
        return []
    secret = k8s.core.v1.Secret(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=resource_name, namespace=namespace),
        type="Opaque",
        string_data={key: pulumi.Output.secret(value) for key, value in values.items()},
        opts=opts,
    )
    return [
        k8s.core.v1.EnvVarArgs(
            name=key,
            value_from=k8s.core.v1.EnvVarSourceArgs(
                secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret.metadata.name, key=key)
            ),
        )
        for key in values
    ]


UNHEALTHY_POD_EVICTION_POLICY = "AlwaysAllow"
"""Pods that are running but not ready (still loading, or broken) may always be evicted: a budget then protects only
a server that serves, and a broken one never blocks a node drain (kubernetes.io/docs/tasks/run-application/
configure-pdb/#unhealthy-pod-eviction-policy, read 2026-12-07)."""


def disruption_budget(
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
    *,
    max_unavailable: int | None = None,
    min_available: int | None = None,
) -> k8s.policy.v1.PodDisruptionBudget:
    """A PodDisruptionBudget named `name` over the pods labelled `labels`; give exactly one of the two bounds.

    max_unavailable suits pods of a Deployment or StatefulSet (which have the scale subresource). Pods of any other
    owner (Jobs, a JobSet's, KubeRay's) take only an integer min_available: Kubernetes cannot count their expected
    pods otherwise (kubernetes.io/docs/tasks/run-application/configure-pdb/#arbitrary-controllers-and-selectors,
    read 2026-12-07)."""
    if (max_unavailable is None) == (min_available is None):
        raise ValueError("disruption_budget takes exactly one of max_unavailable and min_available")
    return k8s.policy.v1.PodDisruptionBudget(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=dict(labels)),
        spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
            max_unavailable=max_unavailable,
            min_available=min_available,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(labels)),
            unhealthy_pod_eviction_policy=UNHEALTHY_POD_EVICTION_POLICY,
        ),
        opts=opts,
    )
