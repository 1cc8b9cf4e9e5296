"""The Saxml HTTP server, run for real with uvicorn on 127.0.0.1 over its test double (FakeSaxBackend): every
endpoint with the GKE tutorial's request shapes, and each error with its status code and message.

Tests share one server per module, so each uses model names of its own.
"""

import subprocess
import sys
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.workload

MODEL_PATH = "saxml.server.pax.lm.params.lm_cloud.LmCloudSpmd175B32Test"
# What the tutorial's curl sends: a JSON body with its content type, on GET as well as POST.
JSON = {"Content-Type": "application/json"}


def publish(server: str, model: str, replicas: int = 2, checkpoint: str = "None") -> None:
    body = {"model": model, "model_path": MODEL_PATH, "checkpoint": checkpoint, "replicas": replicas}
    response = httpx.post(f"{server}/publish", json=body)
    assert response.status_code == 200, response.text


def send(server: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, f"{server}{path}", json=body, headers=JSON)


# The endpoints


def test_root_says_what_it_is(saxml_server: str) -> None:
    response = httpx.get(saxml_server)
    assert response.json() == {"message": "HTTP Server for SAX Client", "backend": "fake"}


def test_health_answers_ok(saxml_server: str) -> None:
    assert httpx.get(f"{saxml_server}/health").json() == {"status": "ok"}


def test_publish_answers_with_the_published_model(saxml_server: str) -> None:
    body = {"model": "/sax/test/spmd", "model_path": MODEL_PATH, "checkpoint": "None", "replicas": 2}
    response = send(saxml_server, "POST", "/publish", body)
    assert (response.status_code, response.json()) == (200, body)


def test_listcell_reads_the_model_from_a_json_body_as_the_tutorials_curl_sends_it(saxml_server: str) -> None:
    publish(saxml_server, "/sax/test/listed", replicas=3, checkpoint="gs://bucket/checkpoints/step_1")
    response = send(saxml_server, "GET", "/listcell", {"model": "/sax/test/listed"})
    assert (response.status_code, response.json()) == (
        200,
        {
            "model": "/sax/test/listed",
            "model_path": MODEL_PATH,
            "checkpoint": "gs://bucket/checkpoints/step_1",
            "max_replicas": 3,
            "active_replicas": 3,
        },
    )


def test_listcell_reads_the_model_from_a_query_parameter(saxml_server: str) -> None:
    publish(saxml_server, "/sax/test/queried")
    response = httpx.get(f"{saxml_server}/listcell", params={"model": "/sax/test/queried"})
    assert (response.status_code, response.json()["model"]) == (200, "/sax/test/queried")


def test_listall_lists_the_models_of_a_cell_from_a_body_or_a_query_parameter(saxml_server: str) -> None:
    publish(saxml_server, "/sax/other/b")
    publish(saxml_server, "/sax/other/a")
    from_body = send(saxml_server, "GET", "/listall", {"sax_cell": "/sax/other"})
    from_query = httpx.get(f"{saxml_server}/listall", params={"sax_cell": "/sax/other"})
    assert from_body.json() == from_query.json() == ["/sax/other/a", "/sax/other/b"]


def test_generate_answers_text_and_score_pairs(saxml_server: str) -> None:
    publish(saxml_server, "/sax/test/generator")
    response = send(saxml_server, "POST", "/generate", {"model": "/sax/test/generator", "query": "Q: Who? A:"})
    assert (response.status_code, response.json()) == (200, [[f"[{MODEL_PATH}] Q: Who? A:", -1.0]])


def test_generate_passes_extra_inputs_to_sax(saxml_server: str) -> None:
    publish(saxml_server, "/sax/test/tuned")
    body = {"model": "/sax/test/tuned", "query": "Hi", "extra_inputs": {"temperature": 0.5, "per_example_top_k": 40}}
    response = send(saxml_server, "POST", "/generate", body)
    assert response.json() == [[f"[{MODEL_PATH}] Hi {{per_example_top_k=40, temperature=0.5}}", -1.0]]


def test_update_changes_the_replica_count(saxml_server: str) -> None:
    publish(saxml_server, "/sax/test/scaled", replicas=2)
    body = {"model": "/sax/test/scaled", "model_path": MODEL_PATH, "checkpoint": "None", "replicas": 4}
    assert (send(saxml_server, "POST", "/update", body).json()) == body
    assert httpx.get(f"{saxml_server}/listcell", params={"model": "/sax/test/scaled"}).json()["max_replicas"] == 4


def test_unpublish_answers_with_the_model_and_it_is_gone(saxml_server: str) -> None:
    publish(saxml_server, "/sax/test/retired")
    response = send(saxml_server, "POST", "/unpublish", {"model": "/sax/test/retired"})
    assert (response.status_code, response.json()) == (200, {"model": "/sax/test/retired"})
    assert httpx.get(f"{saxml_server}/listcell", params={"model": "/sax/test/retired"}).status_code == 404


# Bad requests: 422 for what the request itself gets wrong, with every problem named


VALID = {"model": "/sax/test/bad", "model_path": MODEL_PATH, "checkpoint": "None", "replicas": 1}


@pytest.mark.parametrize(
    ("path", "body", "detail"),
    [
        ("/publish", {"model": "/sax/test/bad"}, "model_path: required; checkpoint: required; replicas: required"),
        (
            "/publish",
            {**VALID, "replicas": -1},
            "replicas: must be a whole number of model server replicas, 0 or more, got -1",
        ),
        (
            "/publish",
            {**VALID, "replicas": "two"},
            'replicas: must be a whole number of model server replicas, 0 or more, got "two"',
        ),
        (
            "/publish",
            {**VALID, "replicas": 1.5},
            "replicas: must be a whole number of model server replicas, 0 or more, got 1.5",
        ),
        (
            "/publish",
            {**VALID, "replicas": True},
            "replicas: must be a whole number of model server replicas, 0 or more, got true",
        ),
        (
            "/update",
            {**VALID, "replicas": None},
            "replicas: must be a whole number of model server replicas, 0 or more, got null",
        ),
        ("/publish", {**VALID, "replica": 1}, "replica: unknown field"),
        (
            "/publish",
            {**VALID, "model": "/sax/Test/x"},
            "model: must be /sax/<cell>/<model>, lower-case letters, digits, - and _, got '/sax/Test/x'",
        ),
        (
            "/publish",
            {**VALID, "model_path": "lm cloud"},
            "model_path: must be a model in Sax's registry, e.g. saxml.server.pax.lm.params.lm_cloud.LmCloud, got 'lm cloud'",
        ),
        (
            "/publish",
            {**VALID, "checkpoint": "gs://bucket/a b"},
            "checkpoint: must be \"None\" or a Cloud Storage path gs://BUCKET/PATH (segments not empty, . or ..; letters, digits and _ . % : = | + - in each), got 'gs://bucket/a b'",
        ),
        ("/generate", {"model": "/sax/test/bad"}, "query: required"),
        ("/generate", {"model": "/sax/test/bad", "query": "  "}, "query: must not be empty"),
        (
            "/generate",
            {"model": "/sax/test/bad", "query": "Hi", "extra_inputs": {"temperature": "hot"}},
            'extra_inputs: temperature must be a finite number, got "hot"',
        ),
        ("/unpublish", None, "request body: required (a JSON object)"),
        ("/unpublish", ["/sax/test/bad"], "request body: must be a JSON object"),
    ],
    ids=lambda value: value if isinstance(value, str) and value.startswith("/") else None,
)
def test_bad_request_is_422_naming_each_problem(saxml_server: str, path: str, body: Any, detail: str) -> None:
    response = send(saxml_server, "POST", path, body)
    assert (response.status_code, response.json()) == (422, {"detail": detail})


def test_listcell_without_a_model_is_422(saxml_server: str) -> None:
    response = httpx.get(f"{saxml_server}/listcell")
    assert (response.status_code, response.json()) == (422, {"detail": "model: required: ?model=... or a JSON body"})


def test_listcell_given_two_different_models_is_422(saxml_server: str) -> None:
    response = httpx.request(
        "GET", f"{saxml_server}/listcell", params={"model": "/sax/test/a"}, json={"model": "/sax/test/b"}
    )
    assert (response.status_code, response.json()) == (
        422,
        {"detail": "model: given twice, differently (body, query)"},
    )


def test_listall_with_a_malformed_cell_is_422(saxml_server: str) -> None:
    response = httpx.get(f"{saxml_server}/listall", params={"sax_cell": "test"})
    assert (response.status_code, response.json()) == (
        422,
        {"detail": "sax_cell: must be /sax/<cell>, lower-case letters, digits, - and _, got 'test'"},
    )


def test_a_body_that_is_not_json_is_400(saxml_server: str) -> None:
    response = httpx.post(f"{saxml_server}/publish", content=b"{model: spmd}", headers=JSON)
    assert (response.status_code, response.json()) == (
        400,
        {"detail": "request body is not valid JSON: Expecting property name enclosed in double quotes"},
    )


# What Sax refuses: 404 unknown, 409 conflict, 400 refused arguments, 503 unavailable


@pytest.mark.parametrize(
    ("method", "path", "body", "detail"),
    [
        ("GET", "/listcell", {"model": "/sax/test/nobody"}, "model /sax/test/nobody is not published"),
        ("POST", "/unpublish", {"model": "/sax/test/nobody"}, "model /sax/test/nobody is not published"),
        ("POST", "/update", {**VALID, "model": "/sax/test/nobody"}, "model /sax/test/nobody is not published"),
        ("POST", "/generate", {"model": "/sax/test/nobody", "query": "Hi"}, "model /sax/test/nobody is not published"),
        ("GET", "/listall", {"sax_cell": "/sax/elsewhere"}, "cell /sax/elsewhere has no admin server"),
        ("POST", "/publish", {**VALID, "model": "/sax/elsewhere/m"}, "cell /sax/elsewhere has no admin server"),
    ],
    ids=["listcell", "unpublish", "update", "generate", "listall", "publish"],
)
def test_unknown_model_or_cell_is_404(saxml_server: str, method: str, path: str, body: Any, detail: str) -> None:
    response = send(saxml_server, method, path, body)
    assert (response.status_code, response.json()) == (404, {"detail": detail})


def test_publishing_a_published_model_is_409(saxml_server: str) -> None:
    publish(saxml_server, "/sax/test/twice")
    response = send(saxml_server, "POST", "/publish", {**VALID, "model": "/sax/test/twice"})
    assert (response.status_code, response.json()) == (409, {"detail": "model /sax/test/twice is already published"})


def test_an_update_that_changes_the_checkpoint_is_400(saxml_server: str) -> None:
    publish(saxml_server, "/sax/test/fixed")
    body = {**VALID, "model": "/sax/test/fixed", "checkpoint": "gs://bucket/checkpoint_2"}
    response = send(saxml_server, "POST", "/update", body)
    assert (response.status_code, response.json()) == (
        400,
        {
            "detail": f"model /sax/test/fixed: the model path and checkpoint cannot change (published: {MODEL_PATH}, "
            "None): unpublish it and publish it again"
        },
    )


def test_generate_without_a_serving_replica_is_503_with_retry_after(saxml_server: str) -> None:
    publish(saxml_server, "/sax/test/idle", replicas=0)
    response = send(saxml_server, "POST", "/generate", {"model": "/sax/test/idle", "query": "Hi"})
    assert (response.status_code, response.json()) == (
        503,
        {"detail": "model /sax/test/idle has no replica serving it"},
    )
    assert response.headers["Retry-After"] == "5"


def test_an_unreachable_admin_server_is_503_until_it_answers(start_saxml_server) -> None:
    with start_saxml_server({"SAXML_FAKE_UNAVAILABLE_CALLS": "1"}) as server:
        first = httpx.get(f"{server}/listall", params={"sax_cell": "/sax/test"})
        second = httpx.get(f"{server}/listall", params={"sax_cell": "/sax/test"})
    assert (first.status_code, first.json()) == (
        503,
        {"detail": "fake admin server not ready yet (0 more calls will fail)"},
    )
    assert (second.status_code, second.json()) == (200, [])


# Start-up


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SAXML_BACKEND": "sax"},
            "saxml_http: SAX_ROOT must be the Sax root the admin server writes (gs://BUCKET/sax-root), got ''",
        ),
        ({"SAXML_BACKEND": "saxml"}, "saxml_http: SAXML_BACKEND must be sax or fake, got 'saxml'"),
    ],
    ids=["sax-without-sax-root", "unknown-backend"],
)
def test_the_server_refuses_to_start_without_a_usable_backend(server_env, env: dict[str, str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "saxml_http", "--port", "1"], env=server_env(env), capture_output=True, text=True
    )
    assert (done.returncode, done.stderr.strip()) == (2, message)
