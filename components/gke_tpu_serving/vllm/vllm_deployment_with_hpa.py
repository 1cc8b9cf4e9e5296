"""VllmDeploymentWithHpa: vLLM's OpenAI-compatible server on a single-host TPU slice, weights from GCS FUSE,
autoscaled by an HPA on vLLM's queue length. The args, their checks and the pod template are in deployment_spec.py."""

import pulumi
import pulumi_kubernetes as k8s

from gke_tpu_serving.errors import component_errors
from gke_tpu_serving.k8s.pods import Exposure, disruption_budget, secret_env_vars, service_exposure
from gke_tpu_serving.names import check_dns_label
from gke_tpu_serving.options import inherited_dependencies
from gke_tpu_serving.vllm.deployment_spec import (
    PORT,
    QUEUE_METRIC,
    VllmDeploymentWithHpaArgs,
    WeightsSource,
    check_vllm_args,
)
from gke_tpu_serving.vllm.kv_budget import kv_warnings
from gke_tpu_serving.vllm.pod_template import pod_template

__all__ = ["Exposure", "VllmDeploymentWithHpa", "VllmDeploymentWithHpaArgs", "WeightsSource", "check_vllm_args"]


class VllmDeploymentWithHpa(pulumi.ComponentResource):
    """vLLM's OpenAI-compatible server on one TPU host per replica: weights through a read-only GCS FUSE mount with
    a RAM file cache and parallel downloads, the XLA compile cache on local disk synced with a bucket, probes sized
    for weight loading and compilation, a PodDisruptionBudget, a private Service on port 8000, a PodMonitoring for
    Managed Prometheus and an HPA on vllm:num_requests_waiting. The HPA needs CustomMetricsAdapter on the cluster.
    Pass the cluster's Kubernetes provider in `opts`."""

    service_name: pulumi.Output[str]
    """Name of the Service (port 8000) in the namespace."""
    url: pulumi.Output[str]
    """In-cluster URL of the OpenAI-compatible API."""

    def __init__(self, name: str, args: VllmDeploymentWithHpaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gke-tpu-serving:index:VllmDeploymentWithHpa", name, None, opts)
        with component_errors("VllmDeploymentWithHpa", name):
            check_dns_label(name)
            settings = check_vllm_args(args)
        # What vLLM would not refuse but a reviewer should see: a batch the KV cache cannot hold at full length.
        for warning in kv_warnings(args["model"], settings.kv_cache, settings.max_model_len, settings.max_num_seqs):
            # Not attached to the resource: that would wait on its URN in a task nobody awaits; the name says whose.
            pulumi.log.warn(f"VllmDeploymentWithHpa '{name}': {warning}")
        namespace = args["namespace"]
        labels = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": name}
        child = pulumi.ResourceOptions(parent=self, depends_on=inherited_dependencies(opts))

        secrets: dict[str, pulumi.Input[str]] = {}
        if "hf_token" in args:
            secrets["HF_TOKEN"] = args["hf_token"]
        if "api_key" in args:
            secrets["VLLM_API_KEY"] = args["api_key"]
        secret_env = secret_env_vars(f"{name}-secrets", namespace, secrets, child)
        deployment = k8s.apps.v1.Deployment(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                # The HPA owns the replica count from here on.
                replicas=settings.min_replicas,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=labels),
                # A TPU host is all-or-nothing: a surge pod would wait for a second host, so replace in place.
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=0, max_unavailable=1),
                ),
                template=pod_template(name, labels, args, settings, secret_env),
            ),
            # pulumi-kubernetes waits for the rollout, 10 minutes by default; loading and compiling may take the
            # startup probe's whole budget.
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions(
                    custom_timeouts=pulumi.CustomTimeouts(
                        create=f"{settings.await_create_minutes}m", update=f"{settings.await_update_minutes}m"
                    )
                ),
            ),
        )
        service_type, service_annotations = service_exposure(settings.exposure)
        service = k8s.core.v1.Service(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=name, namespace=namespace, labels=labels, annotations=service_annotations or None
            ),
            spec=k8s.core.v1.ServiceSpecArgs(
                type=service_type,
                selector=labels,
                ports=[k8s.core.v1.ServicePortArgs(name="http", port=PORT, target_port="http", protocol="TCP")],
            ),
            opts=child,
        )
        # At most one replica down for voluntary disruptions; minAvailable would block node upgrades of a single-replica
        # server forever.
        disruption_budget(name, namespace, labels, child, max_unavailable=1)
        k8s.apiextensions.CustomResource(
            f"{name}-metrics",
            api_version="monitoring.googleapis.com/v1",
            kind="PodMonitoring",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels),
            spec={
                "selector": {"matchLabels": labels},
                "endpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}],
            },
            opts=child,
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=name
                ),
                min_replicas=settings.min_replicas,
                max_replicas=settings.max_replicas,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Pods",
                        pods=k8s.autoscaling.v2.PodsMetricSourceArgs(
                            metric=k8s.autoscaling.v2.MetricIdentifierArgs(name=QUEUE_METRIC),
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="AverageValue", average_value=str(settings.target_queue_length)
                            ),
                        ),
                    )
                ],
                behavior=k8s.autoscaling.v2.HorizontalPodAutoscalerBehaviorArgs(
                    # Add a host as soon as the queue grows (a new replica takes minutes to load and compile)...
                    scale_up=k8s.autoscaling.v2.HPAScalingRulesArgs(
                        stabilization_window_seconds=0,
                        policies=[k8s.autoscaling.v2.HPAScalingPolicyArgs(type="Pods", value=1, period_seconds=60)],
                    ),
                    # ...and give one back only after the queue has stayed short for a while.
                    scale_down=k8s.autoscaling.v2.HPAScalingRulesArgs(
                        stabilization_window_seconds=settings.scale_down_seconds,
                        policies=[k8s.autoscaling.v2.HPAScalingPolicyArgs(type="Pods", value=1, period_seconds=120)],
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment, *inherited_dependencies(opts)]),
        )
        self.service_name = service.metadata.name
        self.url = pulumi.Output.concat("http://", service.metadata.name, ".", namespace, ".svc:", str(PORT), "/v1")
        self.register_outputs({"service_name": self.service_name, "url": self.url})
