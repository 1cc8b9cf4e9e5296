"""SaxmlModels: the models a Saxml cell serves, published declaratively by `pulumi up`."""

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from gke_tpu_serving.errors import ArgError, component_errors, require_int
from gke_tpu_serving.k8s.pods import restricted_container_security_context, restricted_pod_security_context
from gke_tpu_serving.names import check_dns_label, check_pinned_image
from gke_tpu_serving.options import inherited_dependencies

MODELS_DIR = "/etc/saxml"
MODELS_FILE = "models.json"
DEFAULT_CELL = "/sax/test"
# Saxml's own naming rule for cells and models (saxml/common/naming.go).
_SAX_NAME = "[a-z][a-z0-9_-]*"
_CELL = re.compile(rf"^/sax/{_SAX_NAME}$")
_MODEL_NAME = re.compile(rf"^{_SAX_NAME}$")
_PYTHON_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


class SaxmlModelArgs(TypedDict):
    """A model the cell serves."""

    model: str
    """Full name of the model, CELL/NAME, e.g. /sax/test/spmd."""
    model_path: str
    """The model's serving parameters in Saxml's registry, e.g.
    saxml.server.pax.lm.params.lm_cloud.LmCloudSpmd175B32Test."""
    checkpoint: NotRequired[str]
    """The checkpoint to load: None (the parameters' own initial weights, for test models) or a gs:// path.
    Default: None."""
    replicas: NotRequired[int]
    """How many model servers load it; each replica takes one model server. Default: 1."""


class SaxmlModelsArgs(TypedDict):
    """Arguments of SaxmlModels."""

    namespace: str
    """Namespace of the cell's HTTP server (it must exist)."""
    image: pulumi.Input[str]
    """The Saxml HTTP server image (workloads/saxml/http_server), which carries the client that publishes; pinned
    by tag or digest."""
    server_url: str
    """URL of the cell's HTTP server, e.g. http://saxml-http.saxml.svc:8888."""
    cell: NotRequired[str]
    """The Saxml cell, /sax/NAME. Every model of this cell that is not listed is unpublished. Default: /sax/test."""
    models: list[SaxmlModelArgs]
    """The models the cell serves, each once."""
    admin_token_secret: NotRequired[pulumi.Input[str]]
    """A Secret holding the HTTP server's admin token under the key SAXML_ADMIN_TOKEN (SaxmlJobSet's
    `<name>-admin-token`): the publishing client sends it as `Authorization: Bearer <token>`. Default: none (the
    server's admin endpoints are open)."""
    timeout_minutes: NotRequired[int]
    """How long `pulumi up` waits for the servers to answer and the models to be published. Default: 30."""


def check_cell(cell: object) -> str:
    if not isinstance(cell, str) or not _CELL.match(cell):
        raise ArgError(
            ("cell",),
            f"{cell!r} is not a Saxml cell; allowed: /sax/NAME, NAME of lowercase letters, digits, '-' and '_' "
            "starting with a letter",
        )
    return cell


def models_document(cell: str, models: Sequence[SaxmlModelArgs], max_replicas: int | None = None) -> dict[str, Any]:
    """The models file the client's `sync` reads: the cell and its models with defaults resolved. ArgError (under
    `models[i]`) for a bad model; `max_replicas` is the number of model servers, if known."""
    if not isinstance(models, list):
        raise ArgError(("models",), f"{models!r} is not allowed; allowed: a list of models")
    entries: list[dict[str, Any]] = []
    for index, model in enumerate(models):
        at: tuple[str | int, ...] = ("models", index)
        name = model.get("model")
        if not isinstance(name, str) or not name.startswith(f"{cell}/") or not _MODEL_NAME.match(name[len(cell) + 1 :]):
            raise ArgError(
                (*at, "model"),
                f"{name!r} is not a model of cell {cell}; allowed: {cell}/NAME, NAME of lowercase letters, digits, "
                "'-' and '_' starting with a letter",
            )
        if any(entry["model"] == name for entry in entries):
            raise ArgError((*at, "model"), f"{name!r} is listed twice; allowed: each model once")
        path = model.get("model_path")
        if not isinstance(path, str) or not _PYTHON_PATH.match(path):
            raise ArgError(
                (*at, "model_path"),
                f"{path!r} is not a registered model path; allowed: a dotted Python path such as "
                "saxml.server.pax.lm.params.lm_cloud.LmCloudSpmd175B32Test",
            )
        checkpoint = model.get("checkpoint", "None")
        if not isinstance(checkpoint, str) or not (checkpoint == "None" or checkpoint.startswith("gs://")):
            raise ArgError((*at, "checkpoint"), f"{checkpoint!r} is not allowed; allowed: None or a gs:// path")
        replicas = require_int((*at, "replicas"), model.get("replicas", 1), minimum=1)
        if max_replicas is not None and replicas > max_replicas:
            raise ArgError(
                (*at, "replicas"),
                f"{replicas} is more than the {max_replicas} model servers (each replica takes one); "
                f"allowed: 1 to {max_replicas}",
            )
        entries.append({"model": name, "model_path": path, "checkpoint": checkpoint, "replicas": replicas})
    return {"cell": cell, "models": entries}


def _validate(args: SaxmlModelsArgs) -> dict[str, Any]:
    for key, check in (("namespace", check_dns_label), ("image", check_pinned_image)):
        check(args.get(key), at=(key,))
    url = args.get("server_url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ArgError(("server_url",), f"{url!r} is not allowed; allowed: an http:// or https:// URL")
    require_int(("timeout_minutes",), args.get("timeout_minutes", 30), minimum=1)
    return models_document(check_cell(args.get("cell", DEFAULT_CELL)), args.get("models"))


def sync_job_name(name: str, models_json: str, image: str, server_url: str) -> str:
    """`<name>-sync-<hash of the models, the image and the server>`: any change replaces the Job, so `pulumi up` runs it
    again. ArgError (judging the resource name: no path) when that is not a DNS-1123 label."""
    digest = hashlib.sha256(json.dumps([models_json, image, server_url]).encode()).hexdigest()[:10]
    job_name = f"{name}-sync-{digest}"
    try:
        check_dns_label(job_name)
    except ArgError as error:
        raise ArgError((), f"{error.reason} (the Job's name, with its hash)") from None
    return job_name


ADMIN_TOKEN_ENV = "SAXML_ADMIN_TOKEN"
"""Where the HTTP server (workloads/saxml/http_server/saxml_http/guards.py) and its client (saxml_client/cli.py) read
the admin token; also the key of the Secret that holds it."""


def admin_token_secret_name(cell_name: str) -> str:
    """The Secret in which SaxmlJobSet `cell_name` keeps its HTTP server's admin token."""
    return f"{cell_name}-admin-token"


def _admin_token_env(args: SaxmlModelsArgs) -> list[k8s.core.v1.EnvVarArgs] | None:
    if "admin_token_secret" not in args:
        return None
    secret = k8s.core.v1.SecretKeySelectorArgs(name=args["admin_token_secret"], key=ADMIN_TOKEN_ENV)
    return [
        k8s.core.v1.EnvVarArgs(name=ADMIN_TOKEN_ENV, value_from=k8s.core.v1.EnvVarSourceArgs(secret_key_ref=secret))
    ]


class SaxmlModels(pulumi.ComponentResource):
    """Publishes a Saxml cell's models from the stack: a ConfigMap holds the cell's desired models as JSON, and a Job
    runs the HTTP server image's client, `python -m saxml_client sync`, which publishes missing models, updates
    changed ones and unpublishes the cell's models that are not listed (the stack owns the cell). The Job's name ends
    in a hash of the models, the image and the server, so any change replaces it and `pulumi up` runs it again and
    waits for it; an unchanged config leaves it alone. It runs in the cluster because the HTTP server is private,
    with the namespace's default ServiceAccount: it needs no Google access. Pass the cluster's Kubernetes provider in
    `opts`, and depend on the HTTP server."""

    job_name: pulumi.Output[str]
    """Name of the publishing Job of this set of models."""

    def __init__(self, name: str, args: SaxmlModelsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gke-tpu-serving:index:SaxmlModels", name, None, opts)
        with component_errors("SaxmlModels", name):
            check_dns_label(name)
            models_json = json.dumps(_validate(args), indent=2, sort_keys=True)
            # The name's length does not depend on the image: checked now, even for a build's digest reference
            # (an Output), whose name is known once the image is.
            sync_job_name(name, models_json, "", args["server_url"])
        namespace, image, url = args["namespace"], args["image"], args["server_url"]
        job_name = pulumi.Output.from_input(image).apply(lambda ref: sync_job_name(name, models_json, ref, url))
        timeout = args.get("timeout_minutes", 30)
        labels = {"app.kubernetes.io/name": "saxml", "app.kubernetes.io/component": "model-sync"}
        after = inherited_dependencies(opts)
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-config", namespace=namespace, labels=labels),
            data={MODELS_FILE: models_json},
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )
        job = k8s.batch.v1.Job(
            f"{name}-sync",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=job_name, namespace=namespace, labels=labels),
            spec=k8s.batch.v1.JobSpecArgs(
                # The client retries until the servers answer; a rerun is safe, since sync is idempotent.
                backoff_limit=2,
                active_deadline_seconds=timeout * 60,
                # A finished Job is cleaned up after a day; a later refresh and `pulumi up` run it again, harmlessly.
                ttl_seconds_after_finished=24 * 3600,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        restart_policy="Never",
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="sync",
                                image=image,
                                command=[
                                    "python",
                                    "-m",
                                    "saxml_client",
                                    "sync",
                                    "--server",
                                    url,
                                    "--models-file",
                                    f"{MODELS_DIR}/{MODELS_FILE}",
                                    "--wait",
                                ],
                                env=_admin_token_env(args),
                                resources=k8s.core.v1.ResourceRequirementsArgs(
                                    requests={"cpu": "100m", "memory": "128Mi"}, limits={"memory": "256Mi"}
                                ),
                                volume_mounts=[
                                    k8s.core.v1.VolumeMountArgs(name="models", mount_path=MODELS_DIR, read_only=True)
                                ],
                                security_context=restricted_container_security_context(),
                            )
                        ],
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="models",
                                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=config_map.metadata.name),
                            )
                        ],
                        security_context=restricted_pod_security_context(),
                        automount_service_account_token=False,
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[config_map, *after],
                custom_timeouts=pulumi.CustomTimeouts(create=f"{timeout}m", update=f"{timeout}m"),
            ),
        )
        self.job_name = job.metadata.name
        self.register_outputs({"job_name": self.job_name})
