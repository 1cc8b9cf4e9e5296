"""`saxml_client sync`, the publishing Job's command: the models file's checks and the plan (pure), then sync
against the HTTP server on 127.0.0.1 (over its test double): publish, update, republish, unpublish, idempotence, and
--wait for a server that starts late."""

import io
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from saxml_client.cli import main
from saxml_client.sync import (
    Action,
    ModelsFile,
    ModelsFileError,
    ModelSpec,
    Step,
    load_models_file,
    parse_models_file,
    plan,
)

MODEL_PATH = "saxml.server.pax.lm.params.lm_cloud.LmCloudSpmd175B32Test"
FAST = ["--backoff", "0.01", "--max-backoff", "0.05"]


def spec(model: str, replicas: int = 2, checkpoint: str = "None", model_path: str = MODEL_PATH) -> ModelSpec:
    return ModelSpec(model, model_path, checkpoint, replicas)


def models_json(cell: str, *specs: ModelSpec) -> dict[str, Any]:
    return {"cell": cell, "models": [spec.__dict__ for spec in specs]}


# The models file


def test_the_issue_models_file_parses() -> None:
    data = {
        "cell": "/sax/test",
        "models": [{"model": "/sax/test/spmd", "model_path": MODEL_PATH, "checkpoint": "None", "replicas": 2}],
    }
    assert parse_models_file(data, "f") == ModelsFile("/sax/test", (spec("/sax/test/spmd"),))


GOOD = {"model": "/sax/test/a", "model_path": MODEL_PATH, "checkpoint": "None", "replicas": 1}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "f: must be a JSON object with keys cell and models"),
        ({"cell": "/sax/test", "models": [], "owner": "me"}, "f: unknown key 'owner' (allowed: cell, models)"),
        ({"models": []}, "f: cell: must be a non-empty string, got null"),
        ({"cell": "/sax/test", "models": {}}, "f: models: must be a list, got {}"),
        (
            {"cell": "/sax/test", "models": ["spmd"]},
            "f: models[0]: must be an object with keys model, model_path, checkpoint, replicas",
        ),
        (
            {"cell": "/sax/test", "models": [{**GOOD, "replica": 1}]},
            "f: models[0]: unknown key 'replica' (allowed: model, model_path, checkpoint, replicas)",
        ),
        ({"cell": "/sax/test", "models": [{"model": "/sax/test/a"}]}, "f: models[0]: model_path is required"),
        (
            {"cell": "/sax/test", "models": [{**GOOD, "replicas": -2}]},
            "f: models[0].replicas: must be a whole number, 0 or more, got -2",
        ),
        (
            {"cell": "/sax/test", "models": [{**GOOD, "replicas": "2"}]},
            'f: models[0].replicas: must be a whole number, 0 or more, got "2"',
        ),
        (
            {"cell": "/sax/test", "models": [{**GOOD, "checkpoint": ""}]},
            'f: models[0].checkpoint: must be a non-empty string, got ""',
        ),
        (
            {"cell": "/sax/test", "models": [{**GOOD, "model": "/sax/other/a"}]},
            "f: models[0].model: /sax/other/a is not in cell /sax/test",
        ),
        ({"cell": "/sax/test", "models": [GOOD, GOOD]}, "f: models[1].model: /sax/test/a is listed twice"),
    ],
)
def test_a_malformed_models_file_is_refused_with_the_key_and_the_problem(data: Any, message: str) -> None:
    with pytest.raises(ModelsFileError) as raised:
        parse_models_file(data, "f")
    assert str(raised.value) == message


def test_a_models_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text("cell: /sax/test")
    with pytest.raises(ModelsFileError) as raised:
        load_models_file(path)
    assert str(raised.value) == f"models file {path}: not JSON (Expecting value: line 1 column 1 (char 0))"


def test_a_missing_models_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelsFileError) as raised:
        load_models_file(tmp_path / "absent.json")
    assert str(raised.value) == f"models file {tmp_path / 'absent.json'}: cannot read it (No such file or directory)"


# The plan


def test_plan_publishes_missing_updates_replicas_republishes_changed_and_unpublishes_extras_first() -> None:
    desired = ModelsFile(
        "/sax/test",
        (
            spec("/sax/test/new", 1),
            spec("/sax/test/scaled", 4),
            spec("/sax/test/moved", 2, checkpoint="gs://b/ckpt2"),
            spec("/sax/test/same", 2),
        ),
    )
    current = {
        "/sax/test/scaled": spec("/sax/test/scaled", 2),
        "/sax/test/moved": spec("/sax/test/moved", 2, checkpoint="gs://b/ckpt1"),
        "/sax/test/same": spec("/sax/test/same", 2),
        "/sax/test/old": spec("/sax/test/old", 1),
    }
    assert plan(desired, current) == [
        Step(Action.UNPUBLISH, "/sax/test/old", None, "not in the models file"),
        Step(Action.UPDATE, "/sax/test/scaled", desired.models[1], "replicas 2 -> 4"),
        Step(Action.REPUBLISH, "/sax/test/moved", desired.models[2], "checkpoint gs://b/ckpt1 -> gs://b/ckpt2"),
        Step(Action.PUBLISH, "/sax/test/new", desired.models[0], "1 replicas"),
    ]


def test_plan_of_a_cell_that_matches_is_empty() -> None:
    desired = ModelsFile("/sax/test", (spec("/sax/test/a"),))
    assert plan(desired, {"/sax/test/a": spec("/sax/test/a")}) == []


def test_plan_names_a_changed_model_path() -> None:
    desired = ModelsFile("/sax/test", (spec("/sax/test/a", model_path="saxml.B"),))
    (step,) = plan(desired, {"/sax/test/a": spec("/sax/test/a", model_path="saxml.A")})
    assert (step.action, step.reason) == (Action.REPUBLISH, "model path saxml.A -> saxml.B")


# Sync against the server


@pytest.fixture(scope="module")
def cells() -> Iterator[str]:
    # The module server's cells, one per test that syncs (see SAXML_TEST_CELLS in conftest.py).
    return iter(f"/sax/cell{index}" for index in range(12))


@pytest.fixture
def cell(cells: Iterator[str]) -> str:
    return next(cells)


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run_sync(saxml_server: str, tmp_path: Path) -> Run:
    def run(models: dict[str, Any], *options: str) -> tuple[int, str, str]:
        path = tmp_path / "models.json"
        path.write_text(json.dumps(models))
        stdout, stderr = io.StringIO(), io.StringIO()
        argv = ["sync", "--server", saxml_server, "--models-file", str(path), *FAST, *options]
        code = main(argv, stdout=stdout, stderr=stderr, environ={})
        return code, stdout.getvalue(), stderr.getvalue()

    return run


def listed(server: str, cell: str) -> dict[str, tuple[str, str, int]]:
    stdout = io.StringIO()
    assert main(["--server", server, "--json", "listall", cell], stdout=stdout, environ={}) == 0
    models = json.loads(stdout.getvalue())
    details = {}
    for model in models:
        stdout = io.StringIO()
        assert main(["--server", server, "--json", "listcell", model], stdout=stdout, environ={}) == 0
        detail = json.loads(stdout.getvalue())
        details[model] = (detail["model_path"], detail["checkpoint"], detail["max_replicas"])
    return details


@pytest.mark.workload
def test_sync_publishes_the_models_of_an_empty_cell(run_sync: Run, saxml_server: str, cell: str) -> None:
    code, out, _ = run_sync(models_json(cell, spec(f"{cell}/spmd", 2), spec(f"{cell}/small", 1)))
    assert (code, out) == (
        0,
        f"published {cell}/spmd: 2 replicas\npublished {cell}/small: 1 replicas\n"
        f"sync {cell}: 0 unpublished, 0 republished, 0 updated, 2 published, 0 unchanged\n",
    )
    assert listed(saxml_server, cell) == {
        f"{cell}/spmd": (MODEL_PATH, "None", 2),
        f"{cell}/small": (MODEL_PATH, "None", 1),
    }


@pytest.mark.workload
def test_a_second_sync_with_the_same_file_changes_nothing_and_says_so(run_sync: Run, cell: str) -> None:
    models = models_json(cell, spec(f"{cell}/spmd", 2))
    assert run_sync(models)[0] == 0
    assert run_sync(models)[:2] == (0, f"sync {cell}: nothing to change (1 model up to date)\n")


@pytest.mark.workload
def test_sync_updates_the_replica_count(run_sync: Run, saxml_server: str, cell: str) -> None:
    run_sync(models_json(cell, spec(f"{cell}/spmd", 2)))
    code, out, _ = run_sync(models_json(cell, spec(f"{cell}/spmd", 3)))
    assert (code, out.splitlines()[0]) == (0, f"updated {cell}/spmd: replicas 2 -> 3")
    assert listed(saxml_server, cell) == {f"{cell}/spmd": (MODEL_PATH, "None", 3)}


@pytest.mark.workload
def test_sync_unpublishes_what_the_file_no_longer_lists(run_sync: Run, saxml_server: str, cell: str) -> None:
    run_sync(models_json(cell, spec(f"{cell}/kept"), spec(f"{cell}/dropped")))
    code, out, _ = run_sync(models_json(cell, spec(f"{cell}/kept")))
    assert (code, out) == (
        0,
        f"unpublished {cell}/dropped: not in the models file\n"
        f"sync {cell}: 1 unpublished, 0 republished, 0 updated, 0 published, 1 unchanged\n",
    )
    assert list(listed(saxml_server, cell)) == [f"{cell}/kept"]


@pytest.mark.workload
def test_dry_run_prints_the_plan_and_changes_nothing(run_sync: Run, saxml_server: str, cell: str) -> None:
    code, out, _ = run_sync(models_json(cell, spec(f"{cell}/spmd")), "--dry-run")
    assert (code, out) == (
        0,
        f"would publish {cell}/spmd: 2 replicas\n"
        f"sync {cell} (dry run): 0 unpublished, 0 republished, 0 updated, 1 published, 0 unchanged\n",
    )
    assert listed(saxml_server, cell) == {}


@pytest.mark.workload
def test_json_prints_the_report_alone_on_stdout(run_sync: Run, cell: str) -> None:
    code, out, err = run_sync(models_json(cell, spec(f"{cell}/spmd", 1)), "--json")
    assert code == 0
    assert json.loads(out) == {
        "cell": cell,
        "dry_run": False,
        "steps": [
            {
                "action": "publish",
                "model": f"{cell}/spmd",
                "reason": "1 replicas",
                "spec": {"model": f"{cell}/spmd", "model_path": MODEL_PATH, "checkpoint": "None", "replicas": 1},
            }
        ],
        "unchanged": [],
    }
    assert err == f"published {cell}/spmd: 1 replicas\n"


@pytest.mark.workload
def test_a_bad_models_file_exits_2_before_any_call(run_sync: Run, cell: str) -> None:
    code, out, err = run_sync({"cell": cell, "models": [{"model": f"{cell}/a"}]})
    assert (code, out) == (2, "")
    assert err.startswith("saxml_client sync: models file ") and err.endswith(": models[0]: model_path is required\n")


@pytest.mark.workload
def test_sync_republishes_a_changed_checkpoint_retrying_while_sax_unloads_it(
    start_saxml_server, tmp_path: Path
) -> None:
    models = tmp_path / "models.json"
    with start_saxml_server({"SAXML_FAKE_UNPUBLISH_LAG_CALLS": "2"}) as server:
        models.write_text(json.dumps(models_json("/sax/test", spec("/sax/test/spmd", checkpoint="gs://b/step_1"))))
        assert main(["sync", "--server", server, "--models-file", str(models)], stdout=io.StringIO(), environ={}) == 0
        models.write_text(json.dumps(models_json("/sax/test", spec("/sax/test/spmd", checkpoint="gs://b/step_2"))))
        stdout, stderr = io.StringIO(), io.StringIO()
        code = main(
            ["sync", "--server", server, "--models-file", str(models), *FAST], stdout=stdout, stderr=stderr, environ={}
        )
        assert listed(server, "/sax/test") == {"/sax/test/spmd": (MODEL_PATH, "gs://b/step_2", 2)}
    assert (code, stdout.getvalue().splitlines()[0]) == (
        0,
        "republished /sax/test/spmd: checkpoint gs://b/step_1 -> gs://b/step_2",
    )
    assert stderr.getvalue().splitlines() == [
        "POST /publish: HTTP 409: model /sax/test/spmd is being unpublished, please retry later; retrying in 0.01 s",
        "POST /publish: HTTP 409: model /sax/test/spmd is being unpublished, please retry later; retrying in 0.02 s",
    ]


@pytest.mark.workload
def test_sync_wait_retries_until_a_server_that_starts_late_answers(
    start_saxml_server, free_port: int, server_env, tmp_path: Path
) -> None:
    # The publishing Job's command line, started before the server exists.
    models = tmp_path / "models.json"
    models.write_text(json.dumps(models_json("/sax/test", spec("/sax/test/spmd"))))
    server = f"http://127.0.0.1:{free_port}"
    command = [sys.executable, "-m", "saxml_client", "sync", "--server", server, "--models-file", str(models), "--wait"]
    client = subprocess.Popen(
        [*command, "--wait-timeout", "60", *FAST],
        env=server_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert client.stderr is not None
    first_lines = [client.stderr.readline(), client.stderr.readline()]
    # The client has found nothing listening: now the server starts.
    with start_saxml_server(port=free_port):
        out, _ = client.communicate(timeout=60)
    assert first_lines[0] == f"waiting up to 60 s for {server} to answer for cell /sax/test\n"
    assert first_lines[1].startswith(f"GET /listall: cannot connect to {server} (")
    assert (client.returncode, out) == (
        0,
        "published /sax/test/spmd: 2 replicas\n"
        "sync /sax/test: 0 unpublished, 0 republished, 0 updated, 1 published, 0 unchanged\n",
    )


@pytest.mark.workload
def test_sync_wait_retries_while_the_admin_server_is_unavailable(start_saxml_server, tmp_path: Path) -> None:
    models = tmp_path / "models.json"
    models.write_text(json.dumps(models_json("/sax/test", spec("/sax/test/spmd"))))
    with start_saxml_server({"SAXML_FAKE_UNAVAILABLE_CALLS": "2"}) as server:
        stdout, stderr = io.StringIO(), io.StringIO()
        argv = ["sync", "--server", server, "--models-file", str(models), "--wait", *FAST]
        code = main(argv, stdout=stdout, stderr=stderr, environ={})
    assert code == 0
    assert stderr.getvalue().splitlines()[1:] == [
        "GET /listall: HTTP 503: fake admin server not ready yet (1 more calls will fail); retrying in 0.05 s",
        "GET /listall: HTTP 503: fake admin server not ready yet (0 more calls will fail); retrying in 0.05 s",
    ]


@pytest.mark.workload
def test_sync_wait_gives_up_after_its_timeout(free_port: int, tmp_path: Path) -> None:
    models = tmp_path / "models.json"
    models.write_text(json.dumps(models_json("/sax/test", spec("/sax/test/spmd"))))
    stderr = io.StringIO()
    server = f"http://127.0.0.1:{free_port}"
    argv = ["sync", "--server", server, "--models-file", str(models), "--wait", "--wait-timeout", "0.2", *FAST]
    assert main(argv, stdout=io.StringIO(), stderr=stderr, environ={}) == 1
    last = stderr.getvalue().splitlines()[-1]
    assert last.startswith(f"saxml_client sync: GET /listall: gave up after 0.2 s: cannot connect to {server} (")
