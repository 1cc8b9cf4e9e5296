"""scripts/bench_preview.py's pieces, and the property it watches: the generated teams stack previews; the floor program
registers as many resources of each type as the plan it stands for, as instances of the SDK classes or bare; and the
dependsOn edges grow linearly with the teams (a team's gateway objects wait for that team, not for every team)."""

import json
from collections import Counter
from pathlib import Path

import pytest
from helpers import ROOT, program_with_stacks

from gke_tpu_serving.offline import PreviewResult, run_program
from scripts.bench_preview import STACK_TYPE, dependency_edges, floor_project, teams_stack

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


@pytest.mark.parametrize("sdk_classes", [True, False])
def test_the_floor_registers_as_many_resources_of_each_type_as_the_plan(
    teams_by_size: dict[int, PreviewResult], tmp_path: Path, sdk_classes: bool
) -> None:
    plan = teams_by_size[1].to_json()
    floor = run_program(floor_project(tmp_path, plan, sdk_classes=sdk_classes), "floor")
    assert Counter(r.type for r in floor.resources) == Counter(r["type"] for r in plan["resources"])
    assert [r for r in floor.resources if r.type != STACK_TYPE and (r.inputs or r.options)] == []
    assert json.loads(json.dumps(floor.to_json()))["stack"] == "floor"
