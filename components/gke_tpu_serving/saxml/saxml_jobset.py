"""SaxmlJobSet: a Saxml cell on multi-host TPU slices: admin server, model servers as a JobSet, HTTP server, and the
models it publishes."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from gke_tpu_serving.catalog import TPU_SLICE_ARGS, ClusterMode, TpuGeneration, TpuSlice, tpu_slice_of_args
from gke_tpu_serving.catalog.versions import SAXML_ADMIN_SERVER_IMAGE, SAXML_MODEL_SERVER_IMAGE
from gke_tpu_serving.errors import ArgError, component_errors, require_enum, require_int
from gke_tpu_serving.k8s.accelerator_pods import (
    AcceleratorPodPlacement,
    check_autopilot_pod,
    check_capacity,
    check_cluster_mode,
    tpu_pod_placement,
)
from gke_tpu_serving.k8s.pods import (
    Exposure,
    disruption_budget,
    secret_env_vars,
    service_exposure,
    unauthenticated_exposure,
)
from gke_tpu_serving.names import check_bucket_name, check_dns_label, check_pinned_image
from gke_tpu_serving.options import inherited_dependencies
from gke_tpu_serving.saxml.cpu_server import cpu_server
from gke_tpu_serving.saxml.jobset_spec import (
    API_VERSION,
    KIND,
    SLICE_JOB,
    ModelServers,
    check_jobset_names,
    model_server_jobset,
    saxml_chip,
)
from gke_tpu_serving.saxml.saxml_models import (
    ADMIN_TOKEN_ENV,
    DEFAULT_CELL,
    SaxmlModelArgs,
    SaxmlModels,
    SaxmlModelsArgs,
    admin_token_secret_name,
    check_cell,
    models_document,
)

ADMIN_PORT = 10000
HTTP_PORT = 8888
DEFAULT_MAX_RESTARTS = 10
HTTP_SERVER_DOES_NOT_AUTHENTICATE = "the Saxml HTTP server (/generate; /publish and /unpublish but for the admin token)"


class SaxmlJobSetArgs(TypedDict):
    """Arguments of SaxmlJobSet."""

    namespace: str
    """Namespace of every object (it must exist, e.g. WorkloadIdentity's)."""
    service_account_name: pulumi.Input[str]
    """Kubernetes ServiceAccount of the admin, model and HTTP servers, with write access to the bucket through
    Workload Identity (roles/storage.objectUser on the bucket)."""
    bucket: str
    """Bucket of the cell's state: the admin server keeps it under gs://BUCKET/sax-root (and its file system root
    under gs://BUCKET/sax-fs-root); the model and HTTP servers find the admin server there."""
    tpu_generation: TpuGeneration
    """TPU generation of the slices' node pools: v4 or v5e (the chips Saxml knows)."""
    tpu_machine_type: str
    """Their machine type, e.g. ct5lp-hightpu-4t."""
    tpu_topology: str
    """Their multi-host topology, e.g. 4x8: one model server pod per host of a slice."""
    slices: int
    """Number of slices, one node pool each: each slice runs one model server (one Job of the JobSet)."""
    http_server_image: pulumi.Input[str]
    """The HTTP server image built from workloads/saxml/http_server (it also carries the client that publishes the
    models), pinned by tag or digest."""
    admin_server_image: NotRequired[str]
    """Admin server image, pinned. Default: Cloud TPU's sax-admin-server at the Saxml release in versions.py."""
    model_server_image: NotRequired[str]
    """Model server image (a TPU build), pinned. Default: Cloud TPU's sax-model-server at the Saxml release in
    versions.py."""
    cell: NotRequired[str]
    """The Saxml cell, /sax/NAME. Default: /sax/test."""
    models: NotRequired[list[SaxmlModelArgs]]
    """Models the cell serves, published by `pulumi up` (SaxmlModels); the cell's models that are not listed are
    unpublished. Default: none listed, and nothing published or unpublished."""
    max_restarts: NotRequired[int]
    """How many times the JobSet recreates all model servers after one of its pods fails, before it gives up.
    Default: 10."""
    admin_token: NotRequired[pulumi.Input[str]]
    """The token the HTTP server requires on /publish, /update and /unpublish (`Authorization: Bearer <token>`; at
    least 16 visible ASCII characters without spaces), a Pulumi secret: kept in the Secret `<name>-admin-token` (key
    SAXML_ADMIN_TOKEN), which the HTTP server and SaxmlModels' publishing Job read by reference. Default: none (the
    admin endpoints answer whatever reaches the HTTP server)."""
    exposure: NotRequired[Exposure]
    """Reach of the HTTP server's Service: cluster-ip, the default and the only one allowed. The HTTP server does not
    authenticate /generate (and /publish, /unpublish only with admin_token): a load balancer is refused; reach it
    from outside the cluster through a Gateway with Identity-Aware Proxy (a TenantGateway route)."""
    cluster_mode: NotRequired[ClusterMode]
    """The cluster's mode, standard (default) or autopilot. On Autopilot the model servers' TPU selectors and
    requests make GKE provision each slice, and tpu_spot, tpu_reservation and tpu_zone become node selectors."""
    tpu_spot: NotRequired[bool]
    """Autopilot: run the slices on Spot TPU capacity. Standard ignores it (the node pools decide). Default:
    false."""
    tpu_reservation: NotRequired[str]
    """Autopilot: consume this specific reservation. Standard ignores it (the node pools consume it). Default:
    none."""
    tpu_compute_class: NotRequired[str]
    """Autopilot: select this ComputeClass, which decides Spot and reservations (refused beside them). Default: none."""
    tpu_zone: NotRequired[str]
    """Autopilot: pin the model servers to this zone. Standard ignores it (the node pools' zone applies). Default:
    a zone GKE chooses."""


@dataclass(frozen=True)
class _Settings:
    """The args with every default resolved."""

    shape: TpuSlice
    mode: ClusterMode
    placement: AcceleratorPodPlacement
    """Selectors, tolerations and chips of each model server pod (one per host)."""
    cell: str
    models: dict[str, Any] | None
    """The models file SaxmlModels publishes, or None to publish nothing."""
    max_restarts: int
    exposure: Exposure


def _tpu(args: SaxmlJobSetArgs) -> TpuSlice:
    shape = tpu_slice_of_args(args)
    if not shape.multi_host:
        raise ArgError(
            ("tpu_topology",),
            f"{shape.topology} on {shape.machine_type} is a single-host topology; allowed: a multi-host topology "
            "(SaxmlJobSet runs one model server per slice of several hosts)",
        )
    try:
        saxml_chip(shape)
    except ArgError as error:
        raise error.renamed(TPU_SLICE_ARGS) from None
    return shape


def check_saxml_args(args: SaxmlJobSetArgs) -> _Settings:
    """Check the args (pure: the stack config calls it at load); returns them with defaults resolved. Raises
    ArgError."""
    checks: tuple[tuple[str, Callable[[str], None], str | None], ...] = (
        ("namespace", check_dns_label, None),
        ("bucket", check_bucket_name, None),
        ("http_server_image", check_pinned_image, None),
        ("admin_server_image", check_pinned_image, SAXML_ADMIN_SERVER_IMAGE),
        ("model_server_image", check_pinned_image, SAXML_MODEL_SERVER_IMAGE),
    )
    for key, check, default in checks:
        check(args.get(key, default), at=(key,))  # type: ignore[call-arg, arg-type]
    shape = _tpu(args)
    slices = require_int(("slices",), args.get("slices"), minimum=1)
    cell = check_cell(args.get("cell", DEFAULT_CELL))
    models = models_document(cell, args["models"], max_replicas=slices) if "models" in args else None
    exposure = require_enum(("exposure",), args.get("exposure", Exposure.CLUSTER_IP), Exposure)
    if exposure is not Exposure.CLUSTER_IP:
        raise ArgError(("exposure",), unauthenticated_exposure(exposure, HTTP_SERVER_DOES_NOT_AUTHENTICATE))
    mode = check_cluster_mode(args)
    capacity = check_capacity(
        args, spot="tpu_spot", reservation="tpu_reservation", zone="tpu_zone", compute_class="tpu_compute_class"
    )
    return _Settings(
        shape=shape,
        mode=mode,
        placement=tpu_pod_placement(shape, mode, **capacity),
        cell=cell,
        models=models,
        max_restarts=require_int(("max_restarts",), args.get("max_restarts", DEFAULT_MAX_RESTARTS), minimum=0),
        exposure=exposure,
    )


class SaxmlJobSet(pulumi.ComponentResource):
    """A Saxml cell on multi-host TPU slices, as in GKE's Saxml tutorial but private and least-privileged: the admin
    server (Deployment and ClusterIP Service on 10000, state in gs://BUCKET/sax-root), the model servers as a JobSet
    (one Job per slice, one pod per host, catalog TPU selectors, ports 10001 and 8471, TCP probes, recreated together
    when a host fails), the HTTP server (Deployment, Service on 8888, ClusterIP unless `exposure` asks otherwise), a
    disruption budget per server and, with `models`, SaxmlModels to publish them.

    Every server runs as `service_account_name` (Workload Identity, bucket-level access only). The model servers do
    not use the host network, unlike the tutorial's: host-network pods bypass the GKE metadata server and act as the
    node's service account. Each slice is a replica of its own (MEGASCALE_NUM_SLICES is empty: no multislice traffic
    between slices), a slice's chips talk over ICI, and its hosts find each other through the JobSet's headless
    Service, so pod networking is all they need; the same pods run on Autopilot, which refuses hostNetwork.

    Needs the JobSet controller on the cluster (JobSetController): pass it in `depends_on`, with the cluster's
    Kubernetes provider, in `opts`."""

    http_url: pulumi.Output[str]
    """In-cluster URL of the HTTP server (/publish, /listcell, /generate, ...)."""
    admin_service_name: pulumi.Output[str]
    """Name of the admin server's Service (port 10000)."""
    jobset_name: pulumi.Output[str]
    """Name of the model servers' JobSet."""
    cell: pulumi.Output[str]
    """The Saxml cell."""

    def __init__(self, name: str, args: SaxmlJobSetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gke-tpu-serving:index:SaxmlJobSet", name, None, opts)
        with component_errors("SaxmlJobSet", name):
            check_dns_label(name)
            settings = check_saxml_args(args)
            check_jobset_names(_jobset_name(name), SLICE_JOB, args["slices"], settings.shape.hosts)
            check_autopilot_model_servers(name, args, settings)
        namespace, account = args["namespace"], args["service_account_name"]
        sax_root = _sax_root(args)
        after = inherited_dependencies(opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=after)

        admin_labels = _labels(name, "admin-server")
        admin = cpu_server(
            f"{name}-admin-server",
            namespace,
            admin_labels,
            account,
            image=args.get("admin_server_image", SAXML_ADMIN_SERVER_IMAGE),
            port=ADMIN_PORT,
            # The image's entrypoint configures the cell in the bucket, then serves it.
            env={"GSBUCKET": args["bucket"], "SAX_CELL": settings.cell, "PORT": str(ADMIN_PORT)},
            health_path=None,  # gRPC only
            opts=child,
        )
        admin_service = _service(f"{name}-admin-server", namespace, admin_labels, ADMIN_PORT, "ClusterIP", None, child)

        jobset_name = _jobset_name(name)
        servers = pulumi.Output.from_input(account).apply(
            lambda service_account: model_server_jobset(model_servers(name, args, settings, service_account))
        )
        jobset = k8s.apiextensions.CustomResource(
            jobset_name,
            api_version=API_VERSION,
            kind=KIND,
            metadata=servers.apply(lambda jobset: jobset["metadata"]),
            spec=servers.apply(lambda jobset: jobset["spec"]),
            # The model servers register with the admin server, which must exist first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[admin, *after]),
        )

        http_labels = _labels(name, "http-server")
        token = {ADMIN_TOKEN_ENV: args["admin_token"]} if "admin_token" in args else {}
        http = cpu_server(
            http_service_name(name),
            namespace,
            http_labels,
            account,
            image=args["http_server_image"],
            port=HTTP_PORT,
            env={"SAX_ROOT": sax_root},
            secret_env=secret_env_vars(admin_token_secret_name(name), namespace, token, child),
            health_path="/health",
            opts=child,
        )
        service_type, annotations = service_exposure(settings.exposure)
        http_service = _service(
            http_service_name(name), namespace, http_labels, HTTP_PORT, service_type, annotations, child
        )
        # The admin and HTTP servers restart in seconds elsewhere (state is in the bucket): a drain may move them.
        # Evicting one model server fails its slice's Job and the JobSet recreates every slice (TPU start-up, then
        # every model reloads): a serving set refuses voluntary evictions, and a drain waits for an operator.
        for role, labels, bounds in (
            ("admin-server", admin_labels, {"max_unavailable": 1}),
            ("http", http_labels, {"max_unavailable": 1}),
            ("model-server", _labels(name, "model-server"), {"min_available": args["slices"] * settings.shape.hosts}),
        ):
            disruption_budget(f"{name}-{role}", namespace, labels, child, **bounds)
        url = f"http://{http_service_name(name)}.{namespace}.svc:{HTTP_PORT}"
        if settings.models is not None:
            publisher: SaxmlModelsArgs = {
                "namespace": namespace,
                "image": args["http_server_image"],
                "server_url": url,
                "cell": settings.cell,
                "models": args["models"],
            }
            if token:
                publisher["admin_token_secret"] = admin_token_secret_name(name)
            SaxmlModels(
                f"{name}-models",
                publisher,
                # Publishing needs the HTTP server and the admin server behind it; model servers may join later.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[admin, http, http_service, *after]),
            )
        self.http_url = pulumi.Output.concat("http://", http_service.metadata.name, f".{namespace}.svc:{HTTP_PORT}")
        self.admin_service_name = admin_service.metadata.name
        # Known once the JobSet is registered, so a consumer of the name waits for it.
        self.jobset_name = jobset.urn.apply(lambda _: jobset_name)
        self.cell = pulumi.Output.from_input(settings.cell)
        self.register_outputs(
            {
                "http_url": self.http_url,
                "admin_service_name": self.admin_service_name,
                "jobset_name": self.jobset_name,
                "cell": self.cell,
            }
        )


def model_servers(name: str, args: SaxmlJobSetArgs, settings: _Settings, service_account_name: str) -> ModelServers:
    """What the model-server JobSet of the SaxmlJobSet `name` is made of."""
    return ModelServers(
        name=_jobset_name(name),
        namespace=args["namespace"],
        labels=_labels(name, "model-server"),
        service_account_name=service_account_name,
        image=args.get("model_server_image", SAXML_MODEL_SERVER_IMAGE),
        cell=settings.cell,
        sax_root=_sax_root(args),
        shape=settings.shape,
        placement=settings.placement,
        slices=args["slices"],
        max_restarts=settings.max_restarts,
    )


def check_autopilot_model_servers(name: str, args: SaxmlJobSetArgs, settings: _Settings) -> None:
    """On Autopilot, ArgError (at model_servers) if Autopilot would refuse a model server pod; nothing on Standard."""
    if settings.mode is not ClusterMode.AUTOPILOT:
        return
    jobset = model_server_jobset(model_servers(name, args, settings, service_account_name="check"))
    pod_spec = jobset["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
    check_autopilot_pod(pod_spec, at=("model_servers",))


def _sax_root(args: SaxmlJobSetArgs) -> str:
    return f"gs://{args['bucket']}/sax-root"


def http_service_name(name: str) -> str:
    """The HTTP server's Deployment and Service of the cell `name` (its port-forward target)."""
    return f"{name}-http"


def _jobset_name(name: str) -> str:
    return f"{name}-model-server"


def _labels(name: str, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "saxml",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": component,
    }


def _service(
    name: str,
    namespace: str,
    labels: dict[str, str],
    port: int,
    service_type: str,
    annotations: dict[str, str] | None,
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.Service:
    return k8s.core.v1.Service(
        name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=name, namespace=namespace, labels=labels, annotations=annotations or None
        ),
        spec=k8s.core.v1.ServiceSpecArgs(
            type=service_type,
            selector=labels,
            ports=[k8s.core.v1.ServicePortArgs(name="serve", port=port, target_port="serve", protocol="TCP")],
        ),
        opts=opts,
    )
