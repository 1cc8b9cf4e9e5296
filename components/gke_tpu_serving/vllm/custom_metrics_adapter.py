"""CustomMetricsAdapter: the Custom Metrics Stackdriver Adapter, so HPAs can scale on Managed Prometheus metrics."""

from typing import TypedDict

import pulumi
import pulumi_gcp as gcp

# The v2 module itself: reached through `pulumi_kubernetes.yaml`, the package's __init__ would also import the v1
# ConfigFile and with it `requests` (~70 ms of CPU per preview) for nothing.
from pulumi_kubernetes.yaml.v2 import ConfigFile

from gke_tpu_serving.catalog.versions import (
    CUSTOM_METRICS_ADAPTER_MANIFEST,
    CUSTOM_METRICS_ADAPTER_NAMESPACE,
    CUSTOM_METRICS_ADAPTER_SERVICE_ACCOUNT,
)
from gke_tpu_serving.identity.workload_identity import federated_principal

MONITORING_VIEWER_ROLE = "roles/monitoring.viewer"


class CustomMetricsAdapterArgs(TypedDict):
    """Arguments of CustomMetricsAdapter."""

    project: pulumi.Input[str]
    """GCP project id of the cluster; the adapter reads its metrics from Cloud Monitoring there."""


class CustomMetricsAdapter(pulumi.ComponentResource):
    """The Custom Metrics Stackdriver Adapter at a pinned version (one per cluster), with roles/monitoring.viewer for
    its Kubernetes ServiceAccount through Workload Identity Federation. It serves the custom.metrics.k8s.io API
    that HPAs on Pods metrics such as prometheus.googleapis.com|vllm:num_requests_waiting|gauge read. Pass the
    cluster's Kubernetes provider in `opts`."""

    member: pulumi.Output[str]
    """The IAM principal of the adapter's ServiceAccount."""

    def __init__(self, name: str, args: CustomMetricsAdapterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gke-tpu-serving:index:CustomMetricsAdapter", name, None, opts)
        project = args["project"]
        number = gcp.organizations.get_project_output(project_id=project, opts=pulumi.InvokeOptions(parent=self))
        self.member = pulumi.Output.all(number.number, project).apply(
            lambda values: federated_principal(
                values[0], values[1], CUSTOM_METRICS_ADAPTER_NAMESPACE, CUSTOM_METRICS_ADAPTER_SERVICE_ACCOUNT
            )
        )
        # Reading metrics is project-scoped in Cloud Monitoring: there is no narrower resource to grant it on. The
        # grant goes to the adapter's own principal only.
        grant = gcp.projects.IAMMember(
            f"{name}-monitoring-viewer",
            gcp.projects.IAMMemberArgs(project=project, role=MONITORING_VIEWER_ROLE, member=self.member),
            opts=pulumi.ResourceOptions(parent=self),
        )
        ConfigFile(
            f"{name}-manifest",
            file=CUSTOM_METRICS_ADAPTER_MANIFEST,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[grant]),
        )
        self.register_outputs({"member": self.member})
