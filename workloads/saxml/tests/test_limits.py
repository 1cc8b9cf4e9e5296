"""The HTTP server's limits (saxml_http.guards), run for real with uvicorn on 127.0.0.1 over its test double: the
body cap (413, before the body is parsed), the replica bound, checkpoint paths and model names (no traversal), the
admin token on /publish, /update and /unpublish (401), start-up refusals, and clear 404/405 messages.

Servers are shared per module: each test uses model names of its own.
"""

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.workload

MODEL_PATH = "saxml.server.pax.lm.params.lm_cloud.LmCloudSpmd175B32Test"
JSON = {"Content-Type": "application/json"}
CHECKPOINT_RULE = (
    'must be "None" or a Cloud Storage path gs://BUCKET/PATH (segments not empty, . or ..; letters, digits and '
    "_ . % : = | + - in each)"
)


def publish_body(model: str, **changes: Any) -> dict[str, Any]:
    return {"model": model, "model_path": MODEL_PATH, "checkpoint": "None", "replicas": 1, **changes}


def bearer(token: str) -> dict[str, str]:
    return {**JSON, "Authorization": f"Bearer {token}"}


# The body cap: 413 before the body is parsed


def test_a_body_declared_larger_than_the_cap_is_413(small_saxml_server: str) -> None:
    response = httpx.post(f"{small_saxml_server}/generate", content=b"x" * 1025, headers=JSON)
    assert (response.status_code, response.json()) == (
        413,
        {"detail": "request body too large: at most 1024 bytes (SAXML_MAX_BODY_BYTES)"},
    )


def test_a_streamed_body_is_counted_as_it_arrives_and_cut_off_at_the_cap(small_saxml_server: str) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding chunked
        yield b'{"model": "/sax/test/streamed", "query": "'
        for _ in range(64):
            yield b"y" * 64
        yield b'"}'

    response = httpx.post(f"{small_saxml_server}/generate", content=chunks(), headers=JSON)
    assert "content-length" not in response.request.headers
    assert (response.status_code, response.json()) == (
        413,
        {"detail": "request body too large: at most 1024 bytes (SAXML_MAX_BODY_BYTES)"},
    )


def test_a_body_at_the_cap_is_read(small_saxml_server: str) -> None:
    padding = 1024 - len(json.dumps({"model": "/sax/test/at-cap", "query": ""}))
    content = json.dumps({"model": "/sax/test/at-cap", "query": "z" * padding}).encode()
    response = httpx.post(f"{small_saxml_server}/generate", content=content, headers=JSON)
    assert (len(content), response.status_code) == (1024, 404)  # read, validated, and the model is unknown


def test_the_default_cap_is_one_mebibyte_so_ten_megabytes_are_refused(saxml_server: str) -> None:
    response = httpx.post(f"{saxml_server}/publish", content=b"{" * 10_000_000, headers=JSON)
    assert (response.status_code, response.json()) == (
        413,
        {"detail": "request body too large: at most 1048576 bytes (SAXML_MAX_BODY_BYTES)"},
    )


# Replicas: a whole number from 0 to SAXML_MAX_REPLICAS (64 by default)


@pytest.mark.parametrize(
    ("replicas", "maximum"), [(65, 64), (10**100, 64)], ids=["one-above-the-default", "ten-to-the-hundredth"]
)
def test_more_replicas_than_the_maximum_are_422(saxml_server: str, replicas: int, maximum: int) -> None:
    response = httpx.post(f"{saxml_server}/publish", json=publish_body("/sax/test/many", replicas=replicas))
    assert (response.status_code, response.json()) == (
        422,
        {"detail": f"replicas: must be at most {maximum} model server replicas (SAXML_MAX_REPLICAS), got {replicas}"},
    )


def test_the_maximum_itself_is_allowed(saxml_server: str) -> None:
    response = httpx.post(f"{saxml_server}/publish", json=publish_body("/sax/test/sixty-four", replicas=64))
    assert response.status_code == 200, response.text


def test_the_maximum_is_the_servers_setting_on_update_too(small_saxml_server: str) -> None:
    assert httpx.post(f"{small_saxml_server}/publish", json=publish_body("/sax/test/bounded")).status_code == 200
    response = httpx.post(f"{small_saxml_server}/update", json=publish_body("/sax/test/bounded", replicas=4))
    assert (response.status_code, response.json()) == (
        422,
        {"detail": "replicas: must be at most 3 model server replicas (SAXML_MAX_REPLICAS), got 4"},
    )


# Checkpoints and model names: no traversal, no local paths


@pytest.mark.parametrize(
    "checkpoint",
    [
        "../../../etc/passwd",
        "gs://bucket/../etc/passwd",
        "gs://bucket/checkpoints/./checkpoint_1",
        "gs://bucket/checkpoints/..",
        "gs://bucket//checkpoint_1",
        "gs://bucket",
        "/mnt/checkpoints/checkpoint_1",
        "none",
    ],
    ids=["relative", "dotdot", "dot", "trailing-dotdot", "empty-segment", "bucket-only", "local", "lower-case-none"],
)
def test_a_checkpoint_that_is_not_none_or_a_plain_cloud_storage_path_is_422(saxml_server: str, checkpoint: str) -> None:
    response = httpx.post(f"{saxml_server}/publish", json=publish_body("/sax/test/ckpt", checkpoint=checkpoint))
    assert (response.status_code, response.json()) == (
        422,
        {"detail": f"checkpoint: {CHECKPOINT_RULE}, got {checkpoint!r}"},
    )


@pytest.mark.parametrize(
    ("model", "checkpoint"),
    [
        ("/sax/test/ckpt-none", "None"),
        ("/sax/test/ckpt-gcs", "gs://my-bucket/checkpoints/checkpoint_00000000"),
        ("/sax/test/ckpt-dots", "gs://my.bucket/run..1/checkpoint_00000000"),
    ],
    ids=["none", "gcs", "dots-inside-a-name"],
)
def test_none_and_cloud_storage_checkpoints_are_published(saxml_server: str, model: str, checkpoint: str) -> None:
    response = httpx.post(f"{saxml_server}/publish", json=publish_body(model, checkpoint=checkpoint))
    assert (response.status_code, response.json()["checkpoint"]) == (200, checkpoint)


@pytest.mark.parametrize(
    "model", ["/sax/test/../admin", "/sax/test/spmd/extra", "sax/test/spmd", "/sax/test/"], ids=str
)
def test_a_model_name_outside_sax_naming_is_422(saxml_server: str, model: str) -> None:
    response = httpx.post(f"{saxml_server}/unpublish", json={"model": model})
    assert (response.status_code, response.json()) == (
        422,
        {"detail": f"model: must be /sax/<cell>/<model>, lower-case letters, digits, - and _, got {model!r}"},
    )


# The admin token


@pytest.mark.parametrize("path", ["/publish", "/update", "/unpublish"])
def test_without_the_token_an_admin_endpoint_is_401_with_a_bearer_challenge(
    token_saxml_server: tuple[str, str], path: str
) -> None:
    server, _ = token_saxml_server
    response = httpx.post(f"{server}{path}", json=publish_body("/sax/test/anonymous"))
    assert (response.status_code, response.json()) == (
        401,
        {
            "detail": f"{path} needs the admin token: send Authorization: Bearer <token>, the value of the server's "
            "SAXML_ADMIN_TOKEN (saxml_client sends it from its own SAXML_ADMIN_TOKEN)"
        },
    )
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="saxml-admin"'


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-the-admin-token-0123456789", "Bearer admin-token-for-tests-012345678"],
    ids=["other", "one-character-short"],
)
def test_a_wrong_token_is_401_invalid_token(token_saxml_server: tuple[str, str], authorization: str) -> None:
    server, _ = token_saxml_server
    headers = {**JSON, "Authorization": authorization}
    response = httpx.post(f"{server}/publish", json=publish_body("/sax/test/wrong-token"), headers=headers)
    assert (response.status_code, response.json()) == (
        401,
        {"detail": "/publish: the bearer token is not the admin token (SAXML_ADMIN_TOKEN)"},
    )
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="saxml-admin", error="invalid_token"'


def test_another_scheme_is_401(token_saxml_server: tuple[str, str]) -> None:
    server, token = token_saxml_server
    response = httpx.post(f"{server}/publish", json=publish_body("/sax/test/basic"), auth=("admin", token))
    assert response.status_code == 401
    assert response.json()["detail"].startswith("/publish needs the admin token")


def test_with_the_token_publish_update_and_unpublish_work(token_saxml_server: tuple[str, str]) -> None:
    server, token = token_saxml_server
    model = "/sax/test/authorized"
    answers = [
        httpx.post(f"{server}/publish", json=publish_body(model), headers=bearer(token)),
        httpx.post(f"{server}/update", json=publish_body(model, replicas=2), headers=bearer(token)),
        httpx.post(f"{server}/unpublish", json={"model": model}, headers=bearer(token)),
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 200]


def test_reading_and_generating_need_no_token(token_saxml_server: tuple[str, str]) -> None:
    server, token = token_saxml_server
    assert httpx.post(f"{server}/publish", json=publish_body("/sax/test/open-read"), headers=bearer(token)).is_success
    listed = httpx.get(f"{server}/listcell", params={"model": "/sax/test/open-read"})
    generated = httpx.post(f"{server}/generate", json={"model": "/sax/test/open-read", "query": "Hi"})
    assert (listed.status_code, generated.status_code) == (200, 200)


def test_the_token_is_checked_before_the_body_is_read(token_saxml_server: tuple[str, str]) -> None:
    server, _ = token_saxml_server
    response = httpx.post(f"{server}/publish", content=b"{" * 10_000_000, headers=JSON)
    assert response.status_code == 401


# Start-up refusals (the token is never echoed)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SAXML_MAX_REPLICAS": "0"},
            "saxml_http: SAXML_MAX_REPLICAS must be a whole number from 1 to 2147483647, got '0'",
        ),
        (
            {"SAXML_MAX_BODY_BYTES": "1MB"},
            "saxml_http: SAXML_MAX_BODY_BYTES must be a whole number from 1 to 9223372036854775807, got '1MB'",
        ),
        (
            {"SAXML_ADMIN_TOKEN": "short-s3cret"},
            "saxml_http: SAXML_ADMIN_TOKEN must be at least 16 visible ASCII characters without spaces (got 12 "
            "characters; unset it to leave the admin endpoints open to the namespace)",
        ),
        (
            {"SAXML_ADMIN_TOKEN": "a token with s3cret spaces"},
            "saxml_http: SAXML_ADMIN_TOKEN must be at least 16 visible ASCII characters without spaces (got 26 "
            "characters; unset it to leave the admin endpoints open to the namespace)",
        ),
    ],
    ids=["replicas-zero", "body-unit", "token-short", "token-spaces"],
)
def test_a_malformed_limit_stops_the_server_with_status_2(server_env, env: dict[str, str], message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "saxml_http", "--port", "1"], env=server_env(env), capture_output=True, text=True
    )
    assert (done.returncode, done.stderr.strip()) == (2, message)
    assert "s3cret" not in done.stderr


# Unknown paths and methods


def test_an_unknown_path_is_404_listing_the_endpoints(saxml_server: str) -> None:
    response = httpx.get(f"{saxml_server}/publsh")
    assert (response.status_code, response.json()) == (
        404,
        {
            "detail": "no endpoint /publsh; the endpoints: GET /, GET /health, POST /publish, POST /update, "
            "POST /unpublish, GET /listcell, GET /listall, POST /generate"
        },
    )


def test_a_wrong_method_is_405_naming_the_one_taken(saxml_server: str) -> None:
    response = httpx.get(f"{saxml_server}/publish")
    assert (response.status_code, response.json()) == (405, {"detail": "/publish does not take GET; it takes POST"})
