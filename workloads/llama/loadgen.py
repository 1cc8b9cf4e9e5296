"""Load generator for an OpenAI-compatible server (vLLM): keeps a fixed number of streaming requests in flight and
reports throughput and latency: output tokens/s, requests/s, TTFT, TPOT and end-to-end percentiles.

    python loadgen.py --url http://HOST:8000 --model NAME [--api chat|completions] [--concurrency 64]
        [--requests 1000] [--duration 300] [--max-tokens 256] [--prompt-tokens 128 | --prompt-file FILE]
        [--timeout 120] [--api-key KEY (default: env OPENAI_API_KEY)] [--json results.json] [--no-progress]

The run stops issuing requests at whichever limit comes first, --requests or --duration; requests in flight then
finish or time out. Every request streams (so the first token can be timed) and asks for a final usage chunk.
Exit code: 0 if at least one request succeeded, 1 if all failed, 2 for bad usage.

Definitions (successful requests only):
- TTFT: from sending the request to the first chunk with generated text (a chat stream's role-only chunk is not).
- TPOT: time per output token after the first, (end-to-end - TTFT) / (output tokens - 1).
- Output tokens: `usage.completion_tokens` of the final chunk when the server sends it, else the text chunks.
- output tokens/s: all output tokens / wall time of the run; requests/s: succeeded requests / wall time.
"""

import argparse
import asyncio
import dataclasses
import json
import math
import os
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from tqdm import tqdm

EXIT_OK = 0
EXIT_ALL_FAILED = 1
EXIT_USAGE = 2  # argparse's own exit code for bad arguments

# Words that Llama's tokenizer keeps whole, so a synthetic prompt of N words is about N tokens.
_FILLER_WORDS = ("the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "and", "then", "runs", "home")


class Api(StrEnum):
    CHAT = "chat"
    COMPLETIONS = "completions"

    @property
    def path(self) -> str:
        return "/v1/chat/completions" if self is Api.CHAT else "/v1/completions"


@dataclass(frozen=True)
class LoadConfig:
    url: str
    """Base URL of the server, e.g. http://127.0.0.1:8000 (no /v1)."""
    model: str
    api: Api = Api.CHAT
    concurrency: int = 64
    """Requests kept in flight at once."""
    max_requests: int = 1000
    duration_s: float = 300.0
    """No request is issued after this many seconds from the start."""
    max_tokens: int = 256
    prompt_tokens: int = 128
    """Approximate length of the synthetic prompt; ignored when `prompts` is given."""
    prompts: tuple[str, ...] = ()
    """Prompts to send in turn; empty: synthetic ones."""
    timeout_s: float = 120.0
    """Limit on each request as a whole, connection to last byte."""
    api_key: str | None = None
    progress: bool = False

    def __post_init__(self) -> None:
        for name in ("concurrency", "max_requests", "max_tokens", "prompt_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("duration_s", "timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be greater than 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class StreamChunk:
    """What one server-sent event of a completion stream carries."""

    text: str = ""
    usage: Usage | None = None
    done: bool = False
    """The `[DONE]` sentinel that ends an OpenAI stream."""
    error: str | None = None


@dataclass(frozen=True)
class RequestResult:
    failure: str | None
    """None if it succeeded; else `http_<status>`, `timeout`, `connection` or `bad_response`."""
    detail: str = ""
    e2e_s: float = 0.0
    ttft_s: float | None = None
    output_tokens: int = 0


@dataclass(frozen=True)
class LatencyStats:
    p50: float
    p90: float
    p99: float
    mean: float


@dataclass(frozen=True)
class Report:
    """The outcome of a run. Latencies are in milliseconds, over the succeeded requests (None if there are none)."""

    url: str
    model: str
    api: str
    concurrency: int
    max_in_flight: int
    """The most requests that were in flight at once (below `concurrency` if the run was short)."""
    max_tokens: int
    stopped_by: str
    """Which limit ended the issuing of requests: "requests" or "duration"."""
    requests_sent: int
    requests_succeeded: int
    requests_failed: int
    failures: dict[str, int]
    """Failed requests by kind: `http_<status>`, `timeout`, `connection`, `bad_response`."""
    failure_examples: dict[str, str]
    """The first failure's message, by kind."""
    duration_s: float
    output_tokens: int
    output_tokens_per_s: float
    requests_per_s: float
    """Succeeded requests per second."""
    ttft_ms: LatencyStats | None
    tpot_ms: LatencyStats | None
    e2e_ms: LatencyStats | None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Pure helpers.


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0 to 100), interpolating linearly between the closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, got {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    lower, upper = math.floor(rank), math.ceil(rank)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (rank - lower)


def latency_stats_ms(seconds: Sequence[float]) -> LatencyStats | None:
    if not seconds:
        return None
    millis = [value * 1000 for value in seconds]
    return LatencyStats(
        p50=percentile(millis, 50),
        p90=percentile(millis, 90),
        p99=percentile(millis, 99),
        mean=sum(millis) / len(millis),
    )


def time_per_output_token(e2e_s: float, ttft_s: float | None, output_tokens: int) -> float | None:
    """(e2e - TTFT) / (output tokens - 1): the decode time per token; None when fewer than two tokens came."""
    if ttft_s is None or output_tokens < 2:
        return None
    return (e2e_s - ttft_s) / (output_tokens - 1)


class SseDecoder:
    """Splits a server-sent event stream, fed line by line, into the data of each event (multi-line data joined)."""

    def __init__(self) -> None:
        self._data: list[str] = []
        self._partial = b""

    def feed(self, line: str) -> str | None:
        """The data of the event this line completes (a blank line ends an event), else None."""
        if line == "":
            return self.flush()
        field, _, value = line.partition(":")
        if field == "data":
            self._data.append(value.removeprefix(" "))
        # Comments (":..."), "event:", "id:" and "retry:" carry nothing a completion stream needs.
        return None

    def feed_bytes(self, chunk: bytes) -> list[str]:
        """The data of each event that `chunk` (a piece of the raw stream, cut anywhere) completes. Splitting bytes
        here costs less than httpx's text and line decoders, which run for every chunk of a stream."""
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        events = []
        for line in lines:
            data = self.feed(line.removesuffix(b"\r").decode())
            if data is not None:
                events.append(data)
        return events

    def flush(self) -> str | None:
        """The data of an event the stream ended without a blank line after, else None."""
        if not self._data:
            return None
        data, self._data = "\n".join(self._data), []
        return data


def parse_chunk(data: str) -> StreamChunk:
    """One event's data from /v1/completions or /v1/chat/completions; raises ValueError if it is not JSON."""
    if data.strip() == "[DONE]":
        return StreamChunk(done=True)
    payload = json.loads(data)
    if not isinstance(payload, dict):
        raise ValueError(f"stream chunk is not a JSON object: {data[:200]}")
    # vLLM reports an error raised mid-stream as an event: {"error": {...}} (older releases: {"object": "error"}).
    if "error" in payload or payload.get("object") == "error":
        error = payload.get("error", payload)
        return StreamChunk(error=str(error.get("message", error) if isinstance(error, dict) else error))
    text = ""
    for choice in payload.get("choices") or []:
        # completions put the text in "text"; chat in "delta.content" (None in a role-only or tool-call delta)
        text += choice.get("text") or (choice.get("delta") or {}).get("content") or ""
    usage = payload.get("usage")
    parsed_usage = Usage(int(usage["prompt_tokens"]), int(usage["completion_tokens"])) if usage else None
    return StreamChunk(text=text, usage=parsed_usage)


def synthetic_prompt(index: int, approx_tokens: int) -> str:
    # A distinct opening per request: vLLM's prefix cache would otherwise serve every prompt after the first from
    # cache and TTFT would measure no prefill.
    opening = f"Request {index}: continue this text."
    filler = [_FILLER_WORDS[i % len(_FILLER_WORDS)] for i in range(max(0, approx_tokens - len(opening.split()) - 3))]
    return " ".join([opening, *filler])


def prompt_for(config: LoadConfig, index: int) -> str:
    return (
        config.prompts[index % len(config.prompts)] if config.prompts else synthetic_prompt(index, config.prompt_tokens)
    )


def request_body(config: LoadConfig, prompt: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": config.model,
        "max_tokens": config.max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if config.api is Api.CHAT:
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    return body


def error_message(body: str) -> str:
    """The message of an OpenAI-style error body, else the body itself (shortened)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body[:200]
    error = payload.get("error", payload) if isinstance(payload, dict) else payload
    message = error.get("message", error) if isinstance(error, dict) else error
    return str(message)[:200]


class RequestSchedule:
    """Hands out request indices until the request count or the duration runs out, and records which did first."""

    def __init__(self, max_requests: int, duration_s: float, clock: Callable[[], float] = time.perf_counter) -> None:
        self._max_requests = max_requests
        self._clock = clock
        self._deadline = clock() + duration_s
        self.issued = 0
        self.stopped_by: str | None = None

    def next_index(self) -> int | None:
        if self.stopped_by is None and self.issued >= self._max_requests:
            self.stopped_by = "requests"
        elif self.stopped_by is None and self._clock() >= self._deadline:
            self.stopped_by = "duration"
        if self.stopped_by is not None:
            return None
        self.issued += 1
        return self.issued - 1


def build_report(
    config: LoadConfig, results: Sequence[RequestResult], duration_s: float, stopped_by: str, max_in_flight: int
) -> Report:
    succeeded = [result for result in results if result.failure is None]
    failures = Counter(result.failure for result in results if result.failure is not None)
    examples: dict[str, str] = {}
    for result in results:
        if result.failure is not None:
            examples.setdefault(result.failure, result.detail)
    output_tokens = sum(result.output_tokens for result in succeeded)
    tpots = [time_per_output_token(result.e2e_s, result.ttft_s, result.output_tokens) for result in succeeded]
    return Report(
        url=config.url,
        model=config.model,
        api=str(config.api),
        concurrency=config.concurrency,
        max_in_flight=max_in_flight,
        max_tokens=config.max_tokens,
        stopped_by=stopped_by,
        requests_sent=len(results),
        requests_succeeded=len(succeeded),
        requests_failed=len(results) - len(succeeded),
        failures=dict(sorted(failures.items())),
        failure_examples=dict(sorted(examples.items())),
        duration_s=duration_s,
        output_tokens=output_tokens,
        output_tokens_per_s=output_tokens / duration_s if duration_s > 0 else 0.0,
        requests_per_s=len(succeeded) / duration_s if duration_s > 0 else 0.0,
        ttft_ms=latency_stats_ms([result.ttft_s for result in succeeded if result.ttft_s is not None]),
        tpot_ms=latency_stats_ms([tpot for tpot in tpots if tpot is not None]),
        e2e_ms=latency_stats_ms([result.e2e_s for result in succeeded]),
    )


def format_report(report: Report) -> str:
    limit = {"requests": "request limit", "duration": "duration limit"}.get(report.stopped_by, report.stopped_by)
    failures = ", ".join(f"{kind}: {count}" for kind, count in report.failures.items())
    lines = [
        f"Load: {report.api} API at {report.url}, model {report.model}, concurrency {report.concurrency} "
        f"(max in flight {report.max_in_flight}), max_tokens {report.max_tokens}",
        f"Duration: {report.duration_s:.2f} s (stopped issuing at the {limit})",
        f"Requests: {report.requests_sent} sent, {report.requests_succeeded} succeeded, {report.requests_failed} failed"
        + (f" ({failures})" if failures else ""),
        f"Throughput: {report.output_tokens_per_s:.1f} output tokens/s, {report.requests_per_s:.2f} requests/s "
        f"({report.output_tokens} output tokens)",
        f"{'Latency (ms)':<16}{'p50':>10}{'p90':>10}{'p99':>10}{'mean':>10}",
    ]
    for label, stats in (("TTFT", report.ttft_ms), ("TPOT", report.tpot_ms), ("End-to-end", report.e2e_ms)):
        if stats is None:
            lines.append(f"  {label:<14}{'n/a':>10}")
        else:
            lines.append(f"  {label:<14}{stats.p50:>10.1f}{stats.p90:>10.1f}{stats.p99:>10.1f}{stats.mean:>10.1f}")
    if report.failure_examples:
        lines.append("First failure of each kind:")
        lines += [f"  {kind}: {message}" for kind, message in report.failure_examples.items()]
    return "\n".join(lines)


# The run.


async def _events(response: httpx.Response) -> AsyncIterator[str]:
    decoder = SseDecoder()
    async for chunk in response.aiter_bytes():
        for data in decoder.feed_bytes(chunk):
            yield data
    # The stream may end without a final newline or blank line: end its last line, then its last event.
    for data in decoder.feed_bytes(b"\n"):
        yield data
    tail = decoder.flush()
    if tail is not None:
        yield tail


async def send_request(client: httpx.AsyncClient, config: LoadConfig, prompt: str) -> RequestResult:
    """One streaming request, timed; every failure is returned as a result, none raised."""
    start = time.perf_counter()
    ttft_s: float | None = None
    text_chunks = 0
    usage: Usage | None = None
    try:
        async with asyncio.timeout(config.timeout_s):
            async with client.stream("POST", config.api.path, json=request_body(config, prompt)) as response:
                if response.status_code != 200:
                    body = (await response.aread()).decode(errors="replace")
                    return RequestResult(
                        f"http_{response.status_code}", error_message(body), time.perf_counter() - start
                    )
                done = False
                async for data in _events(response):
                    if done:
                        # Read the body to its end, past [DONE]: only a fully read response returns its
                        # connection to the pool; leaving early costs a new TCP connection per request.
                        continue
                    chunk = parse_chunk(data)
                    if chunk.error is not None:
                        return RequestResult(
                            "bad_response", f"error in stream: {chunk.error}", time.perf_counter() - start
                        )
                    done = chunk.done
                    if chunk.text:
                        text_chunks += 1
                        if ttft_s is None:
                            ttft_s = time.perf_counter() - start
                    usage = chunk.usage or usage
                end = time.perf_counter()
                if not done:
                    return RequestResult("bad_response", "stream ended before [DONE]", end - start)
    except (TimeoutError, httpx.TimeoutException):
        return RequestResult("timeout", f"no complete answer within {config.timeout_s} s", time.perf_counter() - start)
    except httpx.TransportError as exc:
        return RequestResult("connection", f"{type(exc).__name__}: {exc}", time.perf_counter() - start)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return RequestResult("bad_response", f"unreadable stream chunk: {exc}", time.perf_counter() - start)
    output_tokens = usage.completion_tokens if usage is not None else text_chunks
    return RequestResult(None, e2e_s=end - start, ttft_s=ttft_s, output_tokens=output_tokens)


async def run_load(config: LoadConfig) -> Report:
    """Runs `config.concurrency` workers, each sending one request after another until the schedule runs out."""
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    results: list[RequestResult] = []
    in_flight = max_in_flight = 0
    start = time.perf_counter()
    schedule = RequestSchedule(config.max_requests, config.duration_s)
    progress = tqdm(total=config.max_requests, unit="req", disable=not config.progress, file=sys.stderr)
    # Built once: each client would otherwise load the CA bundle again (~25 ms of CPU per worker).
    ssl_context = httpx.create_ssl_context()

    async def worker() -> None:
        nonlocal in_flight, max_in_flight
        # One client, so one kept-alive connection, per worker: httpcore's shared pool scans every connection for
        # every request and response (measured as most of the CPU at concurrency 64), a pool of one does not.
        async with httpx.AsyncClient(
            base_url=config.url,
            headers=headers,
            timeout=httpx.Timeout(config.timeout_s),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            verify=ssl_context,
        ) as client:
            while (index := schedule.next_index()) is not None:
                in_flight += 1
                max_in_flight = max(max_in_flight, in_flight)
                result = await send_request(client, config, prompt_for(config, index))
                in_flight -= 1
                results.append(result)
                progress.update(1)

    try:
        await asyncio.gather(*(worker() for _ in range(config.concurrency)))
    finally:
        progress.close()
    duration_s = time.perf_counter() - start
    return build_report(config, results, duration_s, schedule.stopped_by or "requests", max_in_flight)


# The command line.


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def _base_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"must be an http(s) URL such as http://HOST:8000, got {text!r}")
    # Accept the base URL with or without the /v1 that OpenAI clients are often given.
    return text.rstrip("/").removesuffix("/v1")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Streaming load generator for an OpenAI-compatible server (vLLM).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--url", type=_base_url, required=True, help="server base URL, e.g. http://HOST:8000")
    parser.add_argument("--model", required=True, help="model name the server serves")
    parser.add_argument("--api", choices=[api.value for api in Api], default=Api.CHAT.value, help="endpoint to load")
    parser.add_argument("--concurrency", type=_positive_int, default=64, help="requests in flight at once")
    parser.add_argument("--requests", type=_positive_int, default=1000, help="stop issuing after this many requests")
    parser.add_argument("--duration", type=_positive_float, default=300.0, help="stop issuing after this many seconds")
    parser.add_argument("--max-tokens", type=_positive_int, default=256, help="max_tokens of each request")
    prompt = parser.add_mutually_exclusive_group()
    prompt.add_argument("--prompt-tokens", type=_positive_int, default=128, help="approximate synthetic prompt length")
    prompt.add_argument("--prompt-file", type=Path, help="text file of prompts, one per non-empty line, sent in turn")
    parser.add_argument("--timeout", type=_positive_float, default=120.0, help="seconds allowed per request")
    parser.add_argument("--api-key", default=None, help="bearer token (default: env OPENAI_API_KEY)")
    parser.add_argument("--json", type=Path, default=None, help="also write the report as JSON to this file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (none either when not a TTY)")
    return parser


def parse_config(argv: Sequence[str], environ: dict[str, str]) -> tuple[LoadConfig, Path | None]:
    """The run's config and the JSON report's path; exits with code 2 and a message for bad arguments."""
    parser = build_parser()
    args = parser.parse_args(list(argv))
    prompts: tuple[str, ...] = ()
    if args.prompt_file is not None:
        try:
            text = args.prompt_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            parser.error(f"--prompt-file: cannot read {args.prompt_file}: {exc}")
        prompts = tuple(line.strip() for line in text.splitlines() if line.strip())
        if not prompts:
            parser.error(f"--prompt-file: {args.prompt_file} has no prompts (one per non-empty line)")
    config = LoadConfig(
        url=args.url,
        model=args.model,
        api=Api(args.api),
        concurrency=args.concurrency,
        max_requests=args.requests,
        duration_s=args.duration,
        max_tokens=args.max_tokens,
        prompt_tokens=args.prompt_tokens,
        prompts=prompts,
        timeout_s=args.timeout,
        api_key=args.api_key or environ.get("OPENAI_API_KEY") or None,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    return config, args.json


def main(argv: Sequence[str] | None = None) -> int:
    config, json_path = parse_config(sys.argv[1:] if argv is None else argv, dict(os.environ))
    report = asyncio.run(run_load(config))
    print(format_report(report))
    if json_path is not None:
        json_path.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    return EXIT_OK if report.requests_succeeded > 0 else EXIT_ALL_FAILED


if __name__ == "__main__":
    sys.exit(main())
