"""Who reaches a GkeTpuCluster's Kubernetes API, and how `pulumi` itself does (pure: the stack config runs the checks).

By default only through GKE's DNS-based control plane endpoint, which Google authorizes with IAM before Kubernetes
authenticates the request, and which every network that reaches Google Cloud APIs reaches; the IP endpoints are off.
GKE calls using only the DNS-based endpoint its best practice (https://cloud.google.com/kubernetes-engine/docs/
concepts/network-isolation, "Control plane access"; the CIS GKE Benchmark v2.0.0 5.6.4 "Use DNS based access or
private GKE control plane endpoints" asks for the same; read 2026-12-07). A stack may instead open the IP endpoint
to networks it names, or, explicitly, to the whole internet. The kubeconfig always uses the DNS endpoint.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gke_tpu_serving.errors import ArgError, PathPart, require_cidr

PUBLIC_CONTROL_PLANE_LABEL = "gke-tpu-serving-public-control-plane"
"""Resource label (value "true") on a cluster whose IP endpoint is open to the internet because its args asked for
it (public_endpoint): the policy pack accepts such a cluster and flags any other without authorized networks."""


@dataclass(frozen=True)
class ControlPlanePlan:
    """The control plane's endpoints, checked."""

    authorized_networks: tuple[tuple[str, str], ...] = ()
    """(CIDR, display name) of each network the IP endpoint accepts; empty: none."""
    public_endpoint: bool = False
    """The IP endpoint accepts the whole internet (Kubernetes still authenticates every request)."""

    @property
    def ip_endpoint(self) -> bool:
        """Whether the IP endpoints are on at all: only for authorized networks or a public endpoint."""
        return self.public_endpoint or bool(self.authorized_networks)


def plan_control_plane(args: Mapping[str, Any]) -> ControlPlanePlan:
    """Check `authorized_networks` and `public_endpoint` of GkeTpuCluster's args; raises ArgError."""
    public = args.get("public_endpoint", False)
    if not isinstance(public, bool):
        raise ArgError(("public_endpoint",), f"{public!r} is not allowed; allowed: true or false")
    networks = args.get("authorized_networks", [])
    if not isinstance(networks, list):
        raise ArgError(("authorized_networks",), f"{networks!r} is not allowed; allowed: a list of networks")
    checked = [_network(("authorized_networks", index), network) for index, network in enumerate(networks)]
    if public and checked:
        raise ArgError(
            ("public_endpoint",),
            "true together with authorized_networks; allowed: one of them (authorized networks restrict the IP "
            "endpoint, a public endpoint opens it to the internet)",
        )
    return ControlPlanePlan(authorized_networks=tuple(checked), public_endpoint=public)


def _network(at: tuple[PathPart, ...], network: object) -> tuple[str, str]:
    if not isinstance(network, Mapping):
        raise ArgError(at, f"{network!r} is not allowed; allowed: a mapping with cidr_block (and display_name)")
    # GKE's authorized networks take IPv4 CIDR blocks (terraform-provider-google's cidr_block validation is
    # IsCIDRNetwork(0, 32): hashicorp/terraform-provider-google@0297605c google/services/container/
    # resource_container_cluster.go, read 2026-12-07).
    cidr = require_cidr((*at, "cidr_block"), network.get("cidr_block"), ipv4_only=True)
    if cidr.endswith("/0"):
        raise ArgError(
            (*at, "cidr_block"),
            f"{cidr!r} is the whole internet; allowed: a narrower network, or public_endpoint true to open the "
            "IP endpoint to the internet explicitly",
        )
    name = network.get("display_name", cidr)
    if not isinstance(name, str) or not name:
        raise ArgError((*at, "display_name"), f"{name!r} is not allowed; allowed: a non-empty string")
    return cidr, name


def credentials_command(cluster_name: str, location: str) -> str:
    """The command that writes a person's kubeconfig for the cluster on its DNS endpoint (gcloud container clusters
    get-credentials NAME [--dns-endpoint] [--location=LOCATION]:
    https://cloud.google.com/sdk/gcloud/reference/container/clusters/get-credentials, read 2026-12-07)."""
    return f"gcloud container clusters get-credentials {cluster_name} --location {location} --dns-endpoint"


def kubeconfig_for(cluster_name: str, server: str, ca_certificate: str | None = None) -> str:
    """A kubeconfig that authenticates with gke-gcloud-auth-plugin (no long-lived credential in it). `server` is the
    DNS endpoint's host, verified against the system's CA roots (no CA data), or an IP endpoint with the cluster's own
    CA certificate."""
    context = f"gke_{cluster_name}"
    cluster: dict[str, Any] = {"server": f"https://{server}"}
    if ca_certificate:
        cluster["certificate-authority-data"] = ca_certificate
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            "current-context": context,
            "users": [
                {
                    "name": context,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "gke-gcloud-auth-plugin",
                            "provideClusterInfo": True,
                            "installHint": "Install gke-gcloud-auth-plugin: gcloud components install "
                            "gke-gcloud-auth-plugin",
                        }
                    },
                }
            ],
        },
        indent=2,
    )


def cluster_labels(labels: dict[str, str] | None, plan: ControlPlanePlan) -> dict[str, str] | None:
    """The caller's labels, and the mark of a control plane opened to the internet on purpose (the policy pack's
    gke-control-plane-access rule accepts it)."""
    if not plan.public_endpoint:
        return labels
    return {**(labels or {}), PUBLIC_CONTROL_PLANE_LABEL: "true"}
