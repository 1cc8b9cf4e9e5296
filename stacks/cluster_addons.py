"""Cluster-wide components that several scenario instances on one cluster share: created once, on first use.

One JobSet controller, one metrics adapter and one KubeRay operator per cluster: two Saxml cells, two vLLM models or
two Ray services on a cluster must not install them twice (their logical and Kubernetes names would collide).
"""

from dataclasses import dataclass, field

import pulumi

from gke_tpu_serving import CustomMetricsAdapter, GkeTpuCluster, JobSetController, KubeRayOperator


@dataclass
class ClusterAddons:
    """The shared add-ons of one cluster of the stack."""

    cluster: GkeTpuCluster
    project: str
    _jobset: JobSetController | None = field(default=None, init=False)
    _metrics_adapter: CustomMetricsAdapter | None = field(default=None, init=False)
    _kuberay: KubeRayOperator | None = field(default=None, init=False)

    @property
    def _opts(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(provider=self.cluster.kubernetes_provider)

    def jobset_controller(self) -> JobSetController:
        """The cluster's JobSet controller."""
        if self._jobset is None:
            self._jobset = JobSetController(f"{self.cluster.plan.name}-jobset", {}, opts=self._opts)
        return self._jobset

    def metrics_adapter(self) -> CustomMetricsAdapter:
        """The cluster's Custom Metrics Stackdriver Adapter (HPAs on Managed Prometheus metrics read it)."""
        if self._metrics_adapter is None:
            self._metrics_adapter = CustomMetricsAdapter(
                f"{self.cluster.plan.name}-custom-metrics", {"project": self.project}, opts=self._opts
            )
        return self._metrics_adapter

    def kuberay_operator(self) -> KubeRayOperator:
        """The KubeRay operator's Helm chart, for a cluster without GKE's Ray add-on."""
        if self._kuberay is None:
            self._kuberay = KubeRayOperator(f"{self.cluster.plan.name}-kuberay", {}, opts=self._opts)
        return self._kuberay
