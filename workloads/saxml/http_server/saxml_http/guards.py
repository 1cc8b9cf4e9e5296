"""The server's limits, checked before a request reaches an endpoint: a cap on the request body, enforced while it
arrives (before it is parsed), a bound on replicas, and a bearer token on the admin endpoints when one is configured.

Environment (read once at start-up by `Limits.from_env`; a bad value stops the server with a message naming it):
  SAXML_MAX_BODY_BYTES  the largest request body accepted, in bytes (1048576, 1 MiB): a larger one is answered 413
                        before it is parsed. The largest body a client sends is a /generate prompt: the lm_cloud
                        models of Saxml v1.2.0 take at most 4096 input tokens (INPUT_SEQ_LEN in
                        saxml/server/pax/lm/params/lm_cloud.py, commit be31b49b, checked 2026-12-02), far below 1 MiB.
  SAXML_MAX_REPLICAS    the most model server replicas a /publish or /update may ask for (64); at most 2147483647,
                        the ceiling of Sax's own field (`int32 requested_num_replicas` in saxml/protobuf/admin.proto,
                        v1.2.0). This project's bound, not Sax's: a typo such as 200 instead of 2 would otherwise ask
                        Sax for 200 TPU slices.
  SAXML_ADMIN_TOKEN     when set, /publish, /update and /unpublish need `Authorization: Bearer <token>` (401
                        otherwise); at least 16 visible ASCII characters, no spaces. Set it from a Kubernetes Secret
                        whenever the server is reachable from outside its namespace; the client (saxml_client) sends
                        the same variable's value.
"""

import hmac
import json
import re
from collections.abc import Awaitable, Callable, Collection, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException

MAX_BODY_BYTES_ENV = "SAXML_MAX_BODY_BYTES"
MAX_REPLICAS_ENV = "SAXML_MAX_REPLICAS"
ADMIN_TOKEN_ENV = "SAXML_ADMIN_TOKEN"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_REPLICAS = 64
SAX_MAX_REPLICAS = 2**31 - 1  # int32 requested_num_replicas, saxml/protobuf/admin.proto
MIN_ADMIN_TOKEN_CHARS = 16
# Visible ASCII without spaces: what an HTTP header carries unchanged, so a token set here can be sent as is.
_TOKEN = re.compile(r"[\x21-\x7e]+")
_DIGITS = re.compile(r"[0-9]+")
# RFC 6750 section 3: a 401 carries a Bearer challenge; a token that does not match gets error="invalid_token".
_CHALLENGE = 'Bearer realm="saxml-admin"'

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_replicas: int = DEFAULT_MAX_REPLICAS
    admin_token: str | None = None
    """None: the admin endpoints are open to whoever reaches the server (its namespace, by NetworkPolicy)."""

    def __repr__(self) -> str:  # never show the token, e.g. in a traceback
        token = "set" if self.admin_token else "none"
        return f"Limits(max_body_bytes={self.max_body_bytes}, max_replicas={self.max_replicas}, admin_token={token})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "Limits":
        """The limits the environment sets; raises RuntimeError naming each bad variable (never the token)."""
        problems: list[str] = []

        def whole_number(name: str, default: int, highest: int) -> int:
            text = environ.get(name, "")
            if not text:
                return default
            if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= highest:
                problems.append(f"{name} must be a whole number from 1 to {highest}, got {text!r}")
                return default
            return int(text)

        max_body_bytes = whole_number(MAX_BODY_BYTES_ENV, DEFAULT_MAX_BODY_BYTES, 2**63 - 1)
        max_replicas = whole_number(MAX_REPLICAS_ENV, DEFAULT_MAX_REPLICAS, SAX_MAX_REPLICAS)
        token = environ.get(ADMIN_TOKEN_ENV)
        if token is not None and (len(token) < MIN_ADMIN_TOKEN_CHARS or not _TOKEN.fullmatch(token)):
            problems.append(
                f"{ADMIN_TOKEN_ENV} must be at least {MIN_ADMIN_TOKEN_CHARS} visible ASCII characters without spaces "
                f"(got {len(token)} characters; unset it to leave the admin endpoints open to the namespace)"
            )
        if problems:
            raise RuntimeError("; ".join(problems))
        return cls(max_body_bytes, max_replicas, token or None)


def too_large_message(max_body_bytes: int) -> str:
    return f"request body too large: at most {max_body_bytes} bytes ({MAX_BODY_BYTES_ENV})"


async def _answer(send: Send, status: int, detail: str, headers: Mapping[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(name.encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """Pure ASGI middleware: a body declared (Content-Length) or found (counted as it streams in, chunked or not)
    to be larger than `max_body_bytes` is answered 413 without being read further or parsed."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # A malformed Content-Length never gets here: the HTTP server (uvicorn's h11) answers it 400 itself.
        declared = _header(scope, b"content-length")
        if declared is not None and _DIGITS.fullmatch(declared) and int(declared) > self.max_body_bytes:
            await _answer(send, 413, too_large_message(self.max_body_bytes), {"Connection": "close"})
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # An HTTPException passes through FastAPI's body reading (which turns other errors into 400)
                    # and is answered by the app's exception middleware as {"detail": ...}.
                    raise HTTPException(413, too_large_message(self.max_body_bytes), {"Connection": "close"})
            return message

        await self.app(scope, counted, send)


class AdminToken:
    """Pure ASGI middleware: with a token configured, requests to `paths` without `Authorization: Bearer <token>`
    are answered 401 before their body is read. Tokens are compared in constant time (hmac.compare_digest)."""

    def __init__(self, app: ASGIApp, token: str | None, paths: Collection[str]) -> None:
        self.app = app
        self._token = token.encode() if token else None
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._token is None or scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        scheme, _, credentials = (_header(scope, b"authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            await _answer(
                send,
                401,
                f"{scope['path']} needs the admin token: send Authorization: Bearer <token>, the value of the "
                f"server's {ADMIN_TOKEN_ENV} (saxml_client sends it from its own {ADMIN_TOKEN_ENV})",
                {"WWW-Authenticate": _CHALLENGE},
            )
            return
        if not hmac.compare_digest(credentials.strip().encode("latin-1"), self._token):
            await _answer(
                send,
                401,
                f"{scope['path']}: the bearer token is not the admin token ({ADMIN_TOKEN_ENV})",
                {"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'},
            )
            return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
