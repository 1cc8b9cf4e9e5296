"""scripts/bench_preview.py's pieces, and the property it watches: the generated teams stack previews; the floor program
declares the plan it stands for (every resource with its inputs and options) or as many plain or bare resources of
each type; and the dependsOn edges grow linearly with the teams (a team's gateway objects wait for that team, not for
every team)."""

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, program_with_stacks

from gke_tpu_serving.offline import PreviewResult, run_program
from gke_tpu_serving.offline.model import STACK_TYPE
from scripts.bench_preview import dependency_edges, floor_project, teams_stack

SIZES = (1, 2, 3)


@pytest.fixture(scope="module")
def teams_by_size(tmp_path_factory: pytest.TempPathFactory) -> dict[int, PreviewResult]:
    project = program_with_stacks(tmp_path_factory.mktemp("teams"), {f"teams-{n}": teams_stack(ROOT, n) for n in SIZES})
    return {n: run_program(project, f"teams-{n}") for n in SIZES}


def test_the_generated_teams_stack_has_the_teams_asked_for(teams_by_size: dict[int, PreviewResult]) -> None:
    for size, result in teams_by_size.items():
        tenants = result.of_type("gke-tpu-serving:index:Tenant")
        assert sorted(t.name for t in tenants) == [f"team-{index:02d}" for index in range(size)]


def test_dependency_edges_grow_linearly_with_the_teams(teams_by_size: dict[int, PreviewResult]) -> None:
    plans = [teams_by_size[n].to_json() for n in SIZES]
    resources = [len(plan["resources"]) for plan in plans]
    edges = [dependency_edges(plan) for plan in plans]
    # Every team adds the same resources and the same edges: its own, never one to each of the other teams.
    assert resources[2] - resources[1] == resources[1] - resources[0]
    assert edges[2] - edges[1] == edges[1] - edges[0]
    # Per resource, a team's edges are few: its gateway objects wait for the gateway and its Tenant (a component,
    # counted once per custom resource in it), as its RayCluster and notebook do.
    assert (edges[1] - edges[0]) / (resources[1] - resources[0]) < 8


def _floor(tmp_path: Path, plan: dict[str, Any], floor: str) -> PreviewResult:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan))
    return run_program(floor_project(tmp_path / "floor", plan_file, floor), "floor")


def _without_stack(urn: str | None) -> str | None:
    """A URN with its stack's name left out (the floor runs as stack `floor`); the stack itself as "stack"."""
    if urn is None or urn.split("::")[2] == STACK_TYPE:
        return None if urn is None else "stack"
    return urn.split("::", 1)[1]


def test_the_plan_floor_declares_the_plan_it_stands_for(
    teams_by_size: dict[int, PreviewResult], tmp_path: Path
) -> None:
    plan = teams_by_size[2].to_json()
    floor = _floor(tmp_path, plan, "plan").to_json()
    assert floor["stack"] == "floor"

    def declared(document: dict[str, Any]) -> dict[str | None, tuple[Any, ...]]:
        return {
            _without_stack(r["urn"]): (
                r["type"],
                r["name"],
                r["inputs"],
                _without_stack(r["parent"]),
                {
                    key: sorted(map(_without_stack, value)) if key == "dependsOn" else value
                    for key, value in r["options"].items()
                    if key != "provider"
                },
                _without_stack(r["options"].get("provider")),
            )
            for r in document["resources"]
            if r["type"] != STACK_TYPE
        }

    # The same resources with the same inputs (secrets still secret), parents and options.
    assert declared(floor) == declared(plan)
    assert any("[secret]" in json.dumps(r["inputs"]) for r in floor["resources"])


@pytest.mark.parametrize("floor_kind", ["plain", "bare"])
def test_the_plain_floors_register_as_many_resources_of_each_type_as_the_plan(
    teams_by_size: dict[int, PreviewResult], tmp_path: Path, floor_kind: str
) -> None:
    plan = teams_by_size[1].to_json()
    floor = _floor(tmp_path, plan, floor_kind)
    assert Counter(r.type for r in floor.resources) == Counter(r["type"] for r in plan["resources"])
    assert [r for r in floor.resources if r.type != STACK_TYPE and (r.inputs or r.options)] == []


def test_an_unknown_floor_is_refused(teams_by_size: dict[int, PreviewResult], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"gke-tpu-serving:floor: 'flat' is not a floor; allowed: plan, plain, bare"):
        _floor(tmp_path, teams_by_size[1].to_json(), "flat")
