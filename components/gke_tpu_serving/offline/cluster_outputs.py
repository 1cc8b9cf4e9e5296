"""What GKE computes for a cluster, stood in for offline: its DNS-based control plane endpoint, which the kubeconfig
that the program gives the Kubernetes provider is built from."""

import hashlib
from collections.abc import Mapping
from typing import Any

from pulumi.runtime import mocks as pulumi_mocks

CLUSTER_TYPE = "gcp:container/cluster:Cluster"


def offline_dns_endpoint(name: str, location: str) -> str:
    """The stand-in DNS-based control plane endpoint of a cluster offline, in the form of the GKE API's example
    (`uid.us-central1.gke.goog`: ControlPlaneEndpointsConfig.DNSEndpointConfig.endpoint, output only, read
    2026-12-07): the kubeconfig that the Kubernetes provider gets is then complete, as after `pulumi up`."""
    uid = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"gke-{uid}.{location}.gke.goog"


def cluster_outputs(args: pulumi_mocks.MockResourceArgs) -> Mapping[str, Any]:
    """The cluster's inputs, with the DNS endpoint GKE would report in controlPlaneEndpointsConfig."""
    endpoints = dict(args.inputs.get("controlPlaneEndpointsConfig") or {})
    dns = dict(endpoints.get("dnsEndpointConfig") or {})
    dns["endpoint"] = offline_dns_endpoint(str(args.inputs.get("name", args.name)), str(args.inputs.get("location")))
    return {"controlPlaneEndpointsConfig": {**endpoints, "dnsEndpointConfig": dns}}
