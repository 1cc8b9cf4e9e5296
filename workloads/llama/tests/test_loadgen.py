"""The load generator (workloads/llama/loadgen.py), specified against the OpenAI test double on 127.0.0.1.

Timing bounds are loose on purpose (shared CI machines), but each one would fail if the measurement were wrong:
the test double paces tokens exactly, so TTFT cannot be below --ttft-ms, TPOT cannot be below 1/--tokens-per-second,
and output tokens/s cannot exceed the rate times the concurrency.
"""

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import loadgen
import pytest
from loadgen import Api, LoadConfig, Report, RequestResult, SseDecoder, StreamChunk, Usage

StartTestServer = Callable[..., AbstractContextManager[tuple[subprocess.Popen[bytes], str]]]
LOADGEN = Path(loadgen.__file__)
SERVED_MODEL = "test-model"  # the test double's default served name
HANG_MAX_TOKENS = 999  # the test double holds a request with this max_tokens for --hang-after-ms


def small_config(url: str, **overrides: Any) -> LoadConfig:
    defaults: dict[str, Any] = {
        "model": SERVED_MODEL,
        "concurrency": 2,
        "max_requests": 4,
        "duration_s": 10.0,
        "max_tokens": 8,
        "prompt_tokens": 16,
        "timeout_s": 10.0,
    }
    return LoadConfig(url=url, **{**defaults, **overrides})


def run(config: LoadConfig) -> Report:
    return asyncio.run(loadgen.run_load(config))


# Pure functions.


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([7.0], 50, 7.0),
        ([7.0], 99, 7.0),
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([3.0, 1.0, 2.0], 50, 2.0),  # unsorted input
        ([10.0, 20.0, 30.0, 40.0, 50.0], 90, 46.0),
        ([float(v) for v in range(1, 101)], 99, 99.01),
        ([float(v) for v in range(1, 101)], 50, 50.5),
    ],
)
def test_percentile_interpolates_linearly_between_closest_ranks(values: list[float], q: float, expected: float) -> None:
    assert loadgen.percentile(values, q) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("values", "q", "message"),
    [([], 50, "percentile of no values"), ([1.0], 101, "percentile must be between 0 and 100, got 101")],
)
def test_percentile_rejects_no_values_and_out_of_range(values: list[float], q: float, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        loadgen.percentile(values, q)


def test_latency_stats_are_milliseconds_and_none_without_values() -> None:
    stats = loadgen.latency_stats_ms([0.1, 0.2, 0.3])
    assert stats is not None
    assert asdict(stats) == pytest.approx({"p50": 200.0, "p90": 280.0, "p99": 298.0, "mean": 200.0})
    assert loadgen.latency_stats_ms([]) is None


@pytest.mark.parametrize(
    ("e2e_s", "ttft_s", "output_tokens", "expected"),
    [
        (1.0, 0.1, 10, 0.1),  # 9 tokens after the first in 0.9 s
        (2.0, 0.5, 4, 0.5),
        (0.5, 0.5, 2, 0.0),
        (1.0, 0.1, 1, None),  # one token: nothing after the first to time
        (1.0, 0.1, 0, None),
        (1.0, None, 10, None),  # no first token seen
    ],
)
def test_tpot_is_time_after_first_token_per_remaining_token(
    e2e_s: float, ttft_s: float | None, output_tokens: int, expected: float | None
) -> None:
    assert loadgen.time_per_output_token(e2e_s, ttft_s, output_tokens) == pytest.approx(expected)


def test_sse_decoder_yields_each_events_data_at_its_blank_line() -> None:
    decoder = SseDecoder()
    lines = [": keep-alive comment", "", 'data: {"a": 1}', "", "event: message", "data:[DONE]", ""]
    assert [decoder.feed(line) for line in lines] == [None, None, None, '{"a": 1}', None, None, "[DONE]"]


def test_sse_decoder_splits_raw_bytes_cut_anywhere_into_the_same_events() -> None:
    stream = b': keep-alive\r\n\r\ndata: {"text": "caf\xc3\xa9"}\n\ndata: first\ndata: second\n\ndata: [DONE]\n\n'
    for cut in range(1, len(stream)):
        decoder = SseDecoder()
        events = decoder.feed_bytes(stream[:cut]) + decoder.feed_bytes(stream[cut:])
        assert events == ['{"text": "café"}', "first\nsecond", "[DONE]"], cut


def test_sse_decoder_joins_multi_line_data_and_flushes_an_unterminated_event() -> None:
    decoder = SseDecoder()
    assert decoder.feed("data: first") is None
    assert decoder.feed("data: second") is None
    assert decoder.flush() == "first\nsecond"
    assert decoder.flush() is None


def _chunk(**payload: Any) -> str:
    return json.dumps({"id": "x", "model": SERVED_MODEL, **payload})


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("[DONE]", StreamChunk(done=True)),
        (_chunk(choices=[{"index": 0, "text": " hello", "finish_reason": None}]), StreamChunk(text=" hello")),
        (_chunk(choices=[{"index": 0, "delta": {"content": " hi"}}], usage=None), StreamChunk(text=" hi")),
        (_chunk(choices=[{"index": 0, "delta": {"role": "assistant", "content": ""}}]), StreamChunk(text="")),
        (_chunk(choices=[{"index": 0, "delta": {"role": "assistant"}}]), StreamChunk(text="")),
        (
            _chunk(choices=[], usage={"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}),
            StreamChunk(usage=Usage(prompt_tokens=5, completion_tokens=7)),
        ),
        (json.dumps({"error": {"message": "out of memory", "code": 500}}), StreamChunk(error="out of memory")),
        (json.dumps({"object": "error", "message": "bad", "code": 400}), StreamChunk(error="bad")),
    ],
    ids=["done", "completion-text", "chat-delta", "chat-role-only", "chat-no-content", "usage", "error", "old-error"],
)
def test_parse_chunk_reads_text_usage_done_and_errors_of_both_apis(data: str, expected: StreamChunk) -> None:
    assert loadgen.parse_chunk(data) == expected


def test_parse_chunk_rejects_data_that_is_not_json() -> None:
    with pytest.raises(ValueError):
        loadgen.parse_chunk("not json")


def test_schedule_stops_at_the_request_count() -> None:
    schedule = loadgen.RequestSchedule(max_requests=3, duration_s=60, clock=lambda: 0.0)
    assert [schedule.next_index() for _ in range(5)] == [0, 1, 2, None, None]
    assert schedule.stopped_by == "requests"


def test_schedule_stops_at_the_duration() -> None:
    now = [0.0]
    schedule = loadgen.RequestSchedule(max_requests=100, duration_s=2, clock=lambda: now[0])
    assert schedule.next_index() == 0
    now[0] = 1.9
    assert schedule.next_index() == 1
    now[0] = 2.0
    assert schedule.next_index() is None
    assert schedule.stopped_by == "duration"
    assert schedule.issued == 2


def test_synthetic_prompts_are_about_the_asked_length_and_differ_per_request() -> None:
    prompts = [loadgen.synthetic_prompt(index, 200) for index in range(3)]
    assert all(190 <= len(prompt.split()) <= 200 for prompt in prompts)
    assert len(set(prompts)) == 3


def test_prompts_from_a_file_are_sent_in_turn() -> None:
    config = small_config("http://127.0.0.1:1", prompts=("first", "second"))
    assert [loadgen.prompt_for(config, index) for index in range(3)] == ["first", "second", "first"]


def test_requests_stream_and_ask_for_usage_on_both_apis() -> None:
    chat = loadgen.request_body(small_config("http://h", api=Api.CHAT, max_tokens=5), "hi")
    completion = loadgen.request_body(small_config("http://h", api=Api.COMPLETIONS, max_tokens=5), "hi")
    common = {"model": SERVED_MODEL, "max_tokens": 5, "stream": True, "stream_options": {"include_usage": True}}
    assert chat == {**common, "messages": [{"role": "user", "content": "hi"}]}
    assert completion == {**common, "prompt": "hi"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("concurrency", 0, "concurrency must be at least 1, got 0"),
        ("max_requests", 0, "max_requests must be at least 1, got 0"),
        ("duration_s", 0.0, "duration_s must be greater than 0, got 0.0"),
        ("timeout_s", -1.0, "timeout_s must be greater than 0, got -1.0"),
    ],
)
def test_config_rejects_values_that_cannot_run(field: str, value: float, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        small_config("http://h", **{field: value})


def test_report_counts_failures_by_kind_and_divides_tokens_by_wall_time() -> None:
    results = [
        RequestResult(None, e2e_s=1.0, ttft_s=0.1, output_tokens=10),
        RequestResult(None, e2e_s=2.0, ttft_s=0.2, output_tokens=10),
        RequestResult("http_500", "boom"),
        RequestResult("timeout", "slow"),
        RequestResult("http_500", "boom again"),
    ]
    report = loadgen.build_report(
        small_config("http://h"), results, duration_s=4.0, stopped_by="requests", max_in_flight=2
    )
    assert (report.requests_sent, report.requests_succeeded, report.requests_failed) == (5, 2, 3)
    assert report.failures == {"http_500": 2, "timeout": 1}
    assert report.failure_examples == {"http_500": "boom", "timeout": "slow"}
    assert report.output_tokens_per_s == pytest.approx(20 / 4.0)
    assert report.requests_per_s == pytest.approx(2 / 4.0)
    assert report.tpot_ms is not None and report.tpot_ms.mean == pytest.approx((100.0 + 200.0) / 2)


def test_text_report_names_throughput_latencies_and_failures() -> None:
    results = [RequestResult(None, e2e_s=1.0, ttft_s=0.1, output_tokens=10), RequestResult("connection", "refused")]
    text = loadgen.format_report(loadgen.build_report(small_config("http://h"), results, 2.0, "duration", 2))
    for expected in ("5.0 output tokens/s", "TTFT", "TPOT", "End-to-end", "connection: 1", "duration limit"):
        assert expected in text


# The stream handling, against scripted responses: httpx.MockTransport stands in for a server here, to produce
# streams the test double never sends.


def scripted_send(body: str, status: int = 200) -> RequestResult:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text=body, headers={"content-type": "text/event-stream"})

    async def send() -> RequestResult:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://scripted") as client:
            return await loadgen.send_request(client, small_config("http://scripted"), "hi")

    return asyncio.run(send())


def _event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def test_output_tokens_are_counted_from_text_chunks_without_a_usage_chunk() -> None:
    role = _event({"choices": [{"delta": {"role": "assistant", "content": ""}}]})
    tokens = "".join(_event({"choices": [{"delta": {"content": f" t{i}"}}]}) for i in range(3))
    result = scripted_send(role + tokens + "data: [DONE]\n\n")
    assert (result.failure, result.output_tokens) == (None, 3)


def test_output_tokens_come_from_the_usage_chunk_when_sent() -> None:
    # A server may put several tokens in one chunk: usage, not the chunk count, is the truth.
    text = _event({"choices": [{"text": " two tokens"}]})
    usage = _event({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}})
    result = scripted_send(text + usage + "data: [DONE]\n\n")
    assert (result.failure, result.output_tokens) == (None, 2)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (_event({"choices": [{"text": " a"}]}), "stream ended before [DONE]"),
        (_event({"error": {"message": "engine died"}}), "error in stream: engine died"),
        ("data: {not json\n\n", "unreadable stream chunk: "),
    ],
    ids=["no-done", "error-event", "not-json"],
)
def test_broken_streams_are_bad_responses(body: str, detail: str) -> None:
    result = scripted_send(body)
    assert result.failure == "bad_response"
    assert result.detail.startswith(detail)


# Against the test double.


def test_each_worker_keeps_its_connection_alive_across_requests(start_test_server: StartTestServer) -> None:
    with start_test_server() as (_, url):
        report = asyncio.run(
            loadgen.run_load(
                LoadConfig(url=url, model=SERVED_MODEL, concurrency=2, max_requests=10, progress=False, max_tokens=4)
            )
        )
        assert report.requests_succeeded == 10
        # Ten requests from two workers over two connections: the stream is read to its end, past [DONE].
        assert len(httpx.get(f"{url}/test/peers").json()["client_ports"]) == 2


@pytest.mark.workload
@pytest.mark.parametrize("api", list(Api))
def test_both_apis_stream_every_request_to_completion(openai_server: str, api: Api) -> None:
    report = run(small_config(openai_server, api=api, concurrency=3, max_requests=6, max_tokens=8))
    assert (report.requests_sent, report.requests_succeeded, report.failures) == (6, 6, {})
    assert report.output_tokens == 6 * 8
    assert report.max_in_flight == 3
    assert report.api == api.value


@pytest.mark.workload
def test_ttft_tpot_and_throughput_match_the_servers_pace(start_test_server: StartTestServer) -> None:
    ttft_ms, tokens_per_second, concurrency, max_tokens = 100.0, 100.0, 4, 11
    with start_test_server("--ttft-ms", str(ttft_ms), "--tokens-per-second", str(tokens_per_second)) as (_, url):
        report = run(small_config(url, concurrency=concurrency, max_requests=8, max_tokens=max_tokens))
    assert report.requests_succeeded == 8
    assert report.ttft_ms is not None and report.tpot_ms is not None
    assert ttft_ms <= report.ttft_ms.p50 <= ttft_ms + 150
    assert 1000 / tokens_per_second * 0.8 <= report.tpot_ms.p50 <= 1000 / tokens_per_second * 2
    # Each stream gets at most the server's rate; a tenth of the ideal would mean the requests ran one at a time.
    assert tokens_per_second * concurrency / 10 < report.output_tokens_per_s <= tokens_per_second * concurrency
    assert report.e2e_ms is not None and report.e2e_ms.p50 >= report.ttft_ms.p50


@pytest.mark.workload
def test_the_request_count_stops_the_run(openai_server: str) -> None:
    report = run(small_config(openai_server, concurrency=2, max_requests=5, duration_s=30.0))
    assert (report.stopped_by, report.requests_sent, report.requests_succeeded) == ("requests", 5, 5)
    assert report.duration_s < 10


@pytest.mark.workload
def test_the_duration_stops_the_run(openai_server: str) -> None:
    report = run(small_config(openai_server, concurrency=2, max_requests=100_000, duration_s=0.5, max_tokens=4))
    assert report.stopped_by == "duration"
    assert 2 <= report.requests_sent < 100_000
    # In-flight requests finish after the deadline (~40 ms each here), but no new ones start.
    assert 0.5 <= report.duration_s < 3


@pytest.mark.workload
def test_server_errors_are_counted_by_status(start_test_server: StartTestServer) -> None:
    with start_test_server("--fail-every", "3") as (_, url):
        report = run(small_config(url, concurrency=3, max_requests=9))
    assert report.failures == {"http_500": 3}
    assert report.requests_succeeded == 6
    assert report.failure_examples == {"http_500": "Injected failure (--fail-every)"}


@pytest.mark.workload
def test_requests_past_the_timeout_are_counted_as_timeouts(start_test_server: StartTestServer) -> None:
    with start_test_server("--hang-after-ms", "5000") as (_, url):
        report = run(small_config(url, max_requests=2, max_tokens=HANG_MAX_TOKENS, timeout_s=0.3))
    assert report.failures == {"timeout": 2}
    assert report.duration_s < 2


@pytest.mark.workload
def test_unknown_model_is_counted_as_a_client_error_with_the_servers_message(openai_server: str) -> None:
    report = run(small_config(openai_server, model="no-such-model", max_requests=2))
    assert report.failures == {"http_400": 2}
    assert report.failure_examples == {"http_400": "The model `no-such-model` does not exist."}


@pytest.mark.workload
def test_api_key_is_sent_as_a_bearer_token(start_test_server: StartTestServer) -> None:
    with start_test_server("--api-key", "s3cret") as (_, url):
        without_key = run(small_config(url, max_requests=2))
        with_key = run(small_config(url, max_requests=2, api_key="s3cret"))
    assert without_key.failures == {"http_401": 2}
    assert (with_key.requests_succeeded, with_key.failures) == (2, {})


def test_api_key_defaults_to_openai_api_key_from_the_environment() -> None:
    config, _ = loadgen.parse_config(["--url", "http://h:8000", "--model", "m"], {"OPENAI_API_KEY": "from-env"})
    assert config.api_key == "from-env"
    config, _ = loadgen.parse_config(
        ["--url", "http://h", "--model", "m", "--api-key", "flag"], {"OPENAI_API_KEY": "e"}
    )
    assert config.api_key == "flag"


def test_refused_connections_are_counted_and_exit_with_1(capsys: pytest.CaptureFixture[str], free_port: int) -> None:
    argv = ["--url", f"http://127.0.0.1:{free_port}", "--model", "m", "--requests", "3", "--no-progress"]
    assert loadgen.main(argv) == loadgen.EXIT_ALL_FAILED
    assert "3 failed (connection: 3)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "ftp://h", "--model", "m"], "argument --url: must be an http(s) URL such as http://HOST:8000"),
        (["--url", "http://h", "--model", "m", "--concurrency", "0"], "argument --concurrency: must be at least 1"),
        (["--url", "http://h", "--model", "m", "--api", "embeddings"], "argument --api: invalid choice: 'embeddings'"),
        (["--url", "http://h", "--model", "m", "--duration", "0"], "argument --duration: must be greater than 0"),
        (["--url", "http://h"], "the following arguments are required: --model"),
        (
            ["--url", "http://h", "--model", "m", "--prompt-tokens", "5", "--prompt-file", "p.txt"],
            "argument --prompt-file: not allowed with argument --prompt-tokens",
        ),
        (["--url", "http://h", "--model", "m", "--prompt-file", "/nonexistent/p.txt"], "--prompt-file: cannot read"),
    ],
)
def test_bad_usage_exits_with_2_and_says_why(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        loadgen.main(args)
    assert exit_info.value.code == loadgen.EXIT_USAGE
    assert message in capsys.readouterr().err


def test_prompt_file_gives_one_prompt_per_non_empty_line(tmp_path: Path) -> None:
    prompt_file = tmp_path / "prompts.txt"
    prompt_file.write_text("What is a TPU?\n\n  Explain HBM.  \n", encoding="utf-8")
    config, _ = loadgen.parse_config(["--url", "http://h/v1/", "--model", "m", "--prompt-file", str(prompt_file)], {})
    assert config.prompts == ("What is a TPU?", "Explain HBM.")
    assert config.url == "http://h"  # a trailing /v1 is the OpenAI clients' habit, not part of the base URL


@pytest.fixture(scope="module")
def cli_run(
    openai_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[subprocess.CompletedProcess[str], dict[str, Any]]]:
    """One run of the command line, as a user would type it, with a JSON report."""
    json_path = tmp_path_factory.mktemp("cli") / "results.json"
    command = [sys.executable, str(LOADGEN), "--url", openai_server, "--model", SERVED_MODEL, "--api", "completions"]
    command += ["--concurrency", "2", "--requests", "4", "--max-tokens", "8", "--json", str(json_path)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    yield completed, json.loads(json_path.read_text(encoding="utf-8")) if json_path.exists() else {}


@pytest.mark.workload
def test_cli_exits_0_and_reports_tokens_per_second_ttft_and_tpot(
    cli_run: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    completed, _ = cli_run
    assert completed.returncode == loadgen.EXIT_OK, completed.stderr
    for expected in ("output tokens/s", "TTFT", "TPOT", "4 sent, 4 succeeded, 0 failed"):
        assert expected in completed.stdout


@pytest.mark.workload
def test_cli_json_report_has_the_documented_keys(
    cli_run: tuple[subprocess.CompletedProcess[str], dict[str, Any]], openai_server: str
) -> None:
    _, report = cli_run
    assert set(report) == {
        "url", "model", "api", "concurrency", "max_in_flight", "max_tokens", "stopped_by",
        "requests_sent", "requests_succeeded", "requests_failed", "failures", "failure_examples",
        "duration_s", "output_tokens", "output_tokens_per_s", "requests_per_s", "ttft_ms", "tpot_ms", "e2e_ms",
    }  # fmt: skip
    for latency in ("ttft_ms", "tpot_ms", "e2e_ms"):
        assert set(report[latency]) == {"p50", "p90", "p99", "mean"}
    assert (report["url"], report["api"], report["requests_succeeded"], report["output_tokens"]) == (
        openai_server,
        "completions",
        4,
        32,
    )
    assert report["output_tokens_per_s"] > 0


# The test double's own contract: what these tests and the launcher's rely on.


@pytest.mark.workload
def test_test_double_records_unknown_vllm_flags_and_environment(start_test_server: StartTestServer) -> None:
    vllm_flags = ("--model", "/models/llama", "--tensor-parallel-size", "8", "--max-model-len", "4096")
    with start_test_server(*vllm_flags, env={"VLLM_XLA_CACHE_PATH": "/cache", "HF_TOKEN": "t"}) as (_, url):
        recorded = httpx.get(f"{url}/test/argv").json()
        served = httpx.get(f"{url}/v1/models").json()["data"][0]["id"]
    assert recorded["argv"][-6:] == list(vllm_flags)
    assert recorded["unknown_args"] == ["--tensor-parallel-size", "8", "--max-model-len", "4096"]
    assert {"VLLM_XLA_CACHE_PATH": "/cache", "HF_TOKEN": "t"}.items() <= recorded["env"].items()
    assert "PATH" not in recorded["env"]
    assert served == recorded["served_model_name"] == "/models/llama"


@pytest.mark.workload
def test_test_double_exports_the_vllm_metrics_the_autoscaler_reads(openai_server: str) -> None:
    metrics = httpx.get(f"{openai_server}/metrics").text
    for name in ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:generation_tokens_total"):
        assert f'{name}{{model_name="{SERVED_MODEL}"}} ' in metrics


@pytest.mark.workload
@pytest.mark.parametrize(
    "body",
    [{"max_tokens": 4}, {"prompt": "hi", "max_tokens": 0}, {"prompt": "hi", "model": "other"}],
    ids=["no-prompt", "max-tokens-0", "unknown-model"],
)
def test_test_double_rejects_bad_requests_with_an_openai_error(openai_server: str, body: dict[str, Any]) -> None:
    response = httpx.post(f"{openai_server}/v1/completions", json=body)
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.workload
def test_test_double_answers_without_streaming_with_usage(openai_server: str) -> None:
    body = {"model": SERVED_MODEL, "messages": [{"role": "user", "content": "one two three"}], "max_tokens": 3}
    answer = httpx.post(f"{openai_server}/v1/chat/completions", json=body).json()
    assert answer["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
    assert len(answer["choices"][0]["message"]["content"].split()) == 3
