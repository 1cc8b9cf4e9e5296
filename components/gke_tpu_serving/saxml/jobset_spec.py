"""The JobSet (jobset.x-k8s.io/v1alpha2) that runs Saxml's model servers on multi-host TPU slices, as a plain dict.

One replicated job, one Job per slice: `replicas` is the number of slices, `parallelism = completions` the hosts of
one slice (from the catalog), one pod per host. A slice's hosts must all run for its model server to serve, so a Job
tolerates no pod failure (`backoffLimit: 0`) and the failure policy restarts the whole set. The exclusive-topology
annotation gives each Job a node pool of its own: one slice each.

Pure (imports nothing from Pulumi): the component hands the result to `kubernetes.apiextensions.CustomResource`, and
the tests validate it against the upstream CRD. The name checks are the JobSet webhook's (v0.12.0,
pkg/webhooks/jobset_webhook.go), so a JobSet the webhook would refuse fails at preview instead.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gke_tpu_serving.catalog import TpuGeneration, TpuSlice
from gke_tpu_serving.errors import ArgError
from gke_tpu_serving.k8s.accelerator_pods import AcceleratorPodPlacement
from gke_tpu_serving.k8s.pod_security import restricted_container_security_context, restricted_pod_security_context

API_VERSION = "jobset.x-k8s.io/v1alpha2"
KIND = "JobSet"
EXCLUSIVE_TOPOLOGY_ANNOTATION = "alpha.jobset.sigs.k8s.io/exclusive-topology"
NODE_POOL_LABEL = "cloud.google.com/gke-nodepool"
"""GKE's node label naming a node's pool: exclusive per pool means one slice per Job (one pool per slice)."""
SLICE_JOB = "slice"
"""Name of the replicated job: its Jobs are `<jobset>-slice-<i>`, one per slice."""
MODEL_SERVER_PORT = 10001
TPU_RUNTIME_PORT = 8471
"""libtpu's port between the hosts of one slice."""
SAXML_CHIPS = {TpuGeneration.V4: "tpuv4", TpuGeneration.V5E: "tpuv5e"}
"""Saxml's --platform_chip per TPU generation: the chips Saxml v1.2.0 knows (saxml/server/proto_util.py)."""
SAXML_UID = 1000
"""The upstream Saxml images name no user, so root would run them: the pods set an unprivileged one."""

# Probes of the model servers. Saxml v1.2.0's model server (saxml/server/model_service_main.py run(),
# model_service_base.py ModelServicesRunner, read 2026-12-07) opens its gRPC port on every host of a slice, primary or
# not, once JAX has initialised the slice; it serves no HTTP and no grpc.health.v1, so the probes are TCP connects.
# Models are loaded afterwards, when the admin server assigns a published model, on a worker thread while the port
# keeps answering: a 175B load does not delay the port, only JAX's start-up and the rendezvous of the slice's hosts do.
PROBE_PERIOD_SECONDS = 10
MODEL_SERVER_START_SECONDS = 15 * 60
"""How long a model server may take to open its port after its container starts: JAX's TPU start-up waits for every
host of the slice, whose pods may still be pulling the multi-gigabyte model-server image. Not a measured figure (none
is published): a generous bound, since a start-up that times out restarts every slice of the JobSet."""
MODEL_SERVER_LIVENESS = {"periodSeconds": 20, "timeoutSeconds": 5, "failureThreshold": 3}
"""A server whose port refuses connections for a minute is dead. The pods never restart in place (restartPolicy
Never): the failed container fails its Job (backoffLimit 0) and the JobSet recreates every slice, the only way a
multi-host slice recovers."""

_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_LABEL_MAX = 63
# The Job controller appends a random suffix of this length to a pod's name; the webhook counts it.
_POD_SUFFIX = "-abcde"


def saxml_chip(shape: TpuSlice) -> str:
    """Saxml's --platform_chip for a slice's generation. ArgError at `generation` for one Saxml does not know."""
    chip = SAXML_CHIPS.get(shape.generation)
    if chip is None:
        allowed = ", ".join(generation.value for generation in SAXML_CHIPS)
        raise ArgError(
            ("generation",),
            f"TPU {shape.generation.value} is not a chip Saxml knows (its model server would register an unknown "
            f"chip type); allowed: {allowed}",
        )
    return chip


def check_jobset_names(name: str, replicated_job: str, replicas: int, completions: int) -> None:
    """The webhook's limit: the longest Job name (`<name>-<job>-<last index>`) and pod name (plus the pod's random
    suffix) must be DNS-1035 labels of at most 63 characters. ArgError (judging the name: no path) otherwise."""
    longest_pod = f"{name}-{replicated_job}-{replicas - 1}-{completions - 1}{_POD_SUFFIX}"
    if not _DNS_1035_LABEL.match(longest_pod) or len(longest_pod) > _DNS_LABEL_MAX:
        budget = _DNS_LABEL_MAX - len(longest_pod) + len(name)
        raise ArgError(
            (),
            f"{name!r} makes pod names such as {longest_pod!r}, which are not DNS-1035 labels of at most "
            f"{_DNS_LABEL_MAX} characters; allowed: at most {budget} characters of lowercase letters, digits and "
            "'-', starting with a letter",
        )


@dataclass(frozen=True)
class ModelServers:
    """What the model-server JobSet is made of, every default resolved."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    service_account_name: str
    """The Workload Identity ServiceAccount: the pods keep it because they do not use the host network."""
    image: str
    cell: str
    """The Saxml cell, e.g. /sax/test."""
    sax_root: str
    """gs://BUCKET/sax-root: where the admin server publishes its address and the cell's state."""
    shape: TpuSlice
    placement: AcceleratorPodPlacement
    """Selectors, tolerations and chips of one host's pod, for the cluster's mode (_accelerator_pods)."""
    slices: int
    max_restarts: int


def model_server_jobset(servers: ModelServers) -> dict[str, Any]:
    """The whole JobSet object (apiVersion, kind, metadata, spec). ValueError if the webhook would refuse its names or
    Saxml does not know the chip."""
    shape = servers.shape
    check_jobset_names(servers.name, SLICE_JOB, servers.slices, shape.hosts)
    tpu = dict(servers.placement.resources)
    container = {
        "name": "model-server",
        "image": servers.image,
        "args": [
            f"--sax_cell={servers.cell}",
            f"--port={MODEL_SERVER_PORT}",
            f"--platform_chip={saxml_chip(shape)}",
            f"--platform_topology={shape.topology}",
        ],
        "env": [
            {"name": "SAX_ROOT", "value": servers.sax_root},
            # Empty: every slice is a replica of its own, not one multislice program across the data-center network.
            {"name": "MEGASCALE_NUM_SLICES", "value": ""},
        ],
        "ports": [
            {"name": "model", "containerPort": MODEL_SERVER_PORT},
            {"name": "tpu-runtime", "containerPort": TPU_RUNTIME_PORT},
        ],
        "resources": {"requests": tpu, "limits": tpu},
        # No readiness probe: no Service sends traffic to the model servers (clients find them through the admin
        # server), and the startup probe holds the pod unready (for the disruption budget) until the port opens.
        "startupProbe": {
            "tcpSocket": {"port": "model"},
            "periodSeconds": PROBE_PERIOD_SECONDS,
            "failureThreshold": MODEL_SERVER_START_SECONDS // PROBE_PERIOD_SECONDS,
        },
        "livenessProbe": {"tcpSocket": {"port": "model"}, **MODEL_SERVER_LIVENESS},
        "securityContext": restricted_container_security_context(),
    }
    pod_spec: dict[str, Any] = {
        # No hostNetwork: the pods keep their Workload Identity instead of acting as the node. Within a slice
        # the chips talk over ICI and the hosts find each other through the JobSet's headless Service.
        "serviceAccountName": servers.service_account_name,
        "automountServiceAccountToken": False,
        "nodeSelector": dict(servers.placement.node_selector),
        "restartPolicy": "Never",
        "securityContext": restricted_pod_security_context(run_as=SAXML_UID),
        "containers": [container],
    }
    if servers.placement.tolerations:
        pod_spec["tolerations"] = [dict(toleration) for toleration in servers.placement.tolerations]
    pod = {"metadata": {"labels": dict(servers.labels)}, "spec": pod_spec}
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": servers.name,
            "namespace": servers.namespace,
            "labels": dict(servers.labels),
            "annotations": {EXCLUSIVE_TOPOLOGY_ANNOTATION: NODE_POOL_LABEL},
        },
        "spec": {
            # A failed host fails its slice's Job, and the set is recreated: a slice serves only with all its hosts.
            "failurePolicy": {"maxRestarts": servers.max_restarts},
            # Pod hostnames <jobset>-slice-<i>-<host> under a headless Service: how a slice's hosts find each other.
            "network": {"enableDNSHostnames": True},
            "replicatedJobs": [
                {
                    "name": SLICE_JOB,
                    "replicas": servers.slices,
                    "template": {
                        "metadata": {"labels": dict(servers.labels)},
                        "spec": {
                            "parallelism": shape.hosts,
                            "completions": shape.hosts,
                            "backoffLimit": 0,
                            # Indexed: each host has a stable worker index (TPU_WORKER_ID) within its slice.
                            "completionMode": "Indexed",
                            "template": pod,
                        },
                    },
                }
            ],
        },
    }
