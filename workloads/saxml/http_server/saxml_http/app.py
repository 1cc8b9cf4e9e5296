"""The HTTP API over a Sax cell. Request and response shapes are those of the GKE Saxml tutorial's HTTP server, so
its curl commands work unchanged:

    POST /publish    {"model": "/sax/test/spmd", "checkpoint": "None", "replicas": 2,
                      "model_path": "saxml.server.pax.lm.params.lm_cloud.LmCloudSpmd175B32Test"}  -> the same four keys
    POST /update     the same body (Sax can change only `replicas`)   -> the same four keys
    POST /unpublish  {"model": ...}                                   -> {"model": ...}
    GET  /listcell   {"model": ...} as a JSON body, or ?model=...     -> {"model", "model_path", "checkpoint",
                                                                          "max_replicas", "active_replicas"}
    GET  /listall    {"sax_cell": "/sax/test"} as a JSON body, or ?sax_cell=...  -> ["/sax/test/spmd", ...]
    POST /generate   {"model": ..., "query": "...", "extra_inputs": {"temperature": 0.5, ...}}  -> [[text, score], ...]
    GET  /           {"message": "HTTP Server for SAX Client"};   GET /health  {"status": "ok"} (no backend call)

Errors are `{"detail": "<what is wrong>"}` with:
    400  the body is not JSON; or Sax refused the arguments (e.g. an update that changes the model path or checkpoint)
    401  an admin endpoint (/publish, /update, /unpublish) without the admin token, when the server has one
         (SAXML_ADMIN_TOKEN: see guards.py)
    404  the model is not published, or the cell has no admin server
    409  the model is already published (or is still being unpublished)
    413  the body is larger than SAXML_MAX_BODY_BYTES (1 MiB), found before it is parsed
    422  a field is missing, unknown, of the wrong type or malformed: names must be /sax/<cell>/<model> (lower-case
         letters, digits, - and _), checkpoints "None" or gs://BUCKET/PATH (no . or .. segments), replicas a whole
         number from 0 to SAXML_MAX_REPLICAS (64), query a non-empty string, extra_inputs numbers
    502  any other Sax failure (its message included)
    503  the admin server, or every replica of the model, is unreachable for now (with Retry-After): retry
"""

import json
import logging
import math
import re
from typing import Annotated, Any, TypeVar

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError
from starlette.exceptions import HTTPException

from .backend import Backend, BackendFailure, BackendUnavailable
from .guards import MAX_REPLICAS_ENV, AdminToken, BodySizeLimit, Limits

LOG = logging.getLogger("saxml_http")
ROOT_MESSAGE = "HTTP Server for SAX Client"
RETRY_AFTER_SECONDS = 5
# The endpoints that change what the cell serves: behind the admin token when the server has one.
PUBLISH_PATH, UPDATE_PATH, UNPUBLISH_PATH = "/publish", "/update", "/unpublish"
ADMIN_PATHS = (PUBLISH_PATH, UPDATE_PATH, UNPUBLISH_PATH)

# Sax's own rules, google/saxml v1.2.0 (commit be31b49b; unchanged at eb93f3e5, 2026-07-14; checked 2026-12-02):
# cell and model names match `^[a-z]+[a-z0-9-_]*$` (saxml/common/naming.go), a model is /sax/<cell>/<model>; model
# paths match `^[a-zA-Z]+[a-zA-Z0-9_.-]*$` (saxml/admin/validator.go).
_NAME = "[a-z][a-z0-9_-]*"
_MODEL_NAME = re.compile(rf"/sax/{_NAME}/{_NAME}")
_CELL_NAME = re.compile(rf"/sax/{_NAME}")
_MODEL_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
# Checkpoints: Sax accepts any `^(/|\d|\w|_|\.|-|%|:|=|\||\+)+$` (validator.go), `..` included, and its model
# servers open the path with etils' epath (saxml/server/pax/servable_model.py): a local path would read the model
# server's own file system. This server accepts less: "None", the checkpoint of Saxml's test models (its README
# publishes LmCloudSpmd2BTest with `None`; test-mode servables ignore the checkpoint), or a Cloud Storage path
# (the README's gs://${GSBUCKET}/checkpoints/checkpoint_00000000) whose segments are neither empty nor . or .., each
# in the characters Sax allows.
_NO_CHECKPOINT = "None"
# A bucket's shape only (lower-case letters, digits, . _ -): Cloud Storage itself refuses a name it does not allow.
_BUCKET = "[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?"
_SEGMENT = r"(?!\.\.?(?:/|$))[A-Za-z0-9_.%:=|+-]+"
_CHECKPOINT = re.compile(rf"{_NO_CHECKPOINT}|gs://{_BUCKET}(?:/{_SEGMENT})+")
_EXTRA_INPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _matching(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{what}, got {value!r}")
        return value

    return AfterValidator(check)


def _replica_count(value: Any) -> int:
    # JSON true/false and 2.0 would pass as ints in pydantic's lax mode; a replica count is a whole number.
    if type(value) is not int or value < 0:
        raise ValueError(f"must be a whole number of model server replicas, 0 or more, got {json.dumps(value)}")
    return value


def _non_empty(query: str) -> str:
    if not query.strip():
        raise ValueError("must not be empty")
    return query


def _extra_inputs(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ValueError(f"must be an object of names to numbers, got {json.dumps(value)}")
    for name, number in value.items():
        if not _EXTRA_INPUT_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a valid extra input name (letters, digits and _)")
        if type(number) not in (int, float) or not math.isfinite(number):
            raise ValueError(f"{name} must be a finite number, got {json.dumps(number)}")
    return {name: float(number) for name, number in value.items()}


ModelName = Annotated[str, _matching(_MODEL_NAME, "must be /sax/<cell>/<model>, lower-case letters, digits, - and _")]
CellName = Annotated[str, _matching(_CELL_NAME, "must be /sax/<cell>, lower-case letters, digits, - and _")]
ModelPath = Annotated[
    str, _matching(_MODEL_PATH, "must be a model in Sax's registry, e.g. saxml.server.pax.lm.params.lm_cloud.LmCloud")
]
Checkpoint = Annotated[
    str,
    _matching(
        _CHECKPOINT,
        'must be "None" or a Cloud Storage path gs://BUCKET/PATH (segments not empty, . or ..; letters, digits and '
        "_ . % : = | + - in each)",
    ),
]
Replicas = Annotated[int, BeforeValidator(_replica_count)]
Prompt = Annotated[str, AfterValidator(_non_empty)]
ExtraInputs = Annotated[dict[str, float], BeforeValidator(_extra_inputs)]


class _Request(BaseModel):
    # Unknown keys are refused: a misspelt "replica" must not silently mean the default.
    model_config = ConfigDict(extra="forbid")


class ModelRequest(_Request):
    model: ModelName


class CellRequest(_Request):
    sax_cell: CellName


class PublishRequest(_Request):
    model: ModelName
    model_path: ModelPath
    checkpoint: Checkpoint
    replicas: Replicas


class GenerateRequest(_Request):
    model: ModelName
    query: Prompt
    extra_inputs: ExtraInputs = {}


def _message(error: dict[str, Any]) -> str:
    """One readable line for a pydantic error: `field: what is wrong`."""
    location = [str(part) for part in error["loc"]]
    if location[:1] in (["body"], ["query"]):
        location = location[1:]
    where = ".".join(location) or "request body"
    kind = error["type"]
    if kind == "missing":
        return f"{where}: required" if location else "request body: required (a JSON object)"
    if kind == "extra_forbidden":
        return f"{where}: unknown field"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{where}: must be a JSON object"
    if kind == "value_error":
        return f"{where}: {error['ctx']['error']}"
    return f"{where}: {error['msg']}"


def _validation_response(errors: list[dict[str, Any]]) -> JSONResponse:
    invalid_json = [error for error in errors if error["type"] == "json_invalid"]
    if invalid_json:
        reason = invalid_json[0].get("ctx", {}).get("error", invalid_json[0]["msg"])
        return JSONResponse({"detail": f"request body is not valid JSON: {reason}"}, status_code=400)
    return JSONResponse({"detail": "; ".join(_message(error) for error in errors)}, status_code=422)


RequestModel = TypeVar("RequestModel", bound=_Request)


async def _body_or_query(request: Request, model: type[RequestModel], name: str, value: str | None) -> RequestModel:
    """A GET request's one field, from its JSON body (as the tutorial's curl sends it) or its query parameter."""
    body = await request.body()
    if body.strip():
        try:
            parsed = model.model_validate_json(body)
        except ValidationError as error:
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from error
        if value is not None and value != getattr(parsed, name):
            raise RequestValidationError(
                [{"type": "value_error", "loc": (name,), "ctx": {"error": "given twice, differently (body, query)"}}]
            )
        return parsed
    if value is None:
        raise RequestValidationError(
            [{"type": "value_error", "loc": (name,), "ctx": {"error": f"required: ?{name}=... or a JSON body"}}]
        )
    try:
        return model.model_validate({name: value})
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in error.errors()]) from error


def _endpoints(app: FastAPI) -> list[str]:
    documentation = {app.openapi_url, app.docs_url, app.redoc_url, "/docs/oauth2-redirect"}
    return [
        f"{method} {route.path}"
        for route in app.routes
        if isinstance(route, APIRoute) and route.path not in documentation
        for method in sorted(route.methods or ())
    ]


def _within_replica_limit(body: PublishRequest, max_replicas: int) -> None:
    # Checked here, not by the model: the bound is the server's setting (SAXML_MAX_REPLICAS), not a constant.
    if body.replicas > max_replicas:
        error = f"must be at most {max_replicas} model server replicas ({MAX_REPLICAS_ENV}), got {body.replicas}"
        raise RequestValidationError([{"type": "value_error", "loc": ("body", "replicas"), "ctx": {"error": error}}])


def create_app(backend: Backend, backend_name: str = "sax", limits: Limits | None = None) -> FastAPI:
    """The FastAPI application over `backend`, within `limits` (guards.py; None: the defaults, no admin token)."""
    limits = limits or Limits()
    app = FastAPI(title="Saxml HTTP server", summary=__doc__.splitlines()[0])
    # The last added runs first: the token is checked before the body is counted, and both before it is parsed.
    app.add_middleware(BodySizeLimit, max_body_bytes=limits.max_body_bytes)
    app.add_middleware(AdminToken, token=limits.admin_token, paths=ADMIN_PATHS)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return _validation_response(list(error.errors()))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        # Starlette's own answers for an unknown path or method say only "Not Found" / "Method Not Allowed".
        detail = error.detail
        if error.status_code == 404 and detail == "Not Found":
            detail = f"no endpoint {request.url.path}; the endpoints: {', '.join(_endpoints(app))}"
        elif error.status_code == 405 and detail == "Method Not Allowed":
            allowed = (error.headers or {}).get("Allow", "")
            detail = f"{request.url.path} does not take {request.method}; it takes {allowed}"
        return JSONResponse({"detail": detail}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(BackendFailure)
    async def backend_failure(request: Request, failure: BackendFailure) -> JSONResponse:
        LOG.warning("%s %s: %s %s", request.method, request.url.path, failure.status_code, failure)
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if isinstance(failure, BackendUnavailable) else None
        return JSONResponse({"detail": str(failure)}, status_code=failure.status_code, headers=headers)

    @app.get("/")
    async def root() -> dict[str, str]:
        return {"message": ROOT_MESSAGE, "backend": backend_name}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(PUBLISH_PATH)
    async def publish(body: PublishRequest) -> dict[str, Any]:
        _within_replica_limit(body, limits.max_replicas)
        await run_in_threadpool(backend.publish, body.model, body.model_path, body.checkpoint, body.replicas)
        LOG.info("published %s (%s, %s, %d replicas)", body.model, body.model_path, body.checkpoint, body.replicas)
        return body.model_dump()

    @app.post(UPDATE_PATH)
    async def update(body: PublishRequest) -> dict[str, Any]:
        _within_replica_limit(body, limits.max_replicas)
        await run_in_threadpool(backend.update, body.model, body.model_path, body.checkpoint, body.replicas)
        LOG.info("updated %s to %d replicas", body.model, body.replicas)
        return body.model_dump()

    @app.post(UNPUBLISH_PATH)
    async def unpublish(body: ModelRequest) -> dict[str, str]:
        await run_in_threadpool(backend.unpublish, body.model)
        LOG.info("unpublished %s", body.model)
        return {"model": body.model}

    @app.get("/listcell")
    async def listcell(request: Request, model: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        checked = await _body_or_query(request, ModelRequest, "model", model)
        detail = await run_in_threadpool(backend.list_model, checked.model)
        return {
            "model": detail.model,
            "model_path": detail.model_path,
            "checkpoint": detail.checkpoint,
            "max_replicas": detail.max_replicas,
            "active_replicas": detail.active_replicas,
        }

    @app.get("/listall")
    async def listall(request: Request, sax_cell: Annotated[str | None, Query()] = None) -> list[str]:
        checked = await _body_or_query(request, CellRequest, "sax_cell", sax_cell)
        return await run_in_threadpool(backend.list_cell, checked.sax_cell)

    @app.post("/generate")
    async def generate(body: GenerateRequest) -> list[tuple[str, float]]:
        return await run_in_threadpool(backend.generate, body.model, body.query, body.extra_inputs)

    return app
