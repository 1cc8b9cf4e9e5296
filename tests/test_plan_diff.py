"""The offline diff as a reviewer reads it: update or replace (from the providers' own tables), readable entries, and
what the plan's node pools hold and cost. Each case edits the dev stack's real `--json` document as a change would."""

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT, program_with_stacks

from gke_tpu_serving.catalog.prices import parse_prices
from gke_tpu_serving.offline import PreviewResult, render_diff, run_program
from gke_tpu_serving.offline.cost import describe, pool_costs
from gke_tpu_serving.offline.diff import diff_plans
from gke_tpu_serving.offline.replacements import Action, classify

NODE_POOL = "gcp:container/nodePool:NodePool"


@pytest.fixture(scope="module")
def dev(shipped_stack: Callable[[str], PreviewResult]) -> dict[str, Any]:
    return shipped_stack("dev").to_json()


def _edited(
    document: dict[str, Any], type_token: str, name: str, edit: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    edited = copy.deepcopy(document)
    matches = [r for r in edited["resources"] if r["type"] == type_token and r["name"] == name]
    assert len(matches) == 1, (type_token, name)
    edit(matches[0])
    return edited


def _pool(document: dict[str, Any], name: str, edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    return _edited(document, NODE_POOL, name, lambda resource: edit(resource["inputs"]))


def test_spot_on_a_tpu_pool_is_a_replacement_that_deletes_the_old_pool_first(dev: dict[str, Any]) -> None:
    # Pools carry deleteBeforeReplace: GKE would refuse a second pool of the same name.
    assert next(r for r in dev["resources"] if r["type"] == NODE_POOL)["options"]["deleteBeforeReplace"] is True
    head = _pool(dev, "llm-us-central1-v5e-4x8-0", lambda inputs: inputs["nodeConfig"].update(spot=True))
    assert render_diff(dev, head).splitlines()[:2] == [
        "-+ gcp:container/nodePool:NodePool llm-us-central1-v5e-4x8-0  (replace, delete-before-create: nodeConfig.spot)",
        "    inputs.nodeConfig.spot: false -> true",
    ]


def test_a_machine_type_change_is_what_the_provider_plans_an_in_place_update(dev: dict[str, Any]) -> None:
    # terraform-provider-google-beta v7.45.0: node_config.machine_type has no ForceNew; the node pool's Update sends
    # it to UpdateNodePool (GKE then recreates the nodes, but Pulumi keeps the resource).
    head = _pool(
        dev, "llm-us-central1-v6e-2x4", lambda inputs: inputs["nodeConfig"].update(machineType="ct6e-standard-4t")
    )
    [change] = diff_plans(dev, head).changes
    assert (change.action, change.symbol) == ("update", "~")


def test_a_guest_accelerator_or_service_account_change_is_a_replacement() -> None:
    verdict = classify(NODE_POOL, ["inputs.nodeConfig.guestAccelerators[0].count"], {}, {})
    assert verdict.describe() == "replace, create-before-delete: nodeConfig.guestAccelerators[0].count"
    assert classify(NODE_POOL, ["inputs.nodeConfig.serviceAccount"], {}, {}).action == Action.REPLACE


def test_a_project_iam_member_is_replaced_delete_first_as_pulumi_gcp_configures_it() -> None:
    verdict = classify("gcp:projects/iAMMember:IAMMember", ["inputs.role"], {}, {})
    assert verdict.describe() == "replace, delete-before-create: role"


def test_a_field_no_table_covers_is_update_or_replace_not_a_guess() -> None:
    verdict = classify(NODE_POOL, ["inputs.placementPolicy.tpuTopology"], {}, {})
    assert verdict.describe() == "update or replace: no provider table covers placementPolicy.tpuTopology"
    assert classify("gcp:compute/network:Network", ["inputs.name"], {}, {}).action == Action.UNKNOWN


def test_max_model_len_updates_the_deployment_with_env_vars_by_name(dev: dict[str, Any]) -> None:
    def edit(resource: dict[str, Any]) -> None:
        [container] = resource["inputs"]["spec"]["template"]["spec"]["containers"]
        for variable in container["env"]:
            if variable["name"] == "MAX_MODEL_LEN":
                variable["value"] = "8192"

    head = _edited(dev, "kubernetes:apps/v1:Deployment", "vllm-llama", edit)
    assert render_diff(dev, head).splitlines()[:2] == [
        "~ kubernetes:apps/v1:Deployment vllm-llama",
        '    inputs.spec.template.spec.containers[vllm].env[MAX_MODEL_LEN].value: "4096" -> "8192"',
    ]


def test_a_job_whose_name_changes_is_replaced_create_first(dev: dict[str, Any]) -> None:
    # SaxmlModels names its sync Job by a hash of the model set: renaming a model renames the Job.
    head = _edited(
        dev,
        "kubernetes:batch/v1:Job",
        "saxml-models-sync",
        lambda resource: resource["inputs"]["metadata"].update(name="saxml-models-sync-0123456789"),
    )
    assert render_diff(dev, head).splitlines()[0] == (
        "+- kubernetes:batch/v1:Job saxml-models-sync  (replace, create-before-delete: metadata.name)"
    )


def test_a_config_map_json_document_diffs_field_by_field_and_replaces_in_place(dev: dict[str, Any]) -> None:
    def edit(resource: dict[str, Any]) -> None:
        models = json.loads(resource["inputs"]["data"]["models.json"])
        models["models"][0]["replicas"] = 1
        resource["inputs"]["data"]["models.json"] = json.dumps(models)

    head = _edited(dev, "kubernetes:core/v1:ConfigMap", "saxml-models-config", edit)
    assert render_diff(dev, head).splitlines()[:2] == [
        "-+ kubernetes:core/v1:ConfigMap saxml-models-config  (replace, delete-before-create: "
        'data["models.json"]{json}.models[0].replicas)',
        '    inputs.data["models.json"]{json}.models[0].replicas: 2 -> 1',
    ]


def test_depends_on_changes_read_as_added_and_removed_edges(dev: dict[str, Any]) -> None:
    def edit(resource: dict[str, Any]) -> None:
        resource["options"]["dependsOn"] = resource["options"]["dependsOn"][1:]

    head = _edited(dev, "kubernetes:batch/v1:Job", "saxml-models-sync", edit)
    assert render_diff(dev, head).splitlines()[:2] == [
        "~ kubernetes:batch/v1:Job saxml-models-sync",
        "    dependsOn - gcp:storage/bucket:Bucket saxml-state-bucket",
    ]


def test_a_new_stack_counts_its_outputs_by_top_level_key(dev: dict[str, Any]) -> None:
    summary = render_diff({"resources": [], "outputs": {}}, dev).splitlines()[-1]
    assert summary.endswith(f"; outputs: {len(dev['outputs'])} changed")
    assert summary.startswith(f"Resources: {len(dev['resources'])} added, 0 removed, 0 changed")


def test_dev_pools_hold_the_documented_chips_at_min_and_max(dev: dict[str, Any]) -> None:
    lines = {pool.pool: describe(pool) for pool in pool_costs(dev)}
    assert lines["sd-v4-tpu-v4"] == (
        "sd-v4-tpu-v4: v4 2x2x1 at 1 node = 4 chips, up to 2,920 chip-hours/month (ct4p-hightpu-4t)"
    )
    assert lines["llm-us-central1-v5e-4x8-0"] == (
        "llm-us-central1-v5e-4x8-0: v5e 4x8 at 8 nodes = 32 chips, up to 23,360 chip-hours/month (ct5lp-hightpu-4t)"
    )
    assert lines["llm-us-central1-v6e-2x4"] == (
        "llm-us-central1-v6e-2x4: v6e 2x4 at 1-2 nodes = 8-16 chips, up to 11,680 chip-hours/month (ct6e-standard-8t)"
    )
    assert sum(pool.max_chips for pool in pool_costs(dev) if pool.accelerator.startswith("v5e")) == 64


def test_a_stack_price_prices_its_pools_and_the_diff_shows_the_delta(dev: dict[str, Any]) -> None:
    [v6e] = [pool for pool in pool_costs(dev, parse_prices({"ct6e-standard-8t": 10})) if pool.pool.endswith("v6e-2x4")]
    assert describe(v6e).endswith("; $10.00-$20.00/h on demand [stack config key prices]")
    head = _pool(dev, "llm-us-central1-v6e-2x4", lambda inputs: inputs["autoscaling"].update(maxNodeCount=4))
    assert "Accelerators: +16 chips at max" in render_diff(dev, head)


@pytest.mark.parametrize(
    ("node_config", "mode", "prices", "priced"),
    [
        ({"spot": True}, "spot", {"ct6e-standard-8t": 10}, None),
        ({"spot": True}, "spot", {"ct6e-standard-8t": {"on-demand": 10, "spot": 4}}, "$4.00-$8.00/h spot"),
        ({"flexStart": True}, "flex-start", {"ct6e-standard-8t": {"flex-start": 5}}, "$5.00-$10.00/h flex start"),
        ({}, "on-demand", {"ct6e-standard-8t": {"spot": 4}}, None),
    ],
    ids=["spot-without-its-price", "spot", "flex-start", "on-demand-without-its-price"],
)
def test_a_pool_is_priced_for_its_provisioning_model(
    dev: dict[str, Any], node_config: dict[str, Any], mode: str, prices: dict[str, Any], priced: str | None
) -> None:
    head = _pool(dev, "llm-us-central1-v6e-2x4", lambda inputs: inputs["nodeConfig"].update(node_config))
    [v6e] = [pool for pool in pool_costs(head, parse_prices(prices)) if pool.pool.endswith("v6e-2x4")]
    assert v6e.obtainability == mode
    text = describe(v6e)
    if priced is None:
        assert v6e.usd_per_node_hour is None and "/h" not in text
    else:
        assert text.endswith(f"{mode}); {priced} [stack config key prices]")


def test_without_a_sourced_price_no_price_is_shown(dev: dict[str, Any]) -> None:
    assert all(pool.usd_per_node_hour is None for pool in pool_costs(dev))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1], "[1] is not allowed; allowed: a mapping of machine type to USD per node-hour"),
        (
            {"ct6e-standard-8t": -1},
            "ct6e-standard-8t: -1 is not allowed; allowed: a positive number (USD per node-hour), or a mapping of "
            "provisioning model (on-demand, spot, reservation, flex-start, queued-provisioning) to one",
        ),
        (
            {"ct6e-standard-8t": {"preemptible": 1}},
            "ct6e-standard-8t.preemptible: unknown provisioning model; allowed: on-demand, spot, reservation, "
            "flex-start, queued-provisioning",
        ),
    ],
)
def test_bad_prices_are_refused_naming_the_entry(value: Any, message: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_prices(value)
    assert str(error.value) == message


IAP_MEMBER = "gcp:iap/webIamMember:WebIamMember"


@pytest.fixture(scope="module")
def teams(shipped_stack: Callable[[str], PreviewResult]) -> dict[str, Any]:
    return shipped_stack("teams").to_json()


def _teams_with_member(tmp_path: Path, member: str) -> dict[str, Any]:
    """The teams stack with `member` inserted first in team-a's members."""
    stack = yaml.safe_load((ROOT / "Pulumi.teams.yaml").read_text())
    tenants = stack["config"]["gke-tpu-serving:tenants"]
    tenants[0]["members"].insert(0, {"member": member, "role": "viewer"})
    return run_program(program_with_stacks(tmp_path, {"teams": yaml.safe_dump(stack)}), "teams").to_json()


def test_inserting_a_tenant_member_adds_one_binding_and_changes_none(teams: dict[str, Any], tmp_path: Path) -> None:
    head = _teams_with_member(tmp_path, "user:carol@example.com")
    iap = [c for c in diff_plans(teams, head).changes if IAP_MEMBER in c.urn]
    assert [(c.action, c.label) for c in iap] == [
        ("create", "gcp:iap/webIamMember:WebIamMember teams-tenants-team-a-iap-user-carol@example.com")
    ]


def test_bindings_named_by_position_earlier_are_renamed_by_alias_not_replaced(teams: dict[str, Any]) -> None:
    """What the first `pulumi up` after this change plans: each binding keeps its state under its member's name."""
    base = copy.deepcopy(teams)
    positions: dict[str, int] = {}
    for resource in base["resources"]:
        if resource["type"] == IAP_MEMBER:
            tenant = resource["name"].split("-iap-")[0]
            positions[tenant] = positions.get(tenant, -1) + 1
            # The order the component registers them in is the members' order.
            resource["name"] = f"{tenant}-iap-{positions[tenant]}"
            resource["urn"] = f"{resource['urn'].rsplit('::', 1)[0]}::{resource['name']}"
            resource["options"].pop("aliases", None)
    diff = diff_plans(base, teams)
    iap = [c for c in diff.changes if IAP_MEMBER in c.urn]
    assert len(iap) == 5
    assert {c.action for c in iap} == {"update"}
    assert {c.note.split(",")[0].rsplit("-", 1)[1] for c in iap} == {"0", "1", "2"}
    assert all(c.note.startswith("renamed from teams-tenants-team-") for c in iap)
