"""Every pinned third-party version the components deploy, in one table, so an upgrade is one reviewed diff."""

CUSTOM_METRICS_ADAPTER_COMMIT = "0857364d151373fb985599f4ddee6504166de939"
"""GoogleCloudPlatform/k8s-stackdriver at a fixed commit: its adapter manifest runs
custom-metrics-stackdriver-adapter v0.15.1-gke.0 with the new resource model."""

CUSTOM_METRICS_ADAPTER_MANIFEST = (
    "https://raw.githubusercontent.com/GoogleCloudPlatform/k8s-stackdriver/"
    f"{CUSTOM_METRICS_ADAPTER_COMMIT}/custom-metrics-stackdriver-adapter/deploy/production/"
    "adapter_new_resource_model.yaml"
)
"""Applied by the Kubernetes provider (provider-side: nothing is fetched while the program runs)."""

CUSTOM_METRICS_ADAPTER_NAMESPACE = "custom-metrics"
CUSTOM_METRICS_ADAPTER_SERVICE_ACCOUNT = "custom-metrics-stackdriver-adapter"

JOBSET_VERSION = "v0.12.0"
"""kubernetes-sigs/jobset release that JobSetController installs: its CRD (jobset.x-k8s.io/v1alpha2), controller and
webhooks from the release's manifests.yaml."""

JOBSET_MANIFEST_URL = "https://github.com/kubernetes-sigs/jobset/releases/download/{version}/manifests.yaml"
"""The release manifest of a JobSet version, applied by the Kubernetes provider (provider-side: nothing is fetched
while the program runs)."""

SAXML_VERSION = "v1.2.0"
"""google/saxml release of the upstream admin and model server images (Cloud TPU's published builds)."""

SAXML_ADMIN_SERVER_IMAGE = f"us-docker.pkg.dev/cloud-tpu-images/inference/sax-admin-server:{SAXML_VERSION}"
SAXML_MODEL_SERVER_IMAGE = f"us-docker.pkg.dev/cloud-tpu-images/inference/sax-model-server:{SAXML_VERSION}"

KUBERAY_CHART_REPOSITORY = "https://ray-project.github.io/kuberay-helm/"
KUBERAY_CHART = "kuberay-operator"
KUBERAY_VERSION = "1.7.0"
"""The KubeRay operator chart (and its quay.io/kuberay/operator image) for clusters without the GKE Ray add-on; the
RayService and RayCluster CRDs the tests validate against are this release's. Token authentication (authOptions)
needs KubeRay >= 1.5.1."""

RAY_VERSION = "2.60.0"
"""rayVersion of the Ray clusters: it must match the Ray inside the workload image (token authentication needs
Ray >= 2.52)."""

RAY_IMAGE = f"rayproject/ray:{RAY_VERSION}-py311"
"""The default image of a team's RayCluster: Ray's own CPU image at RAY_VERSION (its user is UID 1000). TPU and GPU
work needs a team image with JAX for TPU or the CUDA variant, at the same Ray version."""
