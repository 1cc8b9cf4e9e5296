"""The cell's CPU servers, admin and HTTP: one restricted, probed Deployment of one replica each."""

import pulumi
import pulumi_kubernetes as k8s

from gke_tpu_serving.k8s.pods import restricted_container_security_context, restricted_pod_security_context
from gke_tpu_serving.saxml.jobset_spec import SAXML_UID


def cpu_server(
    name: str,
    namespace: str,
    labels: dict[str, str],
    service_account_name: pulumi.Input[str],
    *,
    image: pulumi.Input[str],
    port: int,
    env: dict[str, str],
    health_path: str | None,
    opts: pulumi.ResourceOptions,
    secret_env: list[k8s.core.v1.EnvVarArgs] | None = None,
) -> k8s.apps.v1.Deployment:
    """A CPU server of the cell: one replica on the system pool, probed on `health_path` over HTTP, or on its
    port where it serves no HTTP."""
    http_get = k8s.core.v1.HTTPGetActionArgs(path=health_path, port="serve") if health_path else None
    tcp_socket = None if health_path else k8s.core.v1.TCPSocketActionArgs(port="serve")
    return k8s.apps.v1.Deployment(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels),
        spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=1,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
            template=k8s.core.v1.PodTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                spec=k8s.core.v1.PodSpecArgs(
                    service_account_name=service_account_name,
                    containers=[
                        k8s.core.v1.ContainerArgs(
                            name="server",
                            image=image,
                            ports=[k8s.core.v1.ContainerPortArgs(name="serve", container_port=port)],
                            env=[k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in env.items()] + (secret_env or []),
                            resources=k8s.core.v1.ResourceRequirementsArgs(
                                requests={"cpu": "500m", "memory": "1Gi"}, limits={"memory": "2Gi"}
                            ),
                            readiness_probe=k8s.core.v1.ProbeArgs(
                                http_get=http_get, tcp_socket=tcp_socket, period_seconds=10, failure_threshold=3
                            ),
                            liveness_probe=k8s.core.v1.ProbeArgs(
                                http_get=http_get,
                                tcp_socket=tcp_socket,
                                initial_delay_seconds=30,
                                period_seconds=20,
                                timeout_seconds=5,
                                failure_threshold=3,
                            ),
                            security_context=restricted_container_security_context(),
                        )
                    ],
                    # The upstream images name no user; an explicit one lets runAsNonRoot admit them.
                    security_context=restricted_pod_security_context(run_as=SAXML_UID),
                    # No Kubernetes API calls; Workload Identity needs no token in the pod.
                    automount_service_account_token=False,
                ),
            ),
        ),
        opts=opts,
    )
