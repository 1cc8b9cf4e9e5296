"""WorkloadIdentity under Pulumi mocks: both seed setups, exact IAM bindings, and bad input pinned."""

from typing import Any

import pytest
from helpers import allowed, assert_refused_before_any_child

from gke_tpu_serving import WorkloadIdentity, WorkloadIdentityArgs, WorkloadIdentityMode

COMPONENT = "gke-tpu-serving:index:WorkloadIdentity"
KSA = "kubernetes:core/v1:ServiceAccount"
GSA = "gcp:serviceaccount/account:Account"
SA_BINDING = "gcp:serviceaccount/iAMMember:IAMMember"


@pytest.fixture
def mocks(pulumi_mocks: Any) -> Any:
    # A created service account's email is computed by GCP; the mock computes it the way GCP does.
    pulumi_mocks.computed[GSA] = lambda r: {
        "email": f"{r.inputs['accountId']}@{r.inputs['project']}.iam.gserviceaccount.com",
        "name": f"projects/{r.inputs['project']}/serviceAccounts/{r.inputs['accountId']}",
    }
    return pulumi_mocks


def args(mode: WorkloadIdentityMode, **extra: Any) -> WorkloadIdentityArgs:
    base: WorkloadIdentityArgs = {
        "project": "demo-project",
        "namespace": "llama",
        "service_account_name": "vllm",
        "mode": mode,
    }
    base.update(extra)  # type: ignore[typeddict-item]
    return base


def test_federated_mode_grants_to_the_ksa_principal_with_the_project_number_from_the_api(mocks: Any) -> None:
    mocks.invokes["gcp:organizations/getProject:getProject"] = lambda a: {
        "projectId": a["projectId"],
        "number": "987654321098",
    }
    identity = WorkloadIdentity("vllm", args(WorkloadIdentityMode.FEDERATED))
    result = mocks.settle()
    assert mocks.resolve(identity.member) == (
        "principal://iam.googleapis.com/projects/987654321098/locations/global/workloadIdentityPools/"
        "demo-project.svc.id.goog/subject/ns/llama/sa/vllm"
    )
    ksa = result.one(KSA, "vllm-ksa")
    assert ksa.inputs["metadata"] == {"name": "vllm", "namespace": "llama"}
    assert ksa.parent == result.one(COMPONENT, "vllm").urn
    assert result.of_type(GSA) == []
    assert result.of_type(SA_BINDING) == []
    assert result.of_type("kubernetes:core/v1:Namespace") == []


def test_impersonate_mode_creates_the_gsa_binding_and_annotation(mocks: Any) -> None:
    identity = WorkloadIdentity(
        "sax", args(WorkloadIdentityMode.IMPERSONATE, namespace="saxml", service_account_name="sax-sa")
    )
    result = mocks.settle()
    assert result.one(GSA, "sax-gsa").inputs["accountId"] == "sax-sa"
    binding = result.one(SA_BINDING, "sax-workload-identity-user").inputs
    assert binding == {
        "serviceAccountId": "projects/demo-project/serviceAccounts/sax-sa@demo-project.iam.gserviceaccount.com",
        "role": "roles/iam.workloadIdentityUser",
        "member": "serviceAccount:demo-project.svc.id.goog[saxml/sax-sa]",
    }
    assert result.one(KSA, "sax-ksa").inputs["metadata"]["annotations"] == {
        "iam.gke.io/gcp-service-account": "sax-sa@demo-project.iam.gserviceaccount.com"
    }
    assert mocks.resolve(identity.member) == "serviceAccount:sax-sa@demo-project.iam.gserviceaccount.com"


def test_impersonate_mode_with_an_existing_gsa_creates_none(mocks: Any) -> None:
    email = "serving@demo-project.iam.gserviceaccount.com"
    identity = WorkloadIdentity("sax", args(WorkloadIdentityMode.IMPERSONATE, google_service_account_email=email))
    result = mocks.settle()
    assert result.of_type(GSA) == []
    binding = result.one(SA_BINDING, "sax-workload-identity-user").inputs
    assert binding["serviceAccountId"] == f"projects/demo-project/serviceAccounts/{email}"
    assert binding["member"] == "serviceAccount:demo-project.svc.id.goog[llama/vllm]"
    assert mocks.resolve(identity.member) == f"serviceAccount:{email}"


def test_namespace_is_created_first_when_asked(mocks: Any) -> None:
    WorkloadIdentity("vllm", args(WorkloadIdentityMode.FEDERATED, create_namespace=True))
    result = mocks.settle()
    namespace = result.one("kubernetes:core/v1:Namespace", "vllm-namespace")
    assert namespace.inputs["metadata"] == {"name": "llama"}
    assert result.one(KSA, "vllm-ksa").options["dependsOn"] == [namespace.urn]


BAD_ARGS = [
    (
        {"namespace": "LLM"},
        "WorkloadIdentity 'bad': namespace: 'LLM' is not a valid DNS-1123 label; allowed: 1-63 characters of lowercase letters, digits and '-', starting and ending with a letter or digit",
    ),
    (
        {"service_account_name": "vllm_sa"},
        "WorkloadIdentity 'bad': service_account_name: 'vllm_sa' is not a valid DNS-1123 label; allowed: 1-63 characters of lowercase letters, digits and '-', starting and ending with a letter or digit",
    ),
    (
        {"mode": "direct"},
        f"WorkloadIdentity 'bad': mode: 'direct' is not allowed; allowed: {allowed(WorkloadIdentityMode)}",
    ),
    (
        {"google_service_account_id": "vllm-gsa"},
        "WorkloadIdentity 'bad': google_service_account_id: applies to mode impersonate only; mode federated grants roles to the Kubernetes ServiceAccount's own principal, without a Google service account",
    ),
    (
        {"google_service_account_email": "x@demo-project.iam.gserviceaccount.com"},
        "WorkloadIdentity 'bad': google_service_account_email: applies to mode impersonate only; mode federated grants roles to the Kubernetes ServiceAccount's own principal, without a Google service account",
    ),
    (
        {
            "mode": WorkloadIdentityMode.IMPERSONATE,
            "google_service_account_id": "vllm-gsa",
            "google_service_account_email": "x@demo-project.iam.gserviceaccount.com",
        },
        "WorkloadIdentity 'bad': google_service_account_email: given together with google_service_account_id; allowed: one of them (an id creates a Google service account, an email uses an existing one)",
    ),
    (
        {"mode": WorkloadIdentityMode.IMPERSONATE, "google_service_account_id": "a" * 31},
        f"WorkloadIdentity 'bad': google_service_account_id: '{'a' * 31}' is not a valid service account id; allowed: 6-30 characters matching ^[a-z][-a-z0-9]*[a-z0-9]$",
    ),
    (
        {"mode": WorkloadIdentityMode.IMPERSONATE, "service_account_name": "sax"},
        "WorkloadIdentity 'bad': google_service_account_id: 'sax' is not a valid service account id; allowed: 6-30 characters matching ^[a-z][-a-z0-9]*[a-z0-9]$ (the default, the Kubernetes ServiceAccount's name; set a valid id explicitly)",
    ),
]


@pytest.mark.parametrize(("extra", "message"), BAD_ARGS)
def test_bad_args_raise_before_any_child(mocks: Any, extra: dict[str, Any], message: str) -> None:
    given = {**args(WorkloadIdentityMode.FEDERATED), **extra}
    reason = message.removeprefix("WorkloadIdentity 'bad': ")
    assert_refused_before_any_child(mocks, WorkloadIdentity, "bad", given, reason)
