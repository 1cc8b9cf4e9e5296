"""The offline preview, specified against tests/fixtures/mini_program (project "mini")."""

import copy
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import pulumi
import pulumi_gcp as gcp
import pytest
import yaml
from helpers import OfflineCli

from gke_tpu_serving.offline import (
    MockSession,
    PreviewResult,
    UnmockedInvokeError,
    input_error_message,
    kubernetes_manifests,
    load_stack_config,
    render_diff,
    render_tree,
    run_program,
    write_manifests,
)

MINI = Path(__file__).parent / "fixtures" / "mini_program"
STACK_URN = "urn:pulumi:test::mini::pulumi:pulumi:Stack::mini-test"
PROVIDER_URN = "urn:pulumi:test::mini::pulumi:providers:kubernetes::gke"
SITE_URN = "urn:pulumi:test::mini::mini:index:Site::site"
BUCKET_URN = "urn:pulumi:test::mini::mini:index:Site$gcp:storage/bucket:Bucket::site-assets"
SECRET_URN = "urn:pulumi:test::mini::kubernetes:core/v1:Secret::token"
BAD_MESSAGE = "mini: config key 'replicas' value 7 is not allowed; allowed: 1 to 5"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


@pytest.fixture(scope="module")
def preview() -> PreviewResult:
    return run_program(MINI, "test")


def _walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The real command, in a subprocess: once (the other tests run main() in-process with `offline_cli`)."""
    command = [sys.executable, "-m", "gke_tpu_serving.offline", "preview", *map(str, args)]
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)


# --- config ---------------------------------------------------------------------------------------------


def test_config_is_project_defaults_overlaid_by_the_stack_file_with_secure_values_masked() -> None:
    config = load_stack_config(MINI, "test")
    assert config.project == "mini"
    assert config.values == {
        "mini:region": "us-central1",
        "mini:replicas": "2",
        "mini:lookupBillingAccount": "false",
        "gcp:region": "us-central1",
        "gcp:project": "mini-project",
        "mini:app": json.dumps(
            {"name": "web", "image": "nginx:1.27", "ports": [80, 8080], "labels": {"tier": "frontend"}}
        ),
        "mini:apiToken": "[secret]",
    }
    assert config.secret_keys == {"mini:apiToken"}


def test_program_sees_structured_config_and_defaults(preview: PreviewResult) -> None:
    bucket = preview.one("gcp:storage/bucket:Bucket", "site-assets")
    assert bucket.inputs == {
        "labels": {"tier": "frontend"},
        "location": "US-CENTRAL1",
        "uniformBucketLevelAccess": True,
    }


# --- the recorded plan ------------------------------------------------------------------------------------


def test_json_document_has_exactly_the_documented_shape(preview: PreviewResult) -> None:
    document = preview.to_json()
    assert list(document) == ["project", "stack", "resources", "outputs"]
    assert (document["project"], document["stack"]) == ("mini", "test")
    for resource in document["resources"]:
        assert list(resource) == ["urn", "type", "name", "parent", "inputs", "options"]
        assert isinstance(resource["inputs"], dict)
        assert isinstance(resource["options"], dict)
    assert json.loads(json.dumps(document)) == document
    assert [(r["type"], r["name"]) for r in document["resources"]] == [
        ("pulumi:pulumi:Stack", "mini-test"),
        (DEPLOYMENT, "web"),
        ("kubernetes:core/v1:Namespace", "apps"),
        ("kubernetes:core/v1:Secret", "token"),
        ("kubernetes:core/v1:Service", "web-svc"),
        ("kubernetes:monitoring.googleapis.com/v1:PodMonitoring", "web-monitoring"),
        ("kubernetes:yaml/v2:ConfigGroup", "extras"),
        ("mini:index:Site", "site"),
        ("gcp:serviceaccount/account:Account", "site-sa"),
        ("gcp:storage/bucket:Bucket", "site-assets"),
        ("pulumi:providers:kubernetes", "gke"),
    ]


def test_stack_resource_is_the_root(preview: PreviewResult) -> None:
    stack = preview.one("pulumi:pulumi:Stack", "mini-test")
    assert (stack.urn, stack.parent, stack.inputs, stack.options, stack.custom) == (
        STACK_URN,
        None,
        {},
        {},
        False,
    )


def test_urns_follow_the_engine_and_parents_are_urns(preview: PreviewResult) -> None:
    assert preview.one("mini:index:Site", "site").urn == SITE_URN
    assert preview.one("mini:index:Site", "site").parent == STACK_URN
    bucket = preview.one("gcp:storage/bucket:Bucket", "site-assets")
    assert (bucket.urn, bucket.parent, bucket.custom) == (BUCKET_URN, SITE_URN, True)
    assert preview.one("kubernetes:core/v1:Namespace", "apps").urn == (
        "urn:pulumi:test::mini::kubernetes:core/v1:Namespace::apps"
    )


def test_numbers_arrive_as_ints_not_floats(preview: PreviewResult) -> None:
    spec = preview.one(DEPLOYMENT, "web").inputs["spec"]
    assert spec["replicas"] == 2
    assert type(spec["replicas"]) is int
    ports = spec["template"]["spec"]["containers"][0]["ports"]
    assert ports == [{"containerPort": 80}, {"containerPort": 8080}]
    assert not any(isinstance(v, float) for v in _walk(preview.to_json()))
    assert type(preview.outputs["replicas"]) is int


def test_secrets_are_replaced_wherever_they_occur(preview: PreviewResult) -> None:
    container = preview.one(DEPLOYMENT, "web").inputs["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "SESSION_KEY", "value": "[secret]"} in container["env"]
    # A secret map keeps its keys, so the redacted Secret is still a valid object.
    assert preview.one("kubernetes:core/v1:Secret", "token").inputs["stringData"] == {"token": "[secret]"}
    assert preview.outputs["apiToken"] == "[secret]"
    assert "s3cr3t" not in json.dumps(preview.to_json())


def test_values_unknown_during_preview_render_as_unknown(preview: PreviewResult) -> None:
    container = preview.one(DEPLOYMENT, "web").inputs["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "BUCKET", "value": "[unknown]"} in container["env"]
    assert preview.one("gcp:serviceaccount/account:Account", "site-sa").inputs["displayName"] == "[unknown]"


def test_options_hold_protect_retain_explicit_depends_on_and_provider(preview: PreviewResult) -> None:
    assert preview.one("gcp:storage/bucket:Bucket", "site-assets").options == {
        "protect": True,
        "retainOnDelete": True,
    }
    # The namespace and bucket are input dependencies, not depends_on.
    assert preview.one(DEPLOYMENT, "web").options == {"dependsOn": [SECRET_URN], "provider": PROVIDER_URN}
    assert preview.one("kubernetes:core/v1:Namespace", "apps").options == {"provider": PROVIDER_URN}
    assert preview.one("gcp:serviceaccount/account:Account", "site-sa").options == {}


def test_stack_outputs_are_captured_with_secrets_masked(preview: PreviewResult) -> None:
    assert preview.outputs == {
        "apiToken": "[secret]",
        "bucketName": "[unknown]",
        "bucketUrl": "[unknown]",
        "namespace": "apps",
        "projectNumber": "123456789012",
        "replicas": 2,
    }


def test_one_lists_what_exists_when_nothing_matches(preview: PreviewResult) -> None:
    with pytest.raises(AssertionError, match=r"found 0;[\s\S]*kubernetes:core/v1:Namespace  apps"):
        preview.one("kubernetes:core/v1:Namespace", "missing")


# --- rendering ----------------------------------------------------------------------------------------------


EXPECTED_TREE = """\
Previewing update (mini/test), offline under Pulumi mocks:

     Type                                                      Name            Plan    Info
 +   pulumi:pulumi:Stack                                       mini-test       create
 +   ├─ kubernetes:apps/v1:Deployment                          web             create
 +   ├─ kubernetes:core/v1:Namespace                           apps            create
 +   ├─ kubernetes:core/v1:Secret                              token           create
 +   ├─ kubernetes:core/v1:Service                             web-svc         create
 +   ├─ kubernetes:monitoring.googleapis.com/v1:PodMonitoring  web-monitoring  create
 +   ├─ kubernetes:yaml/v2:ConfigGroup                         extras          create
 +   ├─ mini:index:Site                                        site            create
 +   │  ├─ gcp:serviceaccount/account:Account                  site-sa         create
 +   │  └─ gcp:storage/bucket:Bucket                           site-assets     create  protect, retainOnDelete
 +   └─ pulumi:providers:kubernetes                            gke             create

Outputs:
    apiToken     : [secret]
    bucketName   : [unknown]
    bucketUrl    : [unknown]
    namespace    : "apps"
    projectNumber: "123456789012"
    replicas     : 2

Resources:
    + 11 to create
"""


def test_tree_nests_children_under_parents_with_outputs_and_count(preview: PreviewResult) -> None:
    assert render_tree(preview) == EXPECTED_TREE


def test_manifests_one_file_per_object_with_kind_and_api_version(tmp_path: Path, preview: PreviewResult) -> None:
    written = write_manifests(preview, tmp_path)
    assert [p.name for p in written] == [
        "deployment-apps-web.yaml",
        "namespace-apps.yaml",
        "secret-apps-api-token.yaml",
        "service-apps-web-svc.yaml",
        "podmonitoring-apps-web.yaml",
    ]
    documents = {p.name: yaml.safe_load(p.read_text()) for p in written}
    assert [(d["apiVersion"], d["kind"]) for d in documents.values()] == [
        ("apps/v1", "Deployment"),
        ("v1", "Namespace"),
        ("v1", "Secret"),
        ("v1", "Service"),
        ("monitoring.googleapis.com/v1", "PodMonitoring"),
    ]
    assert list(documents.values()) == kubernetes_manifests(preview)
    assert documents["podmonitoring-apps-web.yaml"]["spec"]["endpoints"] == [{"interval": "30s", "port": 8080}]
    assert documents["secret-apps-api-token.yaml"]["stringData"] == {"token": "[secret]"}


@pytest.mark.parametrize(
    "name",
    ["deployment-apps-web.yaml", "namespace-apps.yaml", "secret-apps-api-token.yaml", "service-apps-web-svc.yaml"],
)
def test_core_manifests_pass_strict_kubernetes_validation(tmp_path: Path, preview: PreviewResult, name: str) -> None:
    write_manifests(preview, tmp_path)
    kubernetes_validate.validate(yaml.safe_load((tmp_path / name).read_text()), "1.33", strict=True)


def test_auto_named_object_uses_the_resource_name_and_says_so(tmp_path: Path, preview: PreviewResult) -> None:
    write_manifests(preview, tmp_path)
    text = (tmp_path / "service-apps-web-svc.yaml").read_text()
    assert text.splitlines()[1].startswith("# metadata.name is not set by the program")
    assert yaml.safe_load(text)["metadata"] == {"name": "web-svc", "namespace": "apps"}


def test_provider_side_objects_are_listed_not_written(tmp_path: Path, preview: PreviewResult) -> None:
    write_manifests(preview, tmp_path)
    assert (tmp_path / "README.txt").read_text() == (
        "5 Kubernetes manifests for stack mini/test.\n"
        "Not written:\n"
        "  kubernetes:yaml/v2:ConfigGroup  extras: the provider renders its objects; they are not visible offline\n"
    )


def test_rewriting_manifests_removes_stale_ones_only(tmp_path: Path, preview: PreviewResult) -> None:
    (tmp_path / "configmap-old.yaml").write_text("# Pulumi resource: urn:pulumi:test::mini::x::old\nkind: X\n")
    (tmp_path / "hand-written.yaml").write_text("kind: Keep\n")
    write_manifests(preview, tmp_path)
    assert not (tmp_path / "configmap-old.yaml").exists()
    assert (tmp_path / "hand-written.yaml").exists()


def _edited(document: Mapping[str, Any]) -> dict[str, Any]:
    """A later plan: one resource added, one removed, two changed, one output changed."""
    new = copy.deepcopy(dict(document))
    by_name = {r["name"]: r for r in new["resources"]}
    by_name["web"]["inputs"]["spec"]["replicas"] = 3
    by_name["web"]["inputs"]["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    by_name["site-sa"]["options"]["protect"] = True
    new["resources"].remove(by_name["apps"])
    new["resources"].append(
        {
            "urn": "urn:pulumi:test::mini::kubernetes:core/v1:ConfigMap::extra",
            "type": "kubernetes:core/v1:ConfigMap",
            "name": "extra",
            "parent": STACK_URN,
            "inputs": {},
            "options": {},
        }
    )
    new["outputs"]["replicas"] = 3
    return new


def test_diff_lists_added_removed_and_changed_paths(preview: PreviewResult) -> None:
    old = preview.to_json()
    assert render_diff(old, _edited(old)) == (
        "+ kubernetes:core/v1:ConfigMap extra\n"
        "- kubernetes:core/v1:Namespace apps\n"
        "~ kubernetes:apps/v1:Deployment web\n"
        "    inputs.spec.replicas: 2 -> 3\n"
        '    inputs.spec.template.spec.containers[web].image: "nginx:1.27" -> "nginx:1.28"\n'
        "~ gcp:serviceaccount/account:Account site-sa\n"
        "    options.protect: false -> true\n"
        "~ outputs.replicas: 2 -> 3\n"
        "Accelerators: +0 chips at max\n"
        "Resources: 1 added, 1 removed, 2 changed (0 replaced, 0 update or replace), 8 unchanged; outputs: 1 changed\n"
    )


def test_diff_quotes_keys_that_are_not_identifiers() -> None:
    def resource(label: str) -> dict[str, Any]:
        return {"urn": "u", "parent": None, "inputs": {"labels": {"a.b/c": label}}, "options": {}}

    diff = render_diff({"resources": [resource("x")]}, {"resources": [resource("y")]})
    assert '    inputs.labels["a.b/c"]: "x" -> "y"\n' in diff


# --- failures ---------------------------------------------------------------------------------------------


def test_bad_config_raises_the_programs_value_error() -> None:
    with pytest.raises(ValueError) as raised:
        run_program(MINI, "bad")
    assert input_error_message(raised.value) == BAD_MESSAGE


def test_unmocked_invoke_fails_the_run_naming_the_token() -> None:
    with pytest.raises(
        UnmockedInvokeError, match="unmocked invoke gcp:organizations/getBillingAccount:getBillingAccount"
    ) as raised:
        run_program(MINI, "unmocked")
    assert input_error_message(raised.value) is None


def test_callers_can_answer_more_invokes() -> None:
    seen: list[Mapping[str, Any]] = []

    def billing_account(args: Mapping[str, Any]) -> dict[str, Any]:
        seen.append(dict(args))
        return {"id": "012345-6789AB-CDEF01", "open": True}

    token = "gcp:organizations/getBillingAccount:getBillingAccount"
    result = run_program(MINI, "unmocked", invokes={token: billing_account})
    assert seen == [{"displayName": "web"}]
    assert result.outputs["projectNumber"] == "123456789012"


def _write_program(directory: Path, main: str) -> Path:
    directory.mkdir()
    (directory / "Pulumi.yaml").write_text("name: scratch\nruntime: python\n")
    (directory / "Pulumi.dev.yaml").write_text("config: {}\n")
    (directory / "__main__.py").write_text(main)
    return directory


def test_value_error_inside_apply_surfaces_after_the_program_with_its_own_message(tmp_path: Path) -> None:
    program = _write_program(
        tmp_path / "scratch",
        "import pulumi_gcp as gcp\n"
        "def check(location):\n"
        "    raise ValueError(f'Bucket: location {location!r} is not allowed; allowed: EU')\n"
        "first = gcp.storage.Bucket('first', location='US')\n"
        "gcp.storage.Bucket('second', location=first.location.apply(check))\n",
    )
    with pytest.raises(ValueError) as raised:
        run_program(program, "dev")
    assert input_error_message(raised.value) == "Bucket: location 'US' is not allowed; allowed: EU"


def test_missing_required_config_counts_as_bad_input(tmp_path: Path) -> None:
    program = _write_program(tmp_path / "scratch", "import pulumi\npulumi.Config().require('zone')\n")
    with pytest.raises(pulumi.RunError) as raised:
        run_program(program, "dev")
    assert (input_error_message(raised.value) or "").startswith(
        "Missing required configuration variable 'scratch:zone'"
    )


def test_a_type_error_is_a_bug_not_bad_input() -> None:
    assert input_error_message(TypeError("unexpected keyword argument 'locaton'")) is None


# --- re-entrancy ------------------------------------------------------------------------------------------


def test_runs_in_one_process_share_no_config_or_resources(tmp_path: Path, preview: PreviewResult) -> None:
    other = tmp_path / "mini2"
    shutil.copytree(MINI, other)
    (other / "Pulumi.yaml").write_text((MINI / "Pulumi.yaml").read_text().replace("name: mini", "name: mini2"))
    (other / "Pulumi.other.yaml").write_text(
        (MINI / "Pulumi.test.yaml").read_text().replace("mini:", "mini2:").replace("mini2:replicas: 2", "")
        + "  mini2:region: europe-west4\n"
    )
    second = run_program(other, "other")
    third = run_program(MINI, "test")

    assert all(r.urn.startswith("urn:pulumi:other::mini2::") for r in second.resources)
    assert second.one(DEPLOYMENT, "web").inputs["spec"]["replicas"] == 1  # Pulumi.yaml default, not 2
    assert second.one("gcp:storage/bucket:Bucket", "site-assets").inputs["location"] == "EUROPE-WEST4"
    assert third.to_json() == preview.to_json()
    assert pulumi.runtime.get_config("mini:replicas") is None


# --- the command line ---------------------------------------------------------------------------------------


def test_cli_prints_the_tree_and_writes_json_manifests_and_diff(tmp_path: Path, preview: PreviewResult) -> None:
    old = tmp_path / "old.json"
    old.write_text(json.dumps(_edited(preview.to_json())))
    plan, manifests = tmp_path / "plan.json", tmp_path / "manifests"
    done = _run_cli("--stack", "test", "--project-dir", MINI, "--json", plan, "--manifests", manifests, "--diff", old)
    assert (done.returncode, done.stderr) == (0, "")
    # With --diff the tree marks what the diff does, and its summary counts that, not "to create".
    assert done.stdout.startswith(EXPECTED_TREE.split("\n", 3)[0])
    assert " ~   ├─ kubernetes:apps/v1:Deployment" in done.stdout
    assert "Resources:\n    + 1 to create\n    ~ 2 to update\n    - 1 to delete\n    8 unchanged\n" in done.stdout
    assert f"Wrote 5 Kubernetes manifests to {manifests}\n" in done.stdout
    assert "Resources: 1 added, 1 removed, 2 changed (0 replaced, 0 update or replace), 8 unchanged;" in done.stdout
    # The mini program has no node pools: no cost section, an empty cost list.
    assert "Accelerators and cost" not in done.stdout
    assert json.loads(plan.read_text()) == {**preview.to_json(), "cost": []}
    assert sorted(p.name for p in manifests.iterdir()) == [
        "README.txt",
        "deployment-apps-web.yaml",
        "namespace-apps.yaml",
        "podmonitoring-apps-web.yaml",
        "secret-apps-api-token.yaml",
        "service-apps-web-svc.yaml",
    ]


def test_cli_bad_config_exits_2_with_only_the_message(offline_cli: OfflineCli) -> None:
    done = offline_cli("preview", "--stack", "bad", "--project-dir", MINI)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", BAD_MESSAGE + "\n")


def test_cli_unmocked_invoke_exits_1_naming_the_token(offline_cli: OfflineCli) -> None:
    done = offline_cli("preview", "--stack", "unmocked", "--project-dir", MINI)
    assert done.returncode == 1
    assert "UnmockedInvokeError: unmocked invoke gcp:organizations/getBillingAccount:getBillingAccount" in done.stderr


# --- the pulumi_mocks fixture -------------------------------------------------------------------------------


class Pair(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("test:index:Pair", name)
        self.bucket = gcp.storage.Bucket(f"{name}-a", location="EU", opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({})


def test_fixture_records_components_built_directly(pulumi_mocks: MockSession) -> None:
    pair = Pair("p")
    result = pulumi_mocks.settle()
    bucket = result.one("gcp:storage/bucket:Bucket", "p-a")
    assert bucket.inputs == {"location": "EU"}
    assert bucket.parent == result.one("test:index:Pair", "p").urn
    assert result.project == "gke-tpu-serving"
    assert pulumi_mocks.resolve(pair.bucket.location) == "EU"
    assert pulumi_mocks.resolve(gcp.organizations.get_project().project_id) == "test-project"


def test_fixture_config_is_set_before_constructing(pulumi_mocks: MockSession) -> None:
    pulumi_mocks.config({"clusters": [{"name": "a", "nodes": 2}], "gcp:project": "p1"}, secret_keys=["token"])
    assert pulumi.Config().require_object("clusters") == [{"name": "a", "nodes": 2}]
    assert pulumi.Config("gcp").require("project") == "p1"
    assert pulumi.runtime.is_config_secret("gke-tpu-serving:token")


def test_fixture_fails_on_an_unmocked_invoke_at_settle(pulumi_mocks: MockSession) -> None:
    gcp.organizations.get_billing_account_output(display_name="x")
    with pytest.raises(UnmockedInvokeError, match="gcp:organizations/getBillingAccount:getBillingAccount"):
        pulumi_mocks.settle()


def test_sessions_start_empty_after_an_earlier_one() -> None:
    first = MockSession("one", "a")
    try:
        Pair("p")
        assert len(first.settle().resources) == 3
    finally:
        first.close()
    second = MockSession("two", "b")
    try:
        result = second.settle()
    finally:
        second.close()
    assert [r.urn for r in result.resources] == ["urn:pulumi:b::two::pulumi:pulumi:Stack::two-b"]


# --- warnings -------------------------------------------------------------------------------------------


def test_a_programs_warnings_are_kept_and_printed_under_diagnostics(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: warner\nruntime: python\n")
    (tmp_path / "Pulumi.test.yaml").write_text("config: {}\n")
    (tmp_path / "__main__.py").write_text(
        "import logging\nimport pulumi\n\n"
        "logging.getLogger('some.library').warning('not the program')\n"
        "pulumi.log.warn('the batch does not fit')\npulumi.log.info('an info line')\n"
        "pulumi.export('answer', 42)\n"
    )
    result = run_program(tmp_path, "test")
    assert result.warnings == ["the batch does not fit"]
    assert render_tree(result).endswith(
        "Resources:\n    + 1 to create\n\nDiagnostics:\n    warning: the batch does not fit\n"
    )
