"""KubeRayOperator: the KubeRay operator from its Helm chart, for clusters without the GKE Ray add-on."""

from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from gke_tpu_serving.catalog.versions import KUBERAY_CHART, KUBERAY_CHART_REPOSITORY, KUBERAY_VERSION
from gke_tpu_serving.errors import component_errors
from gke_tpu_serving.names import check_dns_label

DEFAULT_NAMESPACE = "kuberay-system"


class KubeRayOperatorArgs(TypedDict):
    """Arguments of KubeRayOperator."""

    namespace: NotRequired[str]
    """Namespace of the operator, created by the component. Default: kuberay-system."""


class KubeRayOperator(pulumi.ComponentResource):
    """The KubeRay operator and its CRDs (RayCluster, RayJob, RayService) at a pinned chart version, watching every
    namespace; the chart is rendered and applied by the Kubernetes provider (nothing is fetched while the program
    runs). Use it on clusters without the GKE Ray add-on, never beside it (two operators would fight over the same
    objects). It does not install the KubeRay TPU webhook that the add-on brings, which multi-host TPU worker groups
    need. Pass the cluster's Kubernetes provider in `opts`; make RayServices depend on this component."""

    namespace: pulumi.Output[str]
    """The operator's namespace."""
    version: pulumi.Output[str]
    """The KubeRay version installed."""

    def __init__(self, name: str, args: KubeRayOperatorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gke-tpu-serving:index:KubeRayOperator", name, None, opts)
        namespace_name = args.get("namespace", DEFAULT_NAMESPACE)
        with component_errors("KubeRayOperator", name):
            check_dns_label(namespace_name, at=("namespace",))
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=namespace_name,
                # The chart's operator pod already runs non-root without privileges or capabilities.
                labels={"pod-security.kubernetes.io/enforce": "restricted"},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        k8s.helm.v4.Chart(
            f"{name}-chart",
            chart=KUBERAY_CHART,
            version=KUBERAY_VERSION,
            repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=KUBERAY_CHART_REPOSITORY),
            # An output of the Namespace: the chart waits for it.
            namespace=namespace.metadata.name,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.namespace = namespace.metadata.name
        self.version = pulumi.Output.from_input(KUBERAY_VERSION)
        self.register_outputs({"namespace": self.namespace, "version": self.version})
