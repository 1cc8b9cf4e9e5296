"""Saxml serving a 175B model on multi-host TPU v5e slices through JobSet.

The namespace, the `sax-sa` Kubernetes ServiceAccount impersonating a Google service account (the seed's setup), the
state bucket (gs://BUCKET/sax-root) it writes, the JobSet controller (once per cluster, unless the cluster has it),
and the Saxml cell: admin server, one model server per slice of the placement's pool, HTTP server, and the models
the config lists, published by `pulumi up`.
"""

import json
from typing import Any, NotRequired, cast

import pulumi

from gke_tpu_serving import (
    BucketAccess,
    Exposure,
    SaxmlJobSet,
    SaxmlJobSetArgs,
    SaxmlModelArgs,
    WorkloadIdentityMode,
)
from gke_tpu_serving.cluster.control_plane import credentials_command
from gke_tpu_serving.errors import ArgError
from gke_tpu_serving.saxml.saxml_jobset import (
    HTTP_PORT,
    check_autopilot_model_servers,
    check_saxml_args,
    http_service_name,
)
from gke_tpu_serving.saxml.saxml_models import DEFAULT_CELL, admin_token_secret_name
from gke_tpu_serving.tenancy.quota import Resources

from ..images import SAXML_HTTP_SERVER
from ..ingress import deploy_ingress_policy
from ..model import DeployContext, Placement, Scenario, StackInfo, StorageScenarioConfig, StorageSpec, config_error
from ..placement import (
    autopilot_args,
    autopilot_refusal,
    check_image,
    check_prebuilt,
    deployed_image,
    placement_outputs,
    refuse_unauthenticated_exposure,
    tpu_capacity_args,
)
from ..storage import bucket_name, check_storage, deploy_bucket, deploy_identity, grant_for, storage_outputs
from ..tokens import generated_token
from ..typed import passed_through

STORAGE = StorageSpec(
    default_namespace="saxml",
    service_account="sax-sa",
    mode=WorkloadIdentityMode.IMPERSONATE,
    access=BucketAccess.WRITE,  # the admin server keeps the cell's state there
    bucket_role="state",
)
CELL_NAME = "saxml"
"""The cell's servers of the unnamed instance; a named instance appends `-<name>`."""


class Config(StorageScenarioConfig):
    """gke-tpu-serving:saxml: the cluster and multi-host TPU pool, the namespace, the state bucket and the cell."""

    http_server_image: NotRequired[str]
    """A prebuilt HTTP server image (workloads/saxml/http_server; it carries the publishing client), pinned by digest
    or tag. Default: `pulumi up` builds it and pushes it to the stack's repository."""
    admin_server_image: NotRequired[str]
    """Admin server image. Default: Cloud TPU's sax-admin-server at the pinned Saxml release."""
    model_server_image: NotRequired[str]
    """Model server image. Default: Cloud TPU's sax-model-server at the pinned Saxml release."""
    cell: NotRequired[str]
    """The Saxml cell, /sax/NAME. Default: /sax/test."""
    models: NotRequired[list[SaxmlModelArgs]]
    """Models the cell serves, published by `pulumi up`; the cell's other models are unpublished. Default: none
    listed, nothing published or unpublished."""
    max_restarts: NotRequired[int]
    """JobSet failure policy: how many times all model servers are recreated after a failure. Default: 10."""
    exposure: NotRequired[Exposure]
    """The HTTP server's Service: cluster-ip, the default and the only one allowed (the HTTP server does not
    authenticate /generate). To reach it from outside the cluster, deploy the instance into a tenant and route its
    HTTP Service through the tenant's gateway, which puts Identity-Aware Proxy in front."""
    install_jobset: NotRequired[bool]
    """Install the JobSet controller on the cluster (one per cluster). false when the cluster already has JobSet
    v0.2.3 or later. Default: true."""


# Config keys the cell takes as they are: every key the two types share except those _cell_args sets itself.
_PASSED_THROUGH = passed_through(Config, SaxmlJobSetArgs, set_by_scenario=("namespace", "bucket", "http_server_image"))

# Cell args that have no config key of their own point at the key that decides them.
_CONFIG_KEY_OF_ARG = {
    "tpu_generation": "pool",
    "tpu_machine_type": "pool",
    "tpu_topology": "pool",
    "slices": "pool",
    "tpu_spot": "pool",
    "tpu_reservation": "pool",
    "tpu_compute_class": "pool",
    "tpu_zone": "pool",
}


def _cell_args(placement: Placement, stack: StackInfo, http_server_image: pulumi.Input[str]) -> SaxmlJobSetArgs:
    shape = placement.tpu_pools[0].tpu_slice
    # Assembled from config keys the Config type has already checked.
    args: dict[str, Any] = {
        "namespace": placement.namespace,
        "service_account_name": STORAGE.service_account,
        "bucket": bucket_name(placement, stack),
        "tpu_generation": shape.generation,
        "tpu_machine_type": shape.machine_type,
        "tpu_topology": shape.topology,
        # One node pool per slice: each runs one model server.
        "slices": len(placement.tpu_pools),
        "http_server_image": http_server_image,
    }
    args.update(autopilot_args(placement) | tpu_capacity_args(placement))
    for key in _PASSED_THROUGH:
        if key in placement.settings:
            args[key] = placement.settings[key]
    return cast(SaxmlJobSetArgs, args)


def check(placement: Placement, stack: StackInfo, secret_keys: frozenset[str]) -> None:
    """Saxml's model servers run as one JobSet job per multi-host slice."""
    if not placement.tpu_pools or not placement.tpu_pools[0].tpu_slice.multi_host:
        raise config_error(
            placement.at("pool"),
            f"{placement.pool!r} is not a multi-host TPU pool; allowed: a tpuPools entry whose topology spans "
            "several hosts (Saxml's model servers run as one JobSet job per multi-host slice)",
        )
    check_storage(placement, stack)
    refuse_unauthenticated_exposure(placement, "the Saxml HTTP server (/generate, /publish, /unpublish)")
    for key in ("admin_server_image", "model_server_image"):
        check_prebuilt(placement, key)
    args = _cell_args(placement, stack, check_image(placement, "http_server_image", SAXML_HTTP_SERVER))
    try:
        settings = check_saxml_args(args)
    except ArgError as error:
        key = str(error.path[0])
        raise config_error(placement.at(_CONFIG_KEY_OF_ARG.get(key, key), *error.path[1:]), error.reason) from None
    try:
        check_autopilot_model_servers(placement.physical(CELL_NAME), args, settings)
    except ArgError as error:
        raise autopilot_refusal(placement, error) from None


def demand(placement: Placement, stack: StackInfo) -> Resources:
    """Every chip of every slice the cell runs on."""
    return Resources(tpu_chips=sum(pool.max_chips for pool in placement.tpu_pools))


def deploy(placement: Placement, context: DeployContext) -> dict[str, Any]:
    """Deploy the instance onto its cluster; returns its stack outputs."""
    identity = deploy_identity(placement, context)
    # The admin, model and HTTP servers reach each other inside the namespace; the JobSet controller only works
    # through the API server, never on the pods.
    deploy_ingress_policy(placement, context, serving_port=HTTP_PORT, after=identity)
    bucket = deploy_bucket(placement, context.stack, [grant_for(identity, placement)])
    needs: list[pulumi.Resource] = [identity, bucket]
    if placement.settings.get("install_jobset", True):
        needs.append(context.addons.jobset_controller())
    args = _cell_args(
        placement, context.stack, deployed_image(placement, context, "http_server_image", SAXML_HTTP_SERVER)
    )
    args["service_account_name"] = identity.service_account_name
    # /publish, /update and /unpublish answer only the cell's own publishing Job (and whoever reads the Secret).
    args["admin_token"] = generated_token(f"{placement.resource_prefix}-admin-token")
    cell = SaxmlJobSet(
        placement.physical(CELL_NAME),
        args,
        opts=pulumi.ResourceOptions(provider=context.cluster.kubernetes_provider, depends_on=needs),
    )
    return (
        placement_outputs(placement)
        | storage_outputs(identity, bucket)
        | {
            "cell": cell.cell,
            "url": cell.http_url,
            "jobSet": cell.jobset_name,
            # `pulumi up` does not wait for a custom resource to run: this shows the model servers' progress.
            "watch": pulumi.Output.concat("kubectl -n ", args["namespace"], " get jobset ", cell.jobset_name, " -w"),
            "commands": commands(placement),
        }
    )


# The prompt of the Saxml multi-host sample's /generate request (kubernetes-sigs/lws@93f5e011
# docs/examples/saxml/README.md, "Serve the Model", the model /sax/test/spmd; read 2026-12-07). The dev stack's test
# model loads no checkpoint: its answer shows the path works, not what a model knows.
EXAMPLE_QUERY = "How many days are in a week?"


def _curl(method: str, path: str, body: dict[str, str]) -> str:
    """A request as the GKE Saxml tutorial's curl commands send it: JSON body, through a port-forward."""
    return (
        f"curl --request {method} --header 'Content-type: application/json' --silent "
        f"localhost:{HTTP_PORT}/{path} --data '{json.dumps(body)}'"
    )


def commands(placement: Placement) -> dict[str, str]:
    """The follow-up commands with this instance's names: credentials, a port-forward to the HTTP server, the cell's
    models (listall) and, for the first model the stack publishes, listcell and generate; the admin token's read."""
    namespace, cell_name = placement.namespace, placement.physical(CELL_NAME)
    cluster, ports = placement.cluster, f"{HTTP_PORT}:{HTTP_PORT}"
    result = {
        "credentials": credentials_command(cluster.name, cluster.plan.location),
        "portForward": f"kubectl -n {namespace} port-forward svc/{http_service_name(cell_name)} {ports}",
        "listall": _curl("GET", "listall", {"sax_cell": placement.settings.get("cell", DEFAULT_CELL)}),
        # /publish, /update and /unpublish by hand (saxml_client reads SAXML_ADMIN_TOKEN) need the token.
        "adminToken": f"kubectl -n {namespace} get secret {admin_token_secret_name(cell_name)} "
        "-o jsonpath='{.data.SAXML_ADMIN_TOKEN}' | base64 -d",
    }
    models = placement.settings.get("models") or []
    if models:
        model = models[0]["model"]
        result["listcell"] = _curl("GET", "listcell", {"model": model})
        result["generate"] = _curl("POST", "generate", {"model": model, "query": EXAMPLE_QUERY})
    return result


SCENARIO = Scenario(key="saxml", config_type=Config, storage=STORAGE, check=check, demand=demand, deploy=deploy)
