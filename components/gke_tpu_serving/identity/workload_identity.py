"""WorkloadIdentity: a Kubernetes ServiceAccount that acts on Google Cloud, and the IAM member to grant roles to."""

from enum import Enum
from typing import NotRequired, TypedDict

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from gke_tpu_serving.errors import ArgError, component_errors
from gke_tpu_serving.names import check_dns_label, check_service_account_id
from gke_tpu_serving.options import inherited_dependencies

WORKLOAD_IDENTITY_USER_ROLE = "roles/iam.workloadIdentityUser"
GSA_ANNOTATION = "iam.gke.io/gcp-service-account"


class WorkloadIdentityMode(Enum):
    """How the Kubernetes ServiceAccount gets its Google identity."""

    FEDERATED = "federated"
    """Roles are granted to the ServiceAccount's own principal (Workload Identity Federation for GKE); no Google
    service account. The vLLM tutorial's setup."""
    IMPERSONATE = "impersonate"
    """The ServiceAccount impersonates a Google service account (roles/iam.workloadIdentityUser and the
    iam.gke.io/gcp-service-account annotation); roles are granted to that account. The Saxml tutorial's setup."""


class WorkloadIdentityArgs(TypedDict):
    """Arguments of WorkloadIdentity."""

    project: pulumi.Input[str]
    """GCP project id of the cluster (its Workload Identity pool is PROJECT.svc.id.goog)."""
    namespace: str
    """Kubernetes namespace of the ServiceAccount (DNS-1123 label)."""
    service_account_name: str
    """Name of the Kubernetes ServiceAccount to create (DNS-1123 label)."""
    mode: WorkloadIdentityMode
    """federated or impersonate."""
    create_namespace: NotRequired[bool]
    """Create the namespace too. Default: false (it must exist)."""
    google_service_account_id: NotRequired[str]
    """impersonate only: id of the Google service account to create (6-30 characters). Default: the Kubernetes
    ServiceAccount's name. Excludes google_service_account_email."""
    google_service_account_email: NotRequired[pulumi.Input[str]]
    """impersonate only: use this existing Google service account instead of creating one. Excludes
    google_service_account_id."""


def federated_principal(project_number: str, project: str, namespace: str, service_account: str) -> str:
    """The IAM principal of a Kubernetes ServiceAccount under Workload Identity Federation for GKE."""
    return (
        f"principal://iam.googleapis.com/projects/{project_number}/locations/global/workloadIdentityPools/"
        f"{project}.svc.id.goog/subject/ns/{namespace}/sa/{service_account}"
    )


def _validate(args: WorkloadIdentityArgs) -> str | None:
    """Check the args; returns the id of the Google service account to create, if any."""
    for key in ("namespace", "service_account_name"):
        check_dns_label(args.get(key), at=(key,))
    mode = args.get("mode")
    if not isinstance(mode, WorkloadIdentityMode):
        allowed = ", ".join(m.value for m in WorkloadIdentityMode)
        raise ArgError(("mode",), f"{mode!r} is not allowed; allowed: {allowed}")
    account_id = args.get("google_service_account_id")
    account_email = args.get("google_service_account_email")
    if mode is WorkloadIdentityMode.FEDERATED:
        for key in ("google_service_account_id", "google_service_account_email"):
            if args.get(key) is not None:
                raise ArgError(
                    (key,),
                    "applies to mode impersonate only; mode federated grants roles to the Kubernetes "
                    "ServiceAccount's own principal, without a Google service account",
                )
        return None
    if account_id is not None and account_email is not None:
        raise ArgError(
            ("google_service_account_email",),
            "given together with google_service_account_id; allowed: one of them (an id creates a Google service "
            "account, an email uses an existing one)",
        )
    if account_email is not None:
        return None
    derived = account_id is None
    account_id = args["service_account_name"] if derived else account_id
    try:
        check_service_account_id(account_id)
    except ArgError as error:
        hint = " (the default, the Kubernetes ServiceAccount's name; set a valid id explicitly)" if derived else ""
        raise ArgError(("google_service_account_id",), f"{error.reason}{hint}") from None
    return account_id


class WorkloadIdentity(pulumi.ComponentResource):
    """A Kubernetes ServiceAccount with a Google identity, in federated or impersonate mode; `member` is the IAM
    member to grant roles to (bucket-level roles through GcsFuseBucket, for example). Pass the cluster's Kubernetes
    provider in `opts`."""

    service_account_name: pulumi.Output[str]
    """Name of the Kubernetes ServiceAccount."""
    namespace: pulumi.Output[str]
    """Its namespace."""
    member: pulumi.Output[str]
    """The IAM member to grant roles to: the federated principal, or serviceAccount:EMAIL in impersonate mode."""
    google_service_account_email: pulumi.Output[str] | None
    """impersonate mode: the Google service account's email."""

    def __init__(self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gke-tpu-serving:index:WorkloadIdentity", name, None, opts)
        with component_errors("WorkloadIdentity", name):
            account_id = _validate(args)
        project = args["project"]
        namespace = args["namespace"]
        ksa_name = args["service_account_name"]
        child = pulumi.ResourceOptions(parent=self)

        namespace_resource = None
        if args.get("create_namespace", False):
            namespace_resource = k8s.core.v1.Namespace(
                f"{name}-namespace", metadata=k8s.meta.v1.ObjectMetaArgs(name=namespace), opts=child
            )

        annotations: dict[str, pulumi.Input[str]] = {}
        self.google_service_account_email = None
        if args["mode"] is WorkloadIdentityMode.FEDERATED:
            # The project number comes from the API: config would let it drift from the project id.
            number = gcp.organizations.get_project_output(project_id=project, opts=pulumi.InvokeOptions(parent=self))
            self.member = pulumi.Output.all(number.number, project).apply(
                lambda values: federated_principal(values[0], values[1], namespace, ksa_name)
            )
        else:
            email = self._google_service_account(name, project, account_id, args, child)
            gcp.serviceaccount.IAMMember(
                f"{name}-workload-identity-user",
                gcp.serviceaccount.IAMMemberArgs(
                    service_account_id=pulumi.Output.concat("projects/", project, "/serviceAccounts/", email),
                    role=WORKLOAD_IDENTITY_USER_ROLE,
                    member=pulumi.Output.concat(
                        "serviceAccount:", project, ".svc.id.goog[", namespace, "/", ksa_name, "]"
                    ),
                ),
                opts=child,
            )
            annotations[GSA_ANNOTATION] = email
            self.google_service_account_email = pulumi.Output.from_input(email)
            self.member = pulumi.Output.concat("serviceAccount:", email)

        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-ksa",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ksa_name, namespace=namespace, annotations=annotations or None),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*inherited_dependencies(opts), *([namespace_resource] if namespace_resource else [])],
            ),
        )
        self.service_account_name = service_account.metadata.name
        self.namespace = service_account.metadata.namespace
        self.register_outputs(
            {
                "service_account_name": self.service_account_name,
                "namespace": self.namespace,
                "member": self.member,
                "google_service_account_email": self.google_service_account_email,
            }
        )

    def _google_service_account(
        self,
        name: str,
        project: pulumi.Input[str],
        account_id: str | None,
        args: WorkloadIdentityArgs,
        child: pulumi.ResourceOptions,
    ) -> pulumi.Input[str]:
        existing = args.get("google_service_account_email")
        if existing is not None:
            return existing
        account = gcp.serviceaccount.Account(
            f"{name}-gsa",
            gcp.serviceaccount.AccountArgs(
                account_id=account_id,
                project=project,
                display_name=f"Workload Identity of {args['namespace']}/{args['service_account_name']}",
            ),
            opts=child,
        )
        return account.email
