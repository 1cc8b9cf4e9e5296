"""The typed stack config: every bad value is reported with its config key, the value and what is allowed,
before any resource is registered."""

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT, program_with_stacks

from gke_tpu_serving.catalog import TpuGeneration
from gke_tpu_serving.errors import camel_case
from gke_tpu_serving.k8s.pods import Exposure
from gke_tpu_serving.names import check_region
from gke_tpu_serving.offline import ProjectError, input_error_message, run_program
from stacks.config import DEFAULTS, IMAGE_DEFAULTS, TOP_LEVEL_KEYS, ConfigError, check_namespaces, parse
from stacks.scenarios.llama import Config as LlamaConfig

PREFIX = "gke-tpu-serving:"


def dev_config() -> tuple[dict[str, Any], str]:
    """The dev stack's config as parse() receives it: project keys without their prefix, and gcp:project."""
    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    raw = {key.removeprefix(PREFIX): value for key, value in config.items() if key.startswith(PREFIX)}
    return raw, config["gcp:project"]


DEV_SECRETS = frozenset({"hfToken"})
"""The secrets the dev stack needs set (it stages Llama's gated weights), as `pulumi up` would have them."""


def sd(raw: dict[str, Any]) -> dict[str, Any]:
    return raw["clusters"][0]


def llm(raw: dict[str, Any]) -> dict[str, Any]:
    return raw["clusters"][1]


def pool(raw: dict[str, Any], cluster: int, index: int) -> dict[str, Any]:
    return raw["clusters"][cluster]["tpuPools"][index]


def test_dev_stack_config_is_valid() -> None:
    raw, project = dev_config()
    config = parse(raw, project, DEV_SECRETS)
    assert [c.name for c in config.clusters] == ["sd-v4", "llm-us-central1"]
    assert config.scenario_keys == {"stableDiffusion", "saxml", "llama"}


def test_dev_stack_places_each_scenario_on_its_slices() -> None:
    raw, project = dev_config()
    config = parse(raw, project, DEV_SECRETS)
    assert [p.pool_name for p in config.instance("saxml").tpu_pools] == ["v5e-4x8-0", "v5e-4x8-1"]
    assert [p.zone for p in config.instance("saxml").tpu_pools] == ["us-central1-a", "us-central1-a"]
    assert config.instance("llama").tpu_pools[0].tpu_slice.generation is TpuGeneration.V6E
    assert config.instance("llama").tpu_pools[0].zone == "us-central1-b"
    assert config.instance("stableDiffusion").tpu_pools[0].zone == "us-central2-b"


def test_stack_defaults_apply_to_clusters_without_their_own() -> None:
    raw, project = dev_config()
    raw["deletionProtection"] = False
    llm(raw)["deletionProtection"] = True
    clusters = parse(raw, project, DEV_SECRETS).clusters
    assert [c.plan.deletion_protection for c in clusters] == [False, True]
    assert [c.plan.release_channel for c in clusters] == ["REGULAR", "REGULAR"]


def test_pulumi_yaml_declares_the_defaults_the_code_applies() -> None:
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert {key: spec["default"] for key, spec in declared.items()} == DEFAULTS | IMAGE_DEFAULTS
    assert {key: spec["type"] for key, spec in declared.items()} == {
        "releaseChannel": "string",
        "deletionProtection": "boolean",
        "imageRegistryLocation": "string",
        "ciServiceAccount": "string",
    }


def _set(path: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        path(raw)[key] = value

    return mutate


def _drop(path: Callable[[dict[str, Any]], dict[str, Any]], key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        del path(raw)[key]

    return mutate


def _v4(raw: dict[str, Any]) -> dict[str, Any]:
    return pool(raw, 0, 0)


def _v5e(raw: dict[str, Any]) -> dict[str, Any]:
    return pool(raw, 1, 0)


def _v6e(raw: dict[str, Any]) -> dict[str, Any]:
    return pool(raw, 1, 1)


def _add_gpu_pool(**fields: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(raw: dict[str, Any]) -> None:
        llm(raw)["gpuPools"] = [
            {"name": "l4", "acceleratorType": "nvidia-l4", "machineType": "g2-standard-8", **fields}
        ]

    return mutate


def _root(raw: dict[str, Any]) -> dict[str, Any]:
    return raw


# "allowed:" lists computed from the types, so a new key changes them here and not in every case below.
TOP_ALLOWED = ", ".join(TOP_LEVEL_KEYS)
LLAMA_ALLOWED = ", ".join(["tenant", *(camel_case(key) for key in LlamaConfig.__annotations__)])

BAD_CONFIGS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    (
        "rbac_security_group_of_another_name",
        _set(llm, "rbacSecurityGroup", "ml-admins@example.com"),
        "config key gke-tpu-serving:clusters[1].rbacSecurityGroup: 'ml-admins@example.com' is not allowed; allowed: "
        "gke-security-groups@YOUR_DOMAIN (Google Groups for RBAC reads only a group of exactly that name, whose members "
        "are the groups used in RBAC)",
    ),
    (
        "image_registry_location_not_a_region",
        _set(_root, "imageRegistryLocation", "us"),
        "config key gke-tpu-serving:imageRegistryLocation: 'us' is not a GCP region; allowed: e.g. 'us-central1': a geography (africa, asia, australia, europe, me, northamerica, southamerica, us), '-', a direction (central, east, north, northeast, south, southeast, southwest, west) and a number",
    ),
    (
        "ci_service_account_not_an_email",
        _set(_root, "ciServiceAccount", "ci-pusher"),
        "config key gke-tpu-serving:ciServiceAccount: 'ci-pusher' is not a service account email; allowed: NAME@PROJECT.iam.gserviceaccount.com, or an empty string for none",
    ),
    (
        "llama_image_not_pinned",
        _set(lambda raw: raw["llama"], "image", "vllm/vllm-tpu:latest"),
        "config key gke-tpu-serving:llama.image: image 'vllm/vllm-tpu:latest' is not pinned; allowed: a tag other than 'latest' (REPOSITORY:TAG) or a digest (REPOSITORY@sha256:DIGEST)",
    ),
    (
        "llama_max_replicas_above_pool_max_nodes",
        _set(lambda raw: raw["llama"], "maxReplicas", 3),
        "config key gke-tpu-serving:llama.maxReplicas: 3 is more than the TPU pool's maximum of 2 nodes (each replica takes one ct6e-standard-8t host); allowed: 1 to 2",
    ),
    (
        "llama_min_replicas_above_max_replicas",
        lambda raw: raw["llama"].update(minReplicas=2, maxReplicas=1),
        "config key gke-tpu-serving:llama.minReplicas: 2 is more than the maximum replica count, 1; allowed: 1 to 1",
    ),
    (
        "llama_exposure_unknown",
        _set(lambda raw: raw["llama"], "exposure", "public"),
        "config key gke-tpu-serving:llama.exposure: 'public' is not allowed; allowed: cluster-ip, internal-load-balancer, public-load-balancer",
    ),
    (
        "llama_public_load_balancer_without_api_key",
        _set(lambda raw: raw["llama"], "exposure", "public-load-balancer"),
        "config key gke-tpu-serving:llama.exposure: public-load-balancer, but the apiKey secret is not set: vLLM would answer whoever reaches the load balancer; allowed: cluster-ip, or set it with `pulumi config set --secret apiKey ...`",
    ),
    (
        "llama_internal_load_balancer_without_api_key",
        _set(lambda raw: raw["llama"], "exposure", "internal-load-balancer"),
        "config key gke-tpu-serving:llama.exposure: internal-load-balancer, but the apiKey secret is not set: vLLM would answer whoever reaches the load balancer; allowed: cluster-ip, or set it with `pulumi config set --secret apiKey ...`",
    ),
    (
        "saxml_public_load_balancer",
        _set(lambda raw: raw["saxml"], "exposure", "public-load-balancer"),
        "config key gke-tpu-serving:saxml.exposure: public-load-balancer, but the Saxml HTTP server (/generate, /publish, /unpublish) does not authenticate requests, and a load balancer would hand them to it from anywhere it is reachable; allowed: cluster-ip (to reach it from outside the cluster, deploy the instance into a tenant with its `tenant` key and add a `routes` entry for its Service to that tenant: the tenant's gateway puts Identity-Aware Proxy in front)",
    ),
    (
        "saxml_internal_load_balancer",
        _set(lambda raw: raw["saxml"], "exposure", "internal-load-balancer"),
        "config key gke-tpu-serving:saxml.exposure: internal-load-balancer, but the Saxml HTTP server (/generate, /publish, /unpublish) does not authenticate requests, and a load balancer would hand them to it from anywhere it is reachable; allowed: cluster-ip (to reach it from outside the cluster, deploy the instance into a tenant with its `tenant` key and add a `routes` entry for its Service to that tenant: the tenant's gateway puts Identity-Aware Proxy in front)",
    ),
    (
        "stable_diffusion_public_load_balancer",
        _set(lambda raw: raw["stableDiffusion"], "exposure", "public-load-balancer"),
        "config key gke-tpu-serving:stableDiffusion.exposure: public-load-balancer, but Ray Serve's HTTP proxy (Ray token authentication covers the dashboard and jobs API only) does not authenticate requests, and a load balancer would hand them to it from anywhere it is reachable; allowed: cluster-ip (to reach it from outside the cluster, deploy the instance into a tenant with its `tenant` key and add a `routes` entry for its Service to that tenant: the tenant's gateway puts Identity-Aware Proxy in front)",
    ),
    (
        "stable_diffusion_ray_auth_disabled_with_a_load_balancer",
        lambda raw: raw["stableDiffusion"].update(rayAuth="disabled", exposure="public-load-balancer"),
        "config key gke-tpu-serving:stableDiffusion.rayAuth: disabled, but exposure is public-load-balancer: the Ray cluster would be reachable beyond the cluster without Ray's token authentication; allowed: token (the default)",
    ),
    (
        "llama_cache_bucket_invalid",
        _set(lambda raw: raw["llama"], "cacheBucket", "x"),
        "config key gke-tpu-serving:llama.cacheBucket: 'x' is not a valid bucket name; allowed: 3-63 characters of lowercase letters, digits, '-' and '_', starting and ending with a letter or digit, without a 'goog' prefix or 'google' inside",
    ),
    (
        "scenario_namespace_not_a_dns_label",
        _set(lambda raw: raw["llama"], "namespace", "LLM"),
        "config key gke-tpu-serving:llama.namespace: 'LLM' is not a valid DNS-1123 label; allowed: 1-63 characters of lowercase letters, digits and '-', starting and ending with a letter or digit",
    ),
    (
        "scenario_bucket_name_invalid",
        _set(lambda raw: raw["saxml"], "bucket", "Sax.State"),
        "config key gke-tpu-serving:saxml.bucket: 'Sax.State' is not a valid bucket name; allowed: 3-63 characters of lowercase letters, digits, '-' and '_', starting and ending with a letter or digit, without a 'goog' prefix or 'google' inside",
    ),
    (
        "scenario_protect_bucket_not_boolean",
        _set(lambda raw: raw["saxml"], "protectBucket", "no"),
        "config key gke-tpu-serving:saxml.protectBucket: 'no' is not allowed; allowed: true or false",
    ),
    (
        "unknown_top_level_key",
        _set(_root, "cluster", []),
        f"config key gke-tpu-serving:cluster: unknown key (did you mean clusters?); allowed: {TOP_ALLOWED}",
    ),
    (
        "prices_not_positive",
        _set(_root, "prices", {"ct6e-standard-8t": 0}),
        "config key gke-tpu-serving:prices: ct6e-standard-8t: 0 is not allowed; allowed: a positive number (USD per node-hour), or a mapping of provisioning model (on-demand, spot, reservation, flex-start, queued-provisioning) to one",
    ),
    (
        "clusters_empty",
        _set(_root, "clusters", []),
        "config key gke-tpu-serving:clusters: [] is not allowed; allowed: a non-empty list of clusters",
    ),
    (
        "clusters_not_a_list",
        _set(_root, "clusters", "sd-v4"),
        "config key gke-tpu-serving:clusters: 'sd-v4' is not allowed; allowed: a non-empty list of clusters",
    ),
    (
        "cluster_not_a_mapping",
        lambda raw: raw["clusters"].__setitem__(0, "sd-v4"),
        "config key gke-tpu-serving:clusters[0]: 'sd-v4' is not allowed; allowed: a mapping with name, location, ...",
    ),
    (
        "cluster_name_missing",
        _drop(sd, "name"),
        "config key gke-tpu-serving:clusters[0].name: missing; required: the cluster's name",
    ),
    (
        "cluster_name_too_long",
        _set(sd, "name", "a" * 41),
        "config key gke-tpu-serving:clusters[0].name: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is not a valid GKE name; allowed: 1-40 characters of lowercase letters, digits and '-', starting with a letter and not ending with '-'",
    ),
    (
        "cluster_name_uppercase",
        _set(sd, "name", "SD_v4"),
        "config key gke-tpu-serving:clusters[0].name: 'SD_v4' is not a valid GKE name; allowed: 1-40 characters of lowercase letters, digits and '-', starting with a letter and not ending with '-'",
    ),
    (
        "cluster_name_twice",
        _set(llm, "name", "sd-v4"),
        "config key gke-tpu-serving:clusters[1].name: 'sd-v4' is used twice; allowed: unique names",
    ),
    (
        "cluster_location_missing",
        _drop(sd, "location"),
        "config key gke-tpu-serving:clusters[0].location: missing; required keys: location",
    ),
    (
        "cluster_location_not_a_location",
        _set(sd, "location", "mars"),
        "config key gke-tpu-serving:clusters[0].location: 'mars' is not a GCP region or zone; allowed: e.g. 'us-central1' or 'us-central1-a'",
    ),
    (
        "cluster_key_misspelt",
        _set(sd, "rayOperater", True),
        "config key gke-tpu-serving:clusters[0].rayOperater: unknown key (did you mean rayOperator?); allowed: name, location, mode, releaseChannel, minMasterVersion, rayOperator, gcsFuseCsi, managedPrometheus, dataplaneV2, privateNodes, deletionProtection, network, subnetwork, nodeServiceAccountEmail, nodeServiceAccountId, systemPool, tpuPools, gpuPools, labels, authorizedNetworks, publicEndpoint, rbacSecurityGroup",
    ),
    (
        "cluster_switch_not_boolean",
        _set(sd, "rayOperator", "yes"),
        "config key gke-tpu-serving:clusters[0].rayOperator: 'yes' is not allowed; allowed: true or false",
    ),
    (
        "release_channel_unknown",
        _set(sd, "releaseChannel", "BETA"),
        "config key gke-tpu-serving:clusters[0].releaseChannel: 'BETA' is not allowed; allowed: RAPID, REGULAR, STABLE, EXTENDED",
    ),
    (
        "stack_release_channel_unknown",
        _set(_root, "releaseChannel", "beta"),
        "config key gke-tpu-serving:releaseChannel: 'beta' is not allowed; allowed: RAPID, REGULAR, STABLE, EXTENDED",
    ),
    (
        "stack_deletion_protection_not_boolean",
        _set(_root, "deletionProtection", "no"),
        "config key gke-tpu-serving:deletionProtection: 'no' is not allowed; allowed: true or false",
    ),
    (
        "gke_version_malformed",
        _set(sd, "minMasterVersion", "latest"),
        "config key gke-tpu-serving:clusters[0].minMasterVersion: GKE version 'latest' is not of the form MAJOR.MINOR, MAJOR.MINOR.PATCH or MAJOR.MINOR.PATCH-gke.BUILD (e.g. 1.31.2-gke.1115000)",
    ),
    (
        "gke_version_below_v6e_minimum",
        _set(llm, "minMasterVersion", "1.30.5-gke.100"),
        "config key gke-tpu-serving:clusters[1].minMasterVersion: GKE version '1.30.5-gke.100' is below 1.31.2-gke.1115000, the minimum for TPU v6e",
    ),
    (
        "gke_version_below_ray_addon_minimum",
        _set(sd, "minMasterVersion", "1.29.1-gke.100"),
        "config key gke-tpu-serving:clusters[0].minMasterVersion: GKE version '1.29.1-gke.100' is below 1.30.0-gke.1747000, the minimum for the Ray add-on",
    ),
    (
        "tpu_generation_unknown",
        _set(_v4, "generation", "v7"),
        "config key gke-tpu-serving:clusters[0].tpuPools[0].generation: 'v7' is not allowed; allowed: v4, v5e, v5p, v6e, tpu7x",
    ),
    (
        "tpu_machine_type_of_another_generation",
        _set(_v4, "machineType", "ct5lp-hightpu-4t"),
        "config key gke-tpu-serving:clusters[0].tpuPools[0].machineType: machine type 'ct5lp-hightpu-4t' is not a TPU v4 machine type; allowed: ct4p-hightpu-4t",
    ),
    (
        "tpu_topology_not_for_machine_type",
        _set(_v5e, "topology", "4x4x4"),
        "config key gke-tpu-serving:clusters[1].tpuPools[0].topology: topology '4x4x4' is not valid for TPU v5e on ct5lp-hightpu-4t; allowed: 2x2 (single-host), 2x4, 4x4, 4x8, 8x8, 8x16, 16x16 (multi-host)",
    ),
    (
        "tpu_topology_malformed",
        _set(_v5e, "topology", "4by8"),
        "config key gke-tpu-serving:clusters[1].tpuPools[0].topology: topology '4by8' is not valid for TPU v5e on ct5lp-hightpu-4t; allowed: 2x2 (single-host), 2x4, 4x4, 4x8, 8x8, 8x16, 16x16 (multi-host)",
    ),
    (
        "tpu_pool_key_missing",
        _drop(_v5e, "topology"),
        "config key gke-tpu-serving:clusters[1].tpuPools[0].topology: missing; required keys: name, generation, machineType, topology",
    ),
    (
        "tpu_pool_key_misspelt",
        _set(_v6e, "minNode", 1),
        "config key gke-tpu-serving:clusters[1].tpuPools[1].minNode: unknown key (did you mean minNodes?); allowed: name, generation, machineType, topology, zone, slices, minNodes, maxNodes, spot, reservation, flexStart, queuedProvisioning, fallback, maxRunDuration",
    ),
    (
        "tpu_pool_flex_start_and_spot",
        lambda raw: _v6e(raw).update(spot=True, flexStart=True),
        "config key gke-tpu-serving:clusters[1].tpuPools[1].flexStart: true, but the pool also asks for spot: flex start nodes are a provisioning model of their own, with no reservation and no Spot VMs; allowed: one of spot, reservation, flex start, queued provisioning (or none: on demand)",
    ),
    (
        "llama_on_a_queued_provisioning_pool",
        lambda raw: _v6e(raw).update(queuedProvisioning=True, minNodes=0),
        "config key gke-tpu-serving:llama.pool: 'v6e-2x4' is a queued provisioning pool, whose nodes GKE creates only for a ProvisioningRequest, and llama creates none; allowed: a pool without queuedProvisioning (flexStart obtains nodes for pending pods)",
    ),
    (
        "tpu_zone_does_not_offer_generation",
        _set(_v5e, "zone", "us-central1-b"),
        "config key gke-tpu-serving:clusters[1].tpuPools[0].zone: zone 'us-central1-b' does not offer TPU v5e; allowed: us-central1-a, us-south1-a, us-west1-c, us-west4-a, us-east1-c, us-east5-b, europe-west4-b, asia-southeast1-b",
    ),
    (
        "tpu_zone_outside_cluster_region",
        _set(_v6e, "zone", "us-east1-d"),
        "config key gke-tpu-serving:clusters[1].tpuPools[1].zone: zone 'us-east1-d' is not in the cluster's region 'us-central1'",
    ),
    (
        "tpu_zone_not_a_zone",
        _set(_v6e, "zone", "us-central1"),
        "config key gke-tpu-serving:clusters[1].tpuPools[1].zone: 'us-central1' is not a GCP zone; allowed: e.g. 'us-central1-a'",
    ),
    (
        "zonal_cluster_zone_does_not_offer_generation",
        _set(sd, "location", "us-central1-a"),
        "config key gke-tpu-serving:clusters[0].tpuPools[0].zone: zone 'us-central1-a' does not offer TPU v4; allowed: us-central2-b",
    ),
    (
        "regional_cluster_region_does_not_offer_generation",
        _set(sd, "location", "us-east1"),
        "config key gke-tpu-serving:clusters[0].tpuPools[0].zone: no zone of region 'us-east1' offers TPU v4; allowed: us-central2-b",
    ),
    (
        "min_nodes_greater_than_max_nodes",
        _set(_v6e, "minNodes", 3),
        "config key gke-tpu-serving:clusters[1].tpuPools[1].minNodes: 3 is more than the maximum node count, 2; allowed: 0 to 2",
    ),
    (
        "min_nodes_negative",
        _set(_v6e, "minNodes", -1),
        "config key gke-tpu-serving:clusters[1].tpuPools[1].minNodes: -1 is not allowed; allowed: an integer >= 0",
    ),
    (
        "max_nodes_not_an_integer",
        _set(_v6e, "maxNodes", "two"),
        "config key gke-tpu-serving:clusters[1].tpuPools[1].maxNodes: 'two' is not allowed; allowed: an integer",
    ),
    (
        "max_nodes_boolean",
        _set(_v6e, "maxNodes", True),
        "config key gke-tpu-serving:clusters[1].tpuPools[1].maxNodes: True is not allowed; allowed: an integer",
    ),
    (
        "multi_host_max_nodes_not_the_slice",
        _set(_v5e, "maxNodes", 4),
        "config key gke-tpu-serving:clusters[1].tpuPools[0].maxNodes: 4 does not match the slice: TPU v5e 4x8 on ct5lp-hightpu-4t has 8 hosts and scales as one; allowed: 8",
    ),
    (
        "multi_host_min_nodes_splits_the_slice",
        _set(_v5e, "minNodes", 3),
        "config key gke-tpu-serving:clusters[1].tpuPools[0].minNodes: 3 would split a multi-host slice of 8 hosts; allowed: 0 (scale to zero) or 8",
    ),
    (
        "slices_on_single_host_topology",
        _set(_v6e, "slices", 2),
        "config key gke-tpu-serving:clusters[1].tpuPools[1].slices: 2 slices of a single-host 2x4 topology; allowed: 1 (single-host slices are nodes of one pool: set its minimum and maximum node counts instead)",
    ),
    (
        "slices_zero",
        _set(_v5e, "slices", 0),
        "config key gke-tpu-serving:clusters[1].tpuPools[0].slices: 0 is not allowed; allowed: an integer >= 1",
    ),
    (
        "pool_name_too_long_with_slice_suffix",
        _set(_v5e, "name", "v" * 39),
        "config key gke-tpu-serving:clusters[1].tpuPools[0].name: 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv-0' is not a valid GKE name; allowed: 1-40 characters of lowercase letters, digits and '-', starting with a letter and not ending with '-'",
    ),
    (
        "pool_name_used_twice",
        _set(_v6e, "name", "v5e-4x8-1"),
        "config key gke-tpu-serving:clusters[1].tpuPools: node pool name 'v5e-4x8-1' is used twice or reserved; allowed: unique names other than system, default-pool",
    ),
    (
        "pool_name_reserved",
        _set(_v4, "name", "system"),
        "config key gke-tpu-serving:clusters[0].tpuPools: node pool name 'system' is used twice or reserved; allowed: unique names other than system, default-pool",
    ),
    (
        "node_service_account_id_too_short",
        _set(sd, "nodeServiceAccountId", "sa"),
        "config key gke-tpu-serving:clusters[0].nodeServiceAccountId: 'sa' is not a valid service account id; allowed: 6-30 characters matching ^[a-z][-a-z0-9]*[a-z0-9]$",
    ),
    (
        "derived_node_service_account_id_too_long",
        _set(llm, "name", "llm-serving-us-central1-x"),
        "config key gke-tpu-serving:clusters[1].nodeServiceAccountId: 'llm-serving-us-central1-x-nodes' is not a valid service account id; allowed: 6-30 characters matching ^[a-z][-a-z0-9]*[a-z0-9]$ (the default, derived from the cluster name; set a shorter id explicitly)",
    ),
    (
        "gpu_type_unknown",
        _add_gpu_pool(acceleratorType="nvidia-a10"),
        "config key gke-tpu-serving:clusters[1].gpuPools[0].acceleratorType: 'nvidia-a10' is not allowed; allowed: nvidia-l4, nvidia-tesla-t4, nvidia-tesla-a100, nvidia-a100-80gb, nvidia-h100-80gb",
    ),
    (
        "gpu_machine_without_that_gpu",
        _add_gpu_pool(machineType="a2-highgpu-1g"),
        "config key gke-tpu-serving:clusters[1].gpuPools[0].machineType: machine type 'a2-highgpu-1g' does not carry nvidia-l4 GPUs; allowed: g2-standard-4, g2-standard-8, g2-standard-12, g2-standard-16, g2-standard-24, g2-standard-32, g2-standard-48, g2-standard-96",
    ),
    (
        "gpu_min_nodes_greater_than_max_nodes",
        _add_gpu_pool(minNodes=2, maxNodes=1),
        "config key gke-tpu-serving:clusters[1].gpuPools[0].minNodes: 2 is more than the maximum node count, 1; allowed: 0 to 1",
    ),
    (
        "labels_not_a_mapping",
        _set(sd, "labels", ["team"]),
        "config key gke-tpu-serving:clusters[0].labels: ['team'] is not allowed; allowed: a mapping of strings",
    ),
    (
        "scenario_cluster_unknown",
        _set(lambda raw: raw["llama"], "cluster", "prod"),
        "config key gke-tpu-serving:llama.cluster: 'prod' is not a cluster of this stack; allowed: sd-v4, llm-us-central1",
    ),
    (
        "scenario_pool_unknown",
        _set(lambda raw: raw["llama"], "pool", "v6e"),
        "config key gke-tpu-serving:llama.pool: 'v6e' is not an accelerator pool of cluster 'llm-us-central1'; allowed: v5e-4x8, v6e-2x4",
    ),
    (
        "scenario_key_misspelt",
        _set(lambda raw: raw["saxml"], "replicas", 2),
        "config key gke-tpu-serving:saxml.replicas: unknown key; allowed: tenant, cluster, pool, namespace, bucket, protectBucket, clientNamespaces, httpServerImage, adminServerImage, modelServerImage, cell, models, maxRestarts, exposure, installJobset",
    ),
    (
        "stable_diffusion_without_ray_addon",
        _set(sd, "rayOperator", False),
        "config key gke-tpu-serving:clusters[0].rayOperator: false, but stableDiffusion runs a RayService on cluster 'sd-v4'; allowed: true",
    ),
    (
        "saxml_on_single_host_pool",
        _set(lambda raw: raw["saxml"], "pool", "v6e-2x4"),
        "config key gke-tpu-serving:saxml.pool: 'v6e-2x4' is not a multi-host TPU pool; allowed: a tpuPools entry whose topology spans several hosts (Saxml's model servers run as one JobSet job per multi-host slice)",
    ),
    (
        "llama_on_multi_host_pool",
        _set(lambda raw: raw["llama"], "pool", "v5e-4x8"),
        "config key gke-tpu-serving:llama.pool: 'v5e-4x8' is not a single-host TPU pool; allowed: a tpuPools entry with a single-host topology (vLLM's tensor parallelism spans the chips of one host)",
    ),
    (
        "llama_without_gcs_fuse",
        _set(llm, "gcsFuseCsi", False),
        "config key gke-tpu-serving:clusters[1].gcsFuseCsi: false, but llama reads its weights through GCS FUSE on cluster 'llm-us-central1'; allowed: true",
    ),
    (
        "autopilot_with_node_pool_bounds",
        _set(llm, "mode", "autopilot"),
        "config key gke-tpu-serving:clusters[1].tpuPools[1].minNodes: 1 is not allowed on Autopilot, which creates nodes for pending pods and removes idle ones; allowed: leave it out (the maximum node count still bounds the replicas placed on the pool)",
    ),
    (
        "autopilot_cluster_in_a_zone",
        _set(sd, "mode", "autopilot"),
        "config key gke-tpu-serving:clusters[0].location: 'us-central2-b' is a zone, but Autopilot clusters are regional; allowed: a region, e.g. 'us-central2' (a pool's zone pins its pods to one zone)",
    ),
    # One spelling per key: the camelCase the README documents; a key is reported as the user wrote it.
    (
        "snake_case_key",
        lambda raw: raw["llama"].update(max_model_len=raw["llama"].pop("maxModelLen")),
        f"config key gke-tpu-serving:llama.max_model_len: unknown key (did you mean maxModelLen? keys are camelCase); allowed: {LLAMA_ALLOWED}",
    ),
    (
        "key_in_two_spellings",
        _set(_v6e, "max_nodes", 1),
        "config key gke-tpu-serving:clusters[1].tpuPools[1].max_nodes: another spelling of maxNodes, which is also set; allowed: maxNodes alone (keys are camelCase)",
    ),
    (
        "key_in_another_case",
        _set(_v6e, "MaxNodes", 1),
        "config key gke-tpu-serving:clusters[1].tpuPools[1].MaxNodes: another spelling of maxNodes, which is also set; allowed: maxNodes alone (keys are camelCase)",
    ),
    (
        "unknown_snake_case_key_named_as_written",
        _set(lambda raw: raw["llama"], "llama_config", {}),
        f"config key gke-tpu-serving:llama.llama_config: unknown key; allowed: {LLAMA_ALLOWED}",
    ),
    (
        "top_level_snake_case_key",
        lambda raw: raw.update(stable_diffusion=raw.pop("stableDiffusion")),
        f"config key gke-tpu-serving:stable_diffusion: unknown key (did you mean stableDiffusion? keys are camelCase); allowed: {TOP_ALLOWED}",
    ),
    (
        "label_key_named_as_written",
        _set(sd, "labels", {"cost_center": 7}),
        "config key gke-tpu-serving:clusters[0].labels.cost_center: 7 is not allowed; allowed: a string",
    ),
    (
        "instance_name_on_the_single_mapping_form",
        _set(lambda raw: raw["llama"], "name", "chat"),
        "config key gke-tpu-serving:llama.name: set on a single instance; allowed: a name on each entry of a list of instances (`llama: [{name: ..., cluster: ..., ...}]`)",
    ),
    (
        "listed_instance_key_misspelt",
        lambda raw: raw.update(llama=[{**raw["llama"], "name": "chat", "maxReplica": 1}]),
        f"config key gke-tpu-serving:llama[0].maxReplica: unknown key (did you mean maxReplicas?); allowed: {'name, ' + LLAMA_ALLOWED}",
    ),
    (
        "cluster_location_neither_region_nor_zone",
        _set(sd, "location", "sd-l4"),
        "config key gke-tpu-serving:clusters[0].location: 'sd-l4' is not a GCP region or zone; allowed: e.g. 'us-central1' or 'us-central1-a'",
    ),
    (
        "cluster_location_misspelt_region",
        _set(llm, "location", "us-centrl1"),
        "config key gke-tpu-serving:clusters[1].location: 'us-centrl1' is not a GCP region or zone; allowed: e.g. 'us-central1' or 'us-central1-a'",
    ),
    (
        "image_registry_location_misspelt_region",
        _set(_root, "imageRegistryLocation", "europe-wset4"),
        "config key gke-tpu-serving:imageRegistryLocation: 'europe-wset4' is not a GCP region; allowed: e.g. 'us-central1': a geography (africa, asia, australia, europe, me, northamerica, southamerica, us), '-', a direction (central, east, north, northeast, south, southeast, southwest, west) and a number",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_is_rejected_with_its_key_value_and_allowed_values(
    mutate: Callable[[dict[str, Any]], None], message: str
) -> None:
    raw, project = dev_config()
    raw = copy.deepcopy(raw)
    mutate(raw)
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        parse(raw, project, DEV_SECRETS)


def test_missing_gcp_project_is_rejected() -> None:
    raw, _ = dev_config()
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "config key gcp:project is missing; set it with `pulumi config set gcp:project YOUR_PROJECT_ID`"
        ),
    ):
        parse(raw, None)


def test_malformed_gcp_project_is_rejected() -> None:
    raw, _ = dev_config()
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "config key gcp:project: 'My_Project' is not a GCP project id; allowed: 6-30 characters of lowercase "
            "letters, digits and '-', starting with a letter"
        ),
    ):
        parse(raw, "My_Project")


def test_staging_weights_needs_the_hf_token_secret() -> None:
    raw, project = dev_config()
    raw["llama"]["stageWeights"] = True
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "config key gke-tpu-serving:llama.stageWeights: true, but the hfToken secret is not set; allowed: false, "
            "or set it with `pulumi config set --secret hfToken ...` (Llama's weights are gated)"
        ),
    ):
        parse(raw, project)
    assert parse(raw, project, frozenset({"hfToken"})).instance("llama").settings["stage_weights"] is True


def test_a_llama_load_balancer_with_the_api_key_secret_is_accepted() -> None:
    raw, project = dev_config()
    raw["llama"]["exposure"] = "public-load-balancer"
    settings = parse(raw, project, DEV_SECRETS | {"apiKey"}).instance("llama").settings
    assert settings["exposure"] is Exposure.PUBLIC_LOAD_BALANCER


def test_invalid_derived_bucket_name_says_it_was_derived() -> None:
    raw, _ = dev_config()
    project = "my-google-project"  # a valid project id, but bucket names must not contain "google"
    with pytest.raises(
        ConfigError,
        match=re.escape(
            f"config key gke-tpu-serving:stableDiffusion.bucket: '{project}-dev-stablediffusion-weights' is not a valid "
            "bucket name; allowed: "
            "3-63 characters of lowercase letters, digits, '-' and '_', starting and ending with a letter or digit, "
            "without a 'goog' prefix or 'google' inside (the default, derived from gcp:project and the stack; set bucket)"
        ),
    ):
        parse(raw, project, DEV_SECRETS)


def test_there_are_at_least_thirty_distinct_bad_config_cases() -> None:
    assert len({message for _, _, message in BAD_CONFIGS}) >= 30


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            "gke_tpu_serving:llama",
            "config key gke_tpu_serving:llama: namespace 'gke_tpu_serving' is not this project's nor a provider's "
            "(did you mean gke-tpu-serving:llama?); allowed namespaces: gke-tpu-serving, gcp, pulumi, offline",
        ),
        (
            "gke-tpu-server:llama",
            "config key gke-tpu-server:llama: namespace 'gke-tpu-server' is not this project's nor a provider's "
            "(did you mean gke-tpu-serving:llama?); allowed namespaces: gke-tpu-serving, gcp, pulumi, offline",
        ),
        (
            "gpc:region",
            "config key gpc:region: namespace 'gpc' is not this project's nor a provider's (did you mean gcp:region?); "
            "allowed namespaces: gke-tpu-serving, gcp, pulumi, offline",
        ),
        (
            "aws:region",
            "config key aws:region: namespace 'aws' is not this project's nor a provider's; allowed namespaces: "
            "gke-tpu-serving, gcp, pulumi, offline",
        ),
        (
            "kubernetes:context",
            "config key kubernetes:context: never read: every Kubernetes resource of this program goes through the "
            "provider built from its cluster's kubeconfig, which stack config does not configure; allowed: remove it",
        ),
    ],
)
def test_a_key_in_a_namespace_nothing_reads_is_refused(key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        check_namespaces({"gcp:project", "gke-tpu-serving:clusters", key})


def test_the_project_gcp_and_pulumi_namespaces_are_read() -> None:
    check_namespaces({"gke-tpu-serving:clusters", "gcp:project", "gcp:region", "pulumi:disable-default-providers"})


def _preview_error(tmp_path: Path, stack_text: str) -> str:
    """The message the offline preview prints for the program run with this stack file."""
    program_with_stacks(tmp_path, {"probe": stack_text})
    with pytest.raises(Exception) as raised:
        run_program(tmp_path, "probe")
    message = input_error_message(raised.value)
    assert message is not None, raised.value
    return message


def test_a_misspelt_namespace_does_not_drop_the_scenario(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.dev.yaml").read_text().replace("gke-tpu-serving:llama:", "gke_tpu_serving:llama:")
    assert _preview_error(tmp_path, text) == (
        "config key gke_tpu_serving:llama: namespace 'gke_tpu_serving' is not this project's nor a provider's "
        "(did you mean gke-tpu-serving:llama?); allowed namespaces: gke-tpu-serving, gcp, pulumi, offline"
    )


def test_two_spellings_of_a_pool_key_are_refused_in_the_program(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.gpu.yaml").read_text().replace("maxNodes: 2", "maxNodes: 4\n          max_nodes: 2")
    assert _preview_error(tmp_path, text) == (
        "config key gke-tpu-serving:clusters[0].gpuPools[0].max_nodes: another spelling of maxNodes, which is also "
        "set; allowed: maxNodes alone (keys are camelCase)"
    )


def test_a_gpu_cluster_named_as_its_location_is_refused(tmp_path: Path) -> None:
    text = (ROOT / "Pulumi.gpu.yaml").read_text().replace("location: us-central1-a", "location: sd-l4")
    assert _preview_error(tmp_path, text) == (
        "config key gke-tpu-serving:clusters[0].location: 'sd-l4' is not a GCP region or zone; allowed: e.g. "
        "'us-central1' or 'us-central1-a'"
    )


def test_an_unknown_stack_lists_the_stack_files_that_exist() -> None:
    with pytest.raises(ProjectError) as raised:
        run_program(ROOT, "prod")
    assert str(raised.value) == (
        f"stack 'prod': {ROOT / 'Pulumi.prod.yaml'} does not exist; allowed: autopilot, dev, gpu, teams "
        "(the Pulumi.<stack>.yaml files there)"
    )


@pytest.mark.parametrize(
    "region",
    [
        "us-central1",
        "us-central2",
        "europe-west12",
        "me-central2",
        "africa-south1",
        "northamerica-northeast2",
        "australia-southeast2",
        "southamerica-west1",
        "asia-northeast3",
        "europe-southwest1",
        "europe-north2",
    ],
)
def test_regions_google_lists_are_regions(region: str) -> None:
    check_region(region)
