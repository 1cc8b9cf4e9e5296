"""TEST DOUBLE: a stand-in for vLLM's OpenAI-compatible server, used only by tests. It runs no model.

vLLM cannot run on the machines this project is built on, so the load generator and the launcher are tested
against this server instead. It speaks the parts of vLLM's HTTP interface they use and fakes the rest:

    python openai_test_server.py --port PORT [--host 127.0.0.1] [--model NAME] [--served-model-name NAME]
        [--api-key KEY] [--tokens-per-second 200] [--ttft-ms 20] [--fail-every N] [--hang-after-ms MS]
        [--max-num-seqs 256] [any other argument, recorded and otherwise ignored]

- Any unknown argument is accepted and recorded, so a launcher under test can start this script in place of
  `vllm serve` with vLLM's own flags (`--tensor-parallel-size 8 --max-model-len 4096 ...`) and the test can read
  them back from `GET /test/argv`. `vllm serve MODEL` style (a leading `serve` and the model) is understood too.
- Served model names: `--served-model-name` (one or more; requests may name any of them, responses and metrics
  carry the first, as vLLM does), else `--model`, else the positional model, else "test-model".
- Generation: `max_tokens` (default 16) fake tokens, the first after `--ttft-ms`, then `--tokens-per-second`
  per request; "tokens" of the prompt are whitespace-separated words (or the ids of a token-id prompt).
- Faults: every `--fail-every`th generation request answers HTTP 500 (0: never); a request with
  `max_tokens` 999 waits `--hang-after-ms` before answering (0: no wait), to exercise client timeouts.
- Auth as vLLM does it: with `--api-key KEY` (or env VLLM_API_KEY) the /v1 routes need `Authorization: Bearer KEY`.
- At most `--max-num-seqs` requests generate at once; the rest wait, as `vllm:num_requests_waiting` shows.

Endpoints: GET /health, GET /test/argv and GET /test/peers (test-only: the client ports seen on /v1, so a test can
tell whether a client reuses its connections), GET /metrics, GET /v1/models, POST /v1/completions,
POST /v1/chat/completions (both with `stream: true` as SSE and `stream_options.include_usage`).
Errors are OpenAI-style bodies: `{"error": {"message", "type", "param", "code"}}`.
"""

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_MODEL_NAME = "test-model"
# The max_tokens value that asks for a hang (with --hang-after-ms): a test can then time out one request on purpose.
HANG_MAX_TOKENS = 999
# The environment variables that /test/argv reports: the ones a launcher sets for vLLM, Hugging Face and the TPU stack.
RECORDED_ENV_PREFIXES = ("VLLM_", "HF_", "XLA_", "JAX_", "PJRT_")
_FAKE_WORDS = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit")


@dataclass(frozen=True)
class ServerSettings:
    served_model_name: str
    """The first served name: what responses and metrics report."""
    served_model_names: tuple[str, ...]
    """Every name a request may use."""
    tokens_per_second: float
    ttft_s: float
    fail_every: int
    hang_s: float
    api_key: str | None
    max_num_seqs: int
    argv: tuple[str, ...]
    """Every argument after the program name, known or not, in order."""
    unknown_args: tuple[str, ...]


def parse_settings(argv: Sequence[str], environ: dict[str, str]) -> tuple[ServerSettings, str, int]:
    """Returns the settings, the host and the port."""
    # allow_abbrev=False: an unknown vLLM flag must be recorded, never taken for an abbreviation of one of ours.
    parser = argparse.ArgumentParser(description="Stand-in for vLLM's OpenAI server (tests only).", allow_abbrev=False)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", default=None)
    parser.add_argument("--served-model-name", nargs="+", default=None)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--tokens-per-second", type=float, default=200.0)
    parser.add_argument("--ttft-ms", type=float, default=20.0)
    parser.add_argument("--fail-every", type=int, default=0)
    parser.add_argument("--hang-after-ms", type=float, default=0.0)
    parser.add_argument("--max-num-seqs", type=int, default=256)
    known, unknown = parser.parse_known_args(list(argv))
    if known.tokens_per_second <= 0 or known.ttft_ms < 0 or known.fail_every < 0 or known.max_num_seqs < 1:
        parser.error("--tokens-per-second must be > 0, --ttft-ms and --fail-every >= 0, --max-num-seqs >= 1")

    positional_model = unknown[1] if len(unknown) > 1 and unknown[0] == "serve" and unknown[1][:1] != "-" else None
    model = known.model or positional_model
    names = tuple(known.served_model_name or [model or DEFAULT_MODEL_NAME])
    settings = ServerSettings(
        served_model_name=names[0],
        served_model_names=names,
        tokens_per_second=known.tokens_per_second,
        ttft_s=known.ttft_ms / 1000,
        fail_every=known.fail_every,
        hang_s=known.hang_after_ms / 1000,
        api_key=known.api_key or environ.get("VLLM_API_KEY") or None,
        max_num_seqs=known.max_num_seqs,
        argv=tuple(argv),
        unknown_args=tuple(unknown),
    )
    return settings, known.host, known.port


class StreamOptions(BaseModel):
    include_usage: bool = False


class CompletionRequest(BaseModel):
    # vLLM accepts many sampling parameters; the stand-in ignores them rather than rejecting a real client's request.
    model_config = ConfigDict(extra="allow")
    model: str | None = None
    prompt: str | list[int]
    max_tokens: int = Field(default=16, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None


class OpenAIError(Exception):
    def __init__(self, status: int, message: str, error_type: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type


def _error_response(status: int, message: str, error_type: str) -> JSONResponse:
    body = {"error": {"message": message, "type": error_type, "param": None, "code": status}}
    return JSONResponse(body, status_code=status)


@dataclass
class _Counters:
    running: int = 0
    waiting: int = 0
    generation_requests: int = 0
    prompt_tokens_total: int = 0
    generation_tokens_total: int = 0
    request_success_total: int = 0


@dataclass
class _Generation:
    """One generation request, normalised from either API."""

    kind: str  # "completion" or "chat"
    max_tokens: int
    prompt_tokens: int
    stream: bool
    include_usage: bool
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: int = field(default_factory=lambda: int(time.time()))


def _word_count(text: str) -> int:
    return len(text.split())


def _fake_token(index: int) -> str:
    return " " + _FAKE_WORDS[index % len(_FAKE_WORDS)]


class _PeerRecorder:
    """Pure ASGI middleware: records the client port of every /v1 request (no wrapping of streamed bodies)."""

    def __init__(self, app: Any, peers: set[int]) -> None:
        self.app, self.peers = app, peers

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/") and scope.get("client"):
            self.peers.add(scope["client"][1])
        await self.app(scope, receive, send)


def create_app(settings: ServerSettings, environ: dict[str, str]) -> FastAPI:
    app = FastAPI(title="openai-test-server (stand-in for vLLM)")
    counters = _Counters()
    peers: set[int] = set()
    app.add_middleware(_PeerRecorder, peers=peers)
    slots = asyncio.Semaphore(settings.max_num_seqs)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        # vLLM answers a malformed request with 400, not FastAPI's default 422.
        return _error_response(400, str(exc.errors()), "BadRequestError")

    @app.exception_handler(OpenAIError)
    async def openai_error(_: Request, exc: OpenAIError) -> JSONResponse:
        return _error_response(exc.status, exc.message, exc.error_type)

    def require_api_key(request: Request) -> None:
        if settings.api_key is not None and request.headers.get("authorization") != f"Bearer {settings.api_key}":
            raise OpenAIError(401, "Unauthorized", "AuthenticationError")

    @asynccontextmanager
    async def generation_slot() -> AsyncIterator[None]:
        counters.waiting += 1
        try:
            await slots.acquire()
        finally:
            counters.waiting -= 1
        counters.running += 1
        try:
            yield
        finally:
            counters.running -= 1
            slots.release()

    async def fake_tokens(max_tokens: int) -> AsyncIterator[str]:
        # Paced against the start time, not by sleeping a fixed step per token, so the rate does not drift.
        start = time.perf_counter()
        for index in range(max_tokens):
            due = start + settings.ttft_s + index / settings.tokens_per_second
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            counters.generation_tokens_total += 1
            yield _fake_token(index)

    async def admit(model: str | None, generation: _Generation) -> None:
        """The checks and faults every generation request goes through before it generates."""
        if model is not None and model not in settings.served_model_names:
            raise OpenAIError(400, f"The model `{model}` does not exist.", "NotFoundError")
        counters.generation_requests += 1
        if settings.fail_every and counters.generation_requests % settings.fail_every == 0:
            raise OpenAIError(500, "Injected failure (--fail-every)", "InternalServerError")
        if generation.max_tokens == HANG_MAX_TOKENS and settings.hang_s > 0:
            await asyncio.sleep(settings.hang_s)
        counters.prompt_tokens_total += generation.prompt_tokens

    def usage(generation: _Generation) -> dict[str, int]:
        return {
            "prompt_tokens": generation.prompt_tokens,
            "completion_tokens": generation.max_tokens,
            "total_tokens": generation.prompt_tokens + generation.max_tokens,
        }

    def envelope(generation: _Generation, chunk: bool) -> dict[str, Any]:
        if generation.kind == "completion":
            id_prefix, obj = "cmpl-", "text_completion"
        else:
            id_prefix, obj = "chatcmpl-", "chat.completion.chunk" if chunk else "chat.completion"
        return {
            "id": id_prefix + generation.id,
            "object": obj,
            "created": generation.created,
            "model": settings.served_model_name,
        }

    def choice(generation: _Generation, text: str, finish_reason: str | None, chunk: bool) -> dict[str, Any]:
        if generation.kind == "completion":
            return {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}
        body = {"delta": {"content": text}} if chunk else {"message": {"role": "assistant", "content": text}}
        return {"index": 0, **body, "logprobs": None, "finish_reason": finish_reason}

    async def respond(generation: _Generation) -> JSONResponse | StreamingResponse:
        if not generation.stream:
            async with generation_slot():
                text = "".join([token async for token in fake_tokens(generation.max_tokens)])
            counters.request_success_total += 1
            body = envelope(generation, chunk=False)
            body["choices"] = [choice(generation, text, "length", chunk=False)]
            body["usage"] = usage(generation)
            return JSONResponse(body)
        return StreamingResponse(stream(generation), media_type="text/event-stream")

    async def stream(generation: _Generation) -> AsyncIterator[str]:
        def event(payload: dict[str, Any]) -> str:
            if generation.include_usage:
                payload.setdefault("usage", None)
            return f"data: {json.dumps(payload)}\n\n"

        async with generation_slot():
            if generation.kind == "chat":
                # vLLM opens a chat stream with a role-only chunk before any token: a client must not take it
                # for the first token.
                first = envelope(generation, chunk=True)
                delta = {"role": "assistant", "content": ""}
                first["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]
                yield event(first)
            index = 0
            async for token in fake_tokens(generation.max_tokens):
                index += 1
                finish_reason = "length" if index == generation.max_tokens else None
                payload = envelope(generation, chunk=True)
                payload["choices"] = [choice(generation, token, finish_reason, chunk=True)]
                yield event(payload)
        counters.request_success_total += 1
        if generation.include_usage:
            last = envelope(generation, chunk=True)
            last["choices"] = []
            last["usage"] = usage(generation)
            yield event(last)
        yield "data: [DONE]\n\n"

    @app.get("/health")
    async def health() -> PlainTextResponse:
        return PlainTextResponse("")

    @app.get("/test/argv")
    async def test_argv() -> dict[str, Any]:
        recorded_env = {name: value for name, value in environ.items() if name.startswith(RECORDED_ENV_PREFIXES)}
        return {
            "argv": list(settings.argv),
            "unknown_args": list(settings.unknown_args),
            "served_model_name": settings.served_model_name,
            "served_model_names": list(settings.served_model_names),
            "env": recorded_env,
        }

    @app.get("/test/peers")
    async def test_peers() -> dict[str, Any]:
        return {"client_ports": sorted(peers)}

    @app.get("/metrics")
    async def metrics() -> PlainTextResponse:
        label = f'{{model_name="{settings.served_model_name}"}}'
        samples = [
            ("vllm:num_requests_running", "gauge", "Requests generating now.", counters.running),
            ("vllm:num_requests_waiting", "gauge", "Requests waiting for a slot.", counters.waiting),
            ("vllm:prompt_tokens_total", "counter", "Prompt tokens processed.", counters.prompt_tokens_total),
            ("vllm:generation_tokens_total", "counter", "Tokens generated.", counters.generation_tokens_total),
            ("vllm:request_success_total", "counter", "Requests finished.", counters.request_success_total),
        ]
        lines: list[str] = []
        for name, kind, help_text, value in samples:
            family = name.removesuffix("_total") if kind == "counter" else name
            lines += [f"# HELP {family} {help_text}", f"# TYPE {family} {kind}", f"{name}{label} {float(value)}"]
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    @app.get("/v1/models", dependencies=[Depends(require_api_key)])
    async def models() -> dict[str, Any]:
        model = {"id": settings.served_model_name, "object": "model", "created": 0, "owned_by": "vllm"}
        return {"object": "list", "data": [model]}

    @app.post("/v1/completions", dependencies=[Depends(require_api_key)], response_model=None)
    async def completions(request: CompletionRequest) -> JSONResponse | StreamingResponse:
        prompt_tokens = len(request.prompt) if isinstance(request.prompt, list) else _word_count(request.prompt)
        generation = _Generation(
            kind="completion",
            max_tokens=request.max_tokens,
            prompt_tokens=prompt_tokens,
            stream=request.stream,
            include_usage=bool(request.stream_options and request.stream_options.include_usage),
        )
        await admit(request.model, generation)
        return await respond(generation)

    @app.post("/v1/chat/completions", dependencies=[Depends(require_api_key)], response_model=None)
    async def chat_completions(request: ChatCompletionRequest) -> JSONResponse | StreamingResponse:
        prompt_tokens = sum(_word_count(m.content) for m in request.messages if isinstance(m.content, str))
        generation = _Generation(
            kind="chat",
            max_tokens=request.max_completion_tokens or request.max_tokens or 16,
            prompt_tokens=prompt_tokens,
            stream=request.stream,
            include_usage=bool(request.stream_options and request.stream_options.include_usage),
        )
        await admit(request.model, generation)
        return await respond(generation)

    return app


def main(argv: Sequence[str] | None = None) -> None:
    settings, host, port = parse_settings(sys.argv[1:] if argv is None else argv, dict(os.environ))
    app = create_app(settings, dict(os.environ))
    # A short graceful shutdown: a test terminating the server must not wait for a deliberately hanging request.
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=1)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
