"""GkeTpuCluster's control plane access under Pulumi mocks: the DNS endpoint only by default, authorized networks or
an explicitly public IP endpoint otherwise, the kubeconfig `pulumi` uses on the DNS endpoint; bad args refused with
their exact message."""

import json
import re
from typing import Any

import pytest
from helpers import args_factory, assert_refused_before_any_child

from gke_tpu_serving import GkeTpuCluster, GkeTpuClusterArgs
from gke_tpu_serving.cluster.control_plane import PUBLIC_CONTROL_PLANE_LABEL, credentials_command
from gke_tpu_serving.offline.cluster_outputs import offline_dns_endpoint
from stacks.config import ConfigError, parse

GKE = "gcp:container/cluster:Cluster"
BASE_ARGS: GkeTpuClusterArgs = {"project": "demo-project", "location": "us-central1", "labels": {"team": "ml"}}
args = args_factory(BASE_ARGS)
DNS_ONLY = {"dnsEndpointConfig": {"allowExternalTraffic": True}, "ipEndpointsConfig": {"enabled": False}}


def _cluster_inputs(mocks: Any) -> dict[str, Any]:
    return dict(mocks.settle().one(GKE, "serve-cluster").inputs)


def test_by_default_only_the_dns_endpoint_takes_user_traffic(pulumi_mocks: Any) -> None:
    GkeTpuCluster("serve", args())
    inputs = _cluster_inputs(pulumi_mocks)
    assert inputs["controlPlaneEndpointsConfig"] == DNS_ONLY
    assert "masterAuthorizedNetworksConfig" not in inputs
    assert inputs["resourceLabels"] == {"team": "ml"}


def test_the_kubeconfig_reaches_the_dns_endpoint_with_google_credentials(pulumi_mocks: Any) -> None:
    cluster = GkeTpuCluster("serve", args())
    pulumi_mocks.settle()
    endpoint = offline_dns_endpoint("serve", "us-central1")
    assert pulumi_mocks.resolve(cluster.dns_endpoint) == endpoint
    kubeconfig = json.loads(pulumi_mocks.resolve(cluster.kubeconfig))
    # No cluster CA certificate (the DNS endpoint is checked against the system roots); the credential is the
    # caller's Google token.
    assert kubeconfig["clusters"] == [{"name": "gke_serve", "cluster": {"server": f"https://{endpoint}"}}]
    assert kubeconfig["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"


def test_authorized_networks_open_the_ip_endpoint_to_them_alone(pulumi_mocks: Any) -> None:
    networks = [{"cidr_block": "203.0.113.0/24", "display_name": "office"}, {"cidr_block": "198.51.100.7/32"}]
    GkeTpuCluster("serve", args(authorized_networks=networks))
    inputs = _cluster_inputs(pulumi_mocks)
    assert inputs["controlPlaneEndpointsConfig"] == {**DNS_ONLY, "ipEndpointsConfig": {"enabled": True}}
    assert inputs["masterAuthorizedNetworksConfig"] == {
        "cidrBlocks": [
            {"cidrBlock": "203.0.113.0/24", "displayName": "office"},
            {"cidrBlock": "198.51.100.7/32", "displayName": "198.51.100.7/32"},
        ],
        "gcpPublicCidrsAccessEnabled": False,
    }
    assert PUBLIC_CONTROL_PLANE_LABEL not in inputs["resourceLabels"]


def test_a_public_endpoint_is_open_only_when_asked_and_says_so(pulumi_mocks: Any) -> None:
    GkeTpuCluster("serve", args(public_endpoint=True))
    inputs = _cluster_inputs(pulumi_mocks)
    assert inputs["controlPlaneEndpointsConfig"] == {**DNS_ONLY, "ipEndpointsConfig": {"enabled": True}}
    assert "masterAuthorizedNetworksConfig" not in inputs
    assert inputs["resourceLabels"] == {"team": "ml", PUBLIC_CONTROL_PLANE_LABEL: "true"}


def test_people_get_credentials_on_the_dns_endpoint() -> None:
    assert credentials_command("serve", "us-central1") == (
        "gcloud container clusters get-credentials serve --location us-central1 --dns-endpoint"
    )


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (
            {"public_endpoint": True, "authorized_networks": [{"cidr_block": "203.0.113.0/24"}]},
            "public_endpoint: true together with authorized_networks; allowed: one of them (authorized networks "
            "restrict the IP endpoint, a public endpoint opens it to the internet)",
        ),
        ({"public_endpoint": "yes"}, "public_endpoint: 'yes' is not allowed; allowed: true or false"),
        (
            {"authorized_networks": [{"cidr_block": "0.0.0.0/0"}]},
            "authorized_networks[0].cidr_block: '0.0.0.0/0' is the whole internet; allowed: a narrower network, or "
            "public_endpoint true to open the IP endpoint to the internet explicitly",
        ),
        (
            {"authorized_networks": [{"cidr_block": "203.0.113.5/24"}]},
            "authorized_networks[0].cidr_block: '203.0.113.5/24' is not allowed; allowed: an IPv4 network in CIDR "
            "notation, e.g. 10.0.0.0/8",
        ),
        (
            {"authorized_networks": [{"cidr_block": "2001:db8::/32"}]},
            "authorized_networks[0].cidr_block: '2001:db8::/32' is not allowed; allowed: an IPv4 network in CIDR "
            "notation, e.g. 10.0.0.0/8",
        ),
        (
            {"authorized_networks": [{"cidr_block": "203.0.113.0/24", "display_name": ""}]},
            "authorized_networks[0].display_name: '' is not allowed; allowed: a non-empty string",
        ),
        (
            {"authorized_networks": "203.0.113.0/24"},
            "authorized_networks: '203.0.113.0/24' is not allowed; allowed: a list of networks",
        ),
    ],
)
def test_bad_control_plane_args_are_refused_before_any_child(pulumi_mocks: Any, extra: Any, reason: str) -> None:
    assert_refused_before_any_child(pulumi_mocks, GkeTpuCluster, "serve", args(**extra), reason)


def test_a_stack_names_the_camel_case_key_of_a_bad_authorized_network() -> None:
    raw = {
        "clusters": [
            {"name": "c", "location": "us-central1", "authorizedNetworks": [{"cidrBlock": "0.0.0.0/0"}]},
        ]
    }
    message = (
        "config key gke-tpu-serving:clusters[0].authorizedNetworks[0].cidrBlock: '0.0.0.0/0' is the whole internet; "
        "allowed: a narrower network, or public_endpoint true to open the IP endpoint to the internet explicitly"
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        parse(raw, "demo-project", frozenset())


def test_a_stack_reads_authorized_networks_and_public_endpoint() -> None:
    networks = [{"cidrBlock": "203.0.113.0/24", "displayName": "office"}]
    raw = {"clusters": [{"name": "c", "location": "us-central1", "authorizedNetworks": networks}]}
    (cluster,) = parse(raw, "demo-project", frozenset()).clusters
    assert cluster.plan.control_plane.authorized_networks == (("203.0.113.0/24", "office"),)
    raw = {"clusters": [{"name": "c", "location": "us-central1", "publicEndpoint": True}]}
    (cluster,) = parse(raw, "demo-project", frozenset()).clusters
    assert cluster.plan.control_plane.public_endpoint


def test_the_kubernetes_provider_is_replaced_only_with_the_cluster(pulumi_mocks: Any) -> None:
    GkeTpuCluster("serve", args())
    provider = pulumi_mocks.settle().one("pulumi:providers:kubernetes", "serve-k8s")
    assert provider.inputs["clusterIdentifier"] == offline_dns_endpoint("serve", "us-central1")
