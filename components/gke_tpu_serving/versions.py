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
