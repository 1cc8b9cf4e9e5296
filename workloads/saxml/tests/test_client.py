"""The command-line client (python -m saxml_client) against the HTTP server on 127.0.0.1 (over its test double):
every command's readable output, --json, options before or after the command, exit status and messages on 4xx,
and retries with backoff on connection errors and 503."""

import io
import json
import subprocess
import sys

import pytest
from saxml_client.api import RetryPolicy
from saxml_client.cli import main

MODEL_PATH = "saxml.server.pax.lm.params.lm_cloud.LmCloudSpmd175B32Test"
FAST = ["--backoff", "0.01", "--max-backoff", "0.05"]


def run(*argv: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=stdout, stderr=stderr, environ={})
    return code, stdout.getvalue(), stderr.getvalue()


def published(server: str, model: str, replicas: str = "2") -> None:
    assert run("--server", server, "publish", model, MODEL_PATH, "None", replicas)[0] == 0


# Pure: arguments and backoff


def test_backoff_doubles_from_the_first_wait_up_to_the_longest() -> None:
    policy = RetryPolicy(attempts=6, backoff_s=0.5, max_backoff_s=3.0)
    assert [policy.delay(retry) for retry in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_retry_after_longer_than_the_backoff_is_honoured_up_to_the_longest_wait() -> None:
    policy = RetryPolicy(backoff_s=0.5, max_backoff_s=8.0)
    assert (policy.delay(1, retry_after_s=5.0), policy.delay(1, retry_after_s=30.0)) == (5.0, 8.0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["publish", "/sax/test/a", MODEL_PATH, "None", "-1"],
            "argument replicas: must be a whole number, 0 or more, got '-1'",
        ),
        (
            ["generate", "/sax/test/a", "Hi", "--extra", "temperature"],
            "argument --extra: must be NAME=NUMBER, got 'temperature'",
        ),
        (["sync"], "the following arguments are required: --models-file"),
    ],
)
def test_bad_arguments_exit_2_with_the_reason(argv: list[str], message: str) -> None:
    code, out, err = run(*argv)
    assert (code, out) == (2, "")
    assert err.splitlines()[-1].endswith(f"error: {message}")


def test_the_server_defaults_to_saxml_server_from_the_environment() -> None:
    from saxml_client.cli import build_parser

    args = build_parser({"SAXML_SERVER": "http://saxml-http:8888"}).parse_args(["listall", "/sax/test"])
    assert args.server == "http://saxml-http:8888"


# Against the server

workload = pytest.mark.workload


@workload
def test_publish_prints_what_it_published(saxml_server: str) -> None:
    code, out, _ = run("--server", saxml_server, "publish", "/sax/test/cli-pub", MODEL_PATH, "None", "2")
    assert (code, out) == (0, f"published /sax/test/cli-pub: {MODEL_PATH}, checkpoint None, 2 replicas\n")


@workload
def test_update_prints_the_new_replica_count(saxml_server: str) -> None:
    published(saxml_server, "/sax/test/cli-upd")
    code, out, _ = run("--server", saxml_server, "update", "/sax/test/cli-upd", MODEL_PATH, "None", "3")
    assert (code, out) == (0, f"updated /sax/test/cli-upd: {MODEL_PATH}, checkpoint None, 3 replicas\n")


@workload
def test_listcell_prints_path_checkpoint_and_replicas(saxml_server: str) -> None:
    published(saxml_server, "/sax/test/cli-list")
    code, out, _ = run("--server", saxml_server, "listcell", "/sax/test/cli-list")
    assert (code, out) == (
        0,
        f"/sax/test/cli-list\n  model path:  {MODEL_PATH}\n  checkpoint:  None\n  replicas:    2 active of 2\n",
    )


@workload
def test_listall_prints_one_model_a_line(saxml_server: str) -> None:
    published(saxml_server, "/sax/other/cli-b")
    published(saxml_server, "/sax/other/cli-a")
    assert run("--server", saxml_server, "listall", "/sax/other") == (0, "/sax/other/cli-a\n/sax/other/cli-b\n", "")


@workload
def test_generate_prints_score_and_text(saxml_server: str) -> None:
    published(saxml_server, "/sax/test/cli-gen")
    code, out, _ = run("--server", saxml_server, "generate", "/sax/test/cli-gen", "Q: Hi", "--extra", "temperature=0.2")
    assert (code, out) == (0, f"  -1.0000  [{MODEL_PATH}] Q: Hi {{temperature=0.2}}\n")


@workload
def test_unpublish_prints_what_it_unpublished(saxml_server: str) -> None:
    published(saxml_server, "/sax/test/cli-unpub")
    assert run("--server", saxml_server, "unpublish", "/sax/test/cli-unpub") == (
        0,
        "unpublished /sax/test/cli-unpub\n",
        "",
    )


@workload
def test_json_prints_the_servers_answer(saxml_server: str) -> None:
    published(saxml_server, "/sax/test/cli-json")
    code, out, _ = run("--server", saxml_server, "--json", "listcell", "/sax/test/cli-json")
    assert (code, json.loads(out)) == (
        0,
        {
            "model": "/sax/test/cli-json",
            "model_path": MODEL_PATH,
            "checkpoint": "None",
            "max_replicas": 2,
            "active_replicas": 2,
        },
    )


@workload
def test_options_may_come_after_the_command(saxml_server: str) -> None:
    published(saxml_server, "/sax/test/cli-after")
    code, out, _ = run("listcell", "/sax/test/cli-after", "--server", saxml_server, "--json")
    assert (code, json.loads(out)["model"]) == (0, "/sax/test/cli-after")


@workload
def test_a_refused_request_exits_1_with_the_servers_message_and_is_not_retried(saxml_server: str) -> None:
    published(saxml_server, "/sax/test/cli-dup")
    code, out, err = run("--server", saxml_server, "publish", "/sax/test/cli-dup", MODEL_PATH, "None", "1")
    assert (code, out, err) == (
        1,
        "",
        "saxml_client publish: POST /publish: HTTP 409: model /sax/test/cli-dup is already published\n",
    )


@workload
def test_a_malformed_name_exits_1_with_the_servers_422(saxml_server: str) -> None:
    assert run("--server", saxml_server, "listcell", "spmd") == (
        1,
        "",
        "saxml_client listcell: GET /listcell: HTTP 422: model: must be /sax/<cell>/<model>, lower-case letters, "
        "digits, - and _, got 'spmd'\n",
    )


@workload
def test_a_503_is_retried_with_backoff_until_sax_answers(start_saxml_server) -> None:
    with start_saxml_server({"SAXML_FAKE_UNAVAILABLE_CALLS": "2"}) as server:
        code, out, err = run("--server", server, "listall", "/sax/test", *FAST)
    assert (code, out) == (0, "")
    assert err.splitlines() == [
        "GET /listall: HTTP 503: fake admin server not ready yet (1 more calls will fail); retrying in 0.05 s",
        "GET /listall: HTTP 503: fake admin server not ready yet (0 more calls will fail); retrying in 0.05 s",
    ]


@workload
def test_the_client_gives_up_after_its_last_retry(start_saxml_server) -> None:
    with start_saxml_server({"SAXML_FAKE_UNAVAILABLE_CALLS": "100"}) as server:
        code, _, err = run("--server", server, "--retries", "2", "listall", "/sax/test", *FAST)
    assert (code, err.splitlines()[-1]) == (
        1,
        "saxml_client listall: GET /listall: gave up after 3 attempts: HTTP 503: fake admin server not ready yet "
        "(97 more calls will fail)",
    )


@workload
def test_a_server_that_is_not_there_is_retried_then_reported(free_port: int) -> None:
    server = f"http://127.0.0.1:{free_port}"
    code, _, err = run("--server", server, "--retries", "1", "listall", "/sax/test", *FAST)
    lines = err.splitlines()
    assert code == 1 and len(lines) == 2
    assert lines[0].startswith(f"GET /listall: cannot connect to {server} (") and lines[0].endswith(
        "retrying in 0.01 s"
    )
    assert lines[1].startswith(
        f"saxml_client listall: GET /listall: gave up after 2 attempts: cannot connect to {server}"
    )


@workload
def test_python_dash_m_saxml_client_runs_the_cli(saxml_server: str, server_env) -> None:
    published(saxml_server, "/sax/test/cli-module")
    done = subprocess.run(
        [sys.executable, "-m", "saxml_client", "listcell", "/sax/test/cli-module", "--server", saxml_server, "--json"],
        env=server_env(),
        capture_output=True,
        text=True,
    )
    assert (done.returncode, json.loads(done.stdout)["model"]) == (0, "/sax/test/cli-module")


# The admin token: sent from SAXML_ADMIN_TOKEN, never an option


def run_with_env(environ: dict[str, str], *argv: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=stdout, stderr=stderr, environ=environ)
    return code, stdout.getvalue(), stderr.getvalue()


def test_the_admin_token_is_sent_from_the_environment(token_saxml_server: tuple[str, str]) -> None:
    server, token = token_saxml_server
    code, out, _ = run_with_env(
        {"SAXML_ADMIN_TOKEN": token}, "--server", server, "publish", "/sax/test/cli-token", MODEL_PATH, "None", "1"
    )
    assert (code, out) == (0, f"published /sax/test/cli-token: {MODEL_PATH}, checkpoint None, 1 replicas\n")


def test_without_the_admin_token_publish_exits_1_with_the_servers_message(token_saxml_server: tuple[str, str]) -> None:
    server, _ = token_saxml_server
    code, _, err = run("--server", server, "--retries", "0", "unpublish", "/sax/test/cli-no-token")
    assert (code, err) == (
        1,
        "saxml_client unpublish: POST /unpublish: HTTP 401: /unpublish needs the admin token: send Authorization: "
        "Bearer <token>, the value of the server's SAXML_ADMIN_TOKEN (saxml_client sends it from its own "
        "SAXML_ADMIN_TOKEN)\n",
    )
