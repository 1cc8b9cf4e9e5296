"""Every external reference the components render (manifest URLs at a pinned commit or release, chart versions,
images), in one table, so an upgrade is one reviewed diff and each value says where it was checked upstream.

`PINS` lists them; tests/catalog/test_pins.py checks that the shipped stacks render no other external reference
(anything else must live under the stack's own Artifact Registry repository) and that every pin has a reviewable
form: a 40-hex commit in raw file URLs, a release tag in release URLs, an image tag other than `latest` or a digest.
Change a value only after checking it upstream again, and update its `source` and `verified` with what you read.

Pinned in Dockerfiles, not here (a build argument belongs to its Dockerfile): workloads/llama (`vllm/vllm-tpu`),
workloads/stable_diffusion (`rayproject/ray` build args, image-variants.json) and workloads/saxml (the Saxml release
and its commit in build_saxml.sh).
"""

from dataclasses import dataclass

VERIFIED_ON = "2026-12-02"
"""The date the pins below were last checked against their upstream repositories."""


@dataclass(frozen=True)
class Pin:
    """One external reference as the components render it, with where and when it was checked upstream."""

    value: str
    """Exactly what is rendered: a URL, an image reference or a version."""
    source: str
    """Where the value was seen: repository, tag or commit, and file, or the package index."""
    verified: str = VERIFIED_ON
    """The day it was seen there (ISO date)."""


# --- Custom Metrics Stackdriver Adapter (the HPA's source of vLLM's queue metric) ---------------------------------

CUSTOM_METRICS_ADAPTER_COMMIT = "af49d863755c0535f598cfde9288ae9a75251d38"
"""GoogleCloudPlatform/k8s-stackdriver at a fixed commit on master (see CUSTOM_METRICS_ADAPTER_MANIFEST_PIN)."""

CUSTOM_METRICS_ADAPTER_MANIFEST_PIN = Pin(
    value=(
        "https://raw.githubusercontent.com/GoogleCloudPlatform/k8s-stackdriver/"
        f"{CUSTOM_METRICS_ADAPTER_COMMIT}/custom-metrics-stackdriver-adapter/deploy/production/"
        "adapter_new_resource_model.yaml"
    ),
    source=(
        "GoogleCloudPlatform/k8s-stackdriver, branch master (head 673c7dd8, 2026-08-18): commit af49d863 (2026-08-17, "
        "'update custom-metrics-stackdriver-adapter image to v0.16.9-gke.0') is the newest commit touching "
        "custom-metrics-stackdriver-adapter/deploy/production/adapter_new_resource_model.yaml; the file at that "
        "commit runs gcr.io/gke-release/custom-metrics-stackdriver-adapter:v0.16.9-gke.0 as Deployment and "
        "ServiceAccount custom-metrics-stackdriver-adapter in namespace custom-metrics. The earlier pin 0857364d is "
        "not a commit of that repository."
    ),
)
CUSTOM_METRICS_ADAPTER_MANIFEST = CUSTOM_METRICS_ADAPTER_MANIFEST_PIN.value
"""Applied by the Kubernetes provider (provider-side: nothing is fetched while the program runs)."""

CUSTOM_METRICS_ADAPTER_NAMESPACE = "custom-metrics"
"""The namespace the manifest above creates and runs the adapter in (read from the file at the pinned commit)."""
CUSTOM_METRICS_ADAPTER_SERVICE_ACCOUNT = "custom-metrics-stackdriver-adapter"
"""The adapter's Kubernetes ServiceAccount in that manifest; Workload Identity grants it monitoring.viewer."""

# --- JobSet (Saxml's multi-host model servers) ----------------------------------------------------------------------

JOBSET_VERSION = "v0.12.0"
"""kubernetes-sigs/jobset release that JobSetController installs: its CRD (jobset.x-k8s.io/v1alpha2), controller and
webhooks from the release's manifests.yaml. Verified: tag v0.12.0 (annotated, 2026-05-08) is commit f22e565a; the
newest release tag in the stored mirror (head 2026-08-18; v0.13.0 exists only as v0.13.0-devel); its
config/components/crd/bases/jobset.x-k8s.io_jobsets.yaml serves v1alpha2."""

JOBSET_MANIFEST_URL = "https://github.com/kubernetes-sigs/jobset/releases/download/{version}/manifests.yaml"
"""The release manifest of a JobSet version, applied by the Kubernetes provider (provider-side: nothing is fetched
while the program runs). The form is the one JobSet's README and site/content/en/docs/installation/_index.md give at
tag v0.12.0 (`kubectl apply --server-side -f .../releases/download/v0.12.0/manifests.yaml`)."""

JOBSET_MANIFEST_PIN = Pin(
    value=JOBSET_MANIFEST_URL.format(version=JOBSET_VERSION),
    source=(
        "kubernetes-sigs/jobset tag v0.12.0 (commit f22e565a, 2026-05-08): README.md line 61 installs exactly this "
        "URL; the release asset itself was not downloaded (GitHub release downloads are not reachable here)."
    ),
)

# --- Saxml (Cloud TPU's published server images) --------------------------------------------------------------------

SAXML_VERSION = "v1.2.0"
"""google/saxml release of Cloud TPU's published Saxml images. Verified: tag v1.2.0 is commit be31b49b (2024-02-20),
Saxml's last release (tags: v0.1.0, v1.0.0, v1.1.0, v1.2.0); it defines
saxml.server.pax.lm.params.lm_cloud.LmCloudSpmd175B32Test. GoogleCloudPlatform/kubernetes-engine-samples
ai-ml/llm-serving-gemma/saxml (added in commit 62483ba5, 2024-02-22, unchanged at 2b503651, 2026-07-30) runs the
published sax-admin-server, sax-model-server and sax-http images at :v1.2.0. GKE's 175B multi-host sample
(ai-ml/llm-multihost-tpus-saxml, commit c6f85f55, 2023-11-28, unchanged since) predates that release and uses
sax-admin-server:v1.1.0, sax-model-server:v1.1.0 and sax-http:v1.0.0; v1.2.0 is kept so the admin server, the model
servers and the HTTP server (workloads/saxml, built from the same tag) are one Saxml version."""

_SAXML_IMAGES = "us-docker.pkg.dev/cloud-tpu-images/inference"
_SAXML_SAMPLE = "GoogleCloudPlatform/kubernetes-engine-samples at 2b503651 (2026-07-30): ai-ml/llm-serving-gemma/saxml/"

SAXML_ADMIN_SERVER_IMAGE_PIN = Pin(
    value=f"{_SAXML_IMAGES}/sax-admin-server:{SAXML_VERSION}",
    source=_SAXML_SAMPLE + "saxml-admin-server.yaml line 33 (the registry itself is not reachable from here).",
)
SAXML_MODEL_SERVER_IMAGE_PIN = Pin(
    value=f"{_SAXML_IMAGES}/sax-model-server:{SAXML_VERSION}",
    source=_SAXML_SAMPLE + "saxml-model-server-1x1.yaml and -2x2.yaml line 42 (the registry is not reachable here).",
)
SAXML_HTTP_SERVER_IMAGE_PIN = Pin(
    value=f"{_SAXML_IMAGES}/sax-http:{SAXML_VERSION}",
    source=_SAXML_SAMPLE + "saxml-http.yaml line 33 (the registry itself is not reachable from here).",
)
SAXML_ADMIN_SERVER_IMAGE = SAXML_ADMIN_SERVER_IMAGE_PIN.value
SAXML_MODEL_SERVER_IMAGE = SAXML_MODEL_SERVER_IMAGE_PIN.value
SAXML_HTTP_SERVER_IMAGE = SAXML_HTTP_SERVER_IMAGE_PIN.value
"""Cloud TPU's published Saxml HTTP server (what GKE's samples run in front of the cell), for a stack that does not
build workloads/saxml/http_server."""

# --- KubeRay (for clusters without the GKE Ray add-on) --------------------------------------------------------------

_KUBERAY_SOURCE = (
    "ray-project/kuberay tag v1.7.0 (commit 59d663ae, 2026-08-20; the newest release tag in the stored mirror, head "
    "2026-08-19 on master): helm-chart/kuberay-operator/Chart.yaml version 1.7.0, values.yaml image "
    "quay.io/kuberay/operator:v1.7.0, docs/deploy/installation.md `helm repo add kuberay "
    "https://ray-project.github.io/kuberay-helm/`; ray-project/kuberay-helm PR #89 '[release-1.7] update Helm charts "
    "to KubeRay v1.7.0' merged 2026-08-20 (the stored gh-pages index.yaml is older and lists up to 1.4.2)."
)
KUBERAY_CHART_REPOSITORY_PIN = Pin(value="https://ray-project.github.io/kuberay-helm/", source=_KUBERAY_SOURCE)
KUBERAY_VERSION_PIN = Pin(value="1.7.0", source=_KUBERAY_SOURCE)
KUBERAY_CHART_REPOSITORY = KUBERAY_CHART_REPOSITORY_PIN.value
KUBERAY_CHART = "kuberay-operator"
KUBERAY_VERSION = KUBERAY_VERSION_PIN.value
"""The KubeRay operator chart (and its quay.io/kuberay/operator image) for clusters without the GKE Ray add-on; the
RayService and RayCluster CRDs the tests validate against are this release's. Token authentication (authOptions)
needs KubeRay >= 1.5.1."""

# --- Ray ------------------------------------------------------------------------------------------------------------

RAY_VERSION_PIN = Pin(
    value="2.60.0",
    source="PyPI: ray 2.60.0 is the newest release, with a cp311 manylinux x86_64 wheel (pip index/download).",
)
RAY_VERSION = RAY_VERSION_PIN.value
"""rayVersion of the Ray clusters: it must match the Ray inside the workload image (token authentication needs
Ray >= 2.52)."""

RAY_IMAGE_PIN = Pin(
    value=f"rayproject/ray:{RAY_VERSION}-py311",
    source=(
        "The tag scheme of Ray's image release code, ray-project/ray ci/ray_ci/docker_container.py: CPU `ray` images "
        "are tagged {version}-py311-cpu with the alias {version}-py311, Python 3.11 among PYTHON_VERSIONS_RAY; Ray "
        "2.60.0 is released (RAY_VERSION_PIN). Docker Hub is not reachable from here: this tag itself was not seen."
    ),
)
RAY_IMAGE = RAY_IMAGE_PIN.value
"""The default image of a team's RayCluster: Ray's own CPU image at RAY_VERSION (its user is UID 1000). TPU and GPU
work needs a team image with JAX for TPU or the CUDA variant, at the same Ray version."""

PINS: tuple[Pin, ...] = (
    CUSTOM_METRICS_ADAPTER_MANIFEST_PIN,
    JOBSET_MANIFEST_PIN,
    SAXML_ADMIN_SERVER_IMAGE_PIN,
    SAXML_MODEL_SERVER_IMAGE_PIN,
    SAXML_HTTP_SERVER_IMAGE_PIN,
    KUBERAY_CHART_REPOSITORY_PIN,
    KUBERAY_VERSION_PIN,
    RAY_VERSION_PIN,
    RAY_IMAGE_PIN,
)
"""Every pin above: the only external references the shipped stacks may render."""
