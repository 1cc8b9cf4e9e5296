"""The Saxml HTTP server's API from Python, with retries: connection errors and 5xx answers are retried with
exponential backoff (a 503's Retry-After is honoured up to the longest backoff); a 4xx answer is final.

Retrying a POST is safe in practice: the server's 503 means Sax was not reached. Only after a connection lost
mid-request may a retried publish find its first attempt done; it then fails with the server's 409, as it says.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

Log = Callable[[str], None]


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all; the n-th retry waits backoff_s * 2**(n-1), at most max_backoff_s."""

    attempts: int = 5
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0

    def delay(self, retry: int, retry_after_s: float = 0.0) -> float:
        """Seconds to wait before retry number `retry` (1, 2, ...)."""
        return min(max(self.backoff_s * 2 ** (retry - 1), retry_after_s), self.max_backoff_s)


class RequestFailed(Exception):
    """The server refused a request (`status` 4xx), or it kept failing (`status` 5xx or None: no answer)."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Outcome:
    """One attempt: the decoded answer, or why it failed and whether that is worth retrying."""

    value: Any = None
    error: str = ""
    status: int | None = None
    retry_after_s: float = 0.0

    def retriable(self) -> bool:
        """A connection error or a 5xx answer."""
        return bool(self.error) and (self.status is None or self.status >= 500)


def _retry_after(response: httpx.Response) -> float:
    try:
        return float(response.headers.get("Retry-After", "0"))
    except ValueError:
        return 0.0


class SaxmlHttpClient:
    """Calls one Saxml HTTP server (`server`, e.g. http://saxml-http:8888); with `admin_token`, every request carries
    `Authorization: Bearer <admin_token>`, which a server with SAXML_ADMIN_TOKEN requires on its admin endpoints."""

    def __init__(
        self,
        server: str,
        retry: RetryPolicy = RetryPolicy(),
        timeout_s: float = 60.0,
        log: Log = lambda line: None,
        sleep: Callable[[float], None] = time.sleep,
        admin_token: str | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self.retry = retry
        headers = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}
        self._http = httpx.Client(base_url=self.server, timeout=timeout_s, headers=headers)
        self._timeout_s = timeout_s
        self._log = log
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def _attempt(
        self, method: str, path: str, body: Mapping[str, Any] | None, params: Mapping[str, str] | None
    ) -> Outcome:
        try:
            response = self._http.request(method, path, json=body, params=params)
        except httpx.ConnectError as error:
            return Outcome(error=f"cannot connect to {self.server} ({error})")
        except httpx.TimeoutException:
            return Outcome(error=f"no answer from {self.server} within {self._timeout_s:g} s")
        except httpx.TransportError as error:
            return Outcome(error=f"connection to {self.server} failed ({type(error).__name__}: {error})")
        if response.is_success:
            return Outcome(value=response.json())
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text.strip() or response.reason_phrase
        return Outcome(
            error=f"HTTP {response.status_code}: {detail}",
            status=response.status_code,
            retry_after_s=_retry_after(response),
        )

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        retry_on: Callable[[Outcome], bool] = Outcome.retriable,
        patience_s: float | None = None,
    ) -> Any:
        """The decoded JSON answer. A failure for which `retry_on` is true is retried: `retry.attempts` attempts in
        all or, with `patience_s`, for that many seconds. Raises RequestFailed when it gives up or on another error."""
        deadline = None if patience_s is None else time.monotonic() + patience_s
        attempt = 0
        while True:
            attempt += 1
            outcome = self._attempt(method, path, body, params)
            if not outcome.error:
                return outcome.value
            if not retry_on(outcome):
                raise RequestFailed(f"{method} {path}: {outcome.error}", outcome.status)
            delay = self.retry.delay(attempt, outcome.retry_after_s)
            if deadline is None and attempt >= self.retry.attempts:
                gave_up = f"gave up after {attempt} attempts"
            elif deadline is not None and time.monotonic() + delay > deadline:
                gave_up = f"gave up after {patience_s:g} s"
            else:
                self._log(f"{method} {path}: {outcome.error}; retrying in {delay:g} s")
                self._sleep(delay)
                continue
            raise RequestFailed(f"{method} {path}: {gave_up}: {outcome.error}", outcome.status)

    def wait_until_ready(self, cell: str, timeout_s: float) -> list[str]:
        """The models of `cell`, once GET /listall answers: until then the HTTP server may not be up (no connection),
        and the admin server behind it may be starting (503) or not have registered the cell yet (404)."""
        models: list[str] = self.request(
            "GET",
            "/listall",
            params={"sax_cell": cell},
            retry_on=lambda outcome: outcome.retriable() or outcome.status == 404,
            patience_s=timeout_s,
        )
        return models

    def publish(self, model: str, model_path: str, checkpoint: str, replicas: int) -> dict[str, Any]:
        body = {"model": model, "model_path": model_path, "checkpoint": checkpoint, "replicas": replicas}
        answer: dict[str, Any] = self.request("POST", "/publish", body)
        return answer

    def update(self, model: str, model_path: str, checkpoint: str, replicas: int) -> dict[str, Any]:
        body = {"model": model, "model_path": model_path, "checkpoint": checkpoint, "replicas": replicas}
        answer: dict[str, Any] = self.request("POST", "/update", body)
        return answer

    def unpublish(self, model: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.request("POST", "/unpublish", {"model": model})
        return answer

    def listcell(self, model: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.request("GET", "/listcell", params={"model": model})
        return answer

    def listall(self, cell: str) -> list[str]:
        answer: list[str] = self.request("GET", "/listall", params={"sax_cell": cell})
        return answer

    def generate(self, model: str, query: str, extra_inputs: Mapping[str, float]) -> list[list[Any]]:
        body: dict[str, Any] = {"model": model, "query": query}
        if extra_inputs:
            body["extra_inputs"] = dict(extra_inputs)
        answer: list[list[Any]] = self.request("POST", "/generate", body)
        return answer
