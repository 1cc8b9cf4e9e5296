"""Benchmark: the load generator's CPU per output token against a minimal raw-asyncio streaming client.

Starts the OpenAI test double (tests/openai_test_server.py, a stand-in for vLLM that runs no model) on 127.0.0.1,
then, for each concurrency, runs interleaved pairs of the same load through `loadgen.run_load` and through
`raw_load` below (one keep-alive HTTP/1.1 connection per worker, chunked decoding and SSE splitting by hand, one
json.loads per event: the least a client that reads text, usage and TTFT must do), and prints the medians of the
client process's CPU seconds per output token. The server's CPU is not counted (it is another process).

    python workloads/llama/bench_loadgen.py [--concurrency 64,256] [--pairs 5] [--requests 2000] [--max-tokens 64]

A benchmark, not a test: its figures go in notes, not assertions.
"""

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import loadgen  # noqa: E402

TEST_SERVER = HERE / "tests" / "openai_test_server.py"
MODEL = "bench-model"


async def raw_load(host: str, port: int, concurrency: int, requests: int, max_tokens: int) -> int:
    """The same streaming load as loadgen's completions API, with nothing but asyncio streams; returns tokens."""
    remaining = requests
    tokens = 0

    async def worker() -> None:
        nonlocal remaining, tokens
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while remaining > 0:
                remaining -= 1
                body = json.dumps(
                    {
                        "model": MODEL,
                        "prompt": f"Request {remaining}: continue this text.",
                        "max_tokens": max_tokens,
                        "stream": True,
                        "stream_options": {"include_usage": True},
                    }
                ).encode()
                writer.write(
                    b"POST /v1/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await reader.readuntil(b"\r\n\r\n")  # status line and headers (the test double streams chunked)
                buffer = b""
                while True:
                    size = int((await reader.readline()).strip(), 16)
                    if size == 0:
                        await reader.readline()
                        break
                    buffer += await reader.readexactly(size)
                    await reader.readline()
                    *events, buffer = buffer.split(b"\n\n")
                    for event in events:
                        data = event.removeprefix(b"data: ")
                        if data != b"[DONE]":
                            usage = json.loads(data).get("usage")
                            if usage:
                                tokens += usage["completion_tokens"]
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tokens


def measure_loadgen(url: str, concurrency: int, requests: int, max_tokens: int) -> float:
    config = loadgen.LoadConfig(
        url=url,
        model=MODEL,
        api=loadgen.Api.COMPLETIONS,
        concurrency=concurrency,
        max_requests=requests,
        duration_s=600,
        max_tokens=max_tokens,
        progress=False,
    )
    start = time.process_time()
    report = asyncio.run(loadgen.run_load(config))
    assert report.requests_failed == 0, report.failures
    return (time.process_time() - start) / report.output_tokens


def measure_raw(port: int, concurrency: int, requests: int, max_tokens: int) -> float:
    start = time.process_time()
    tokens = asyncio.run(raw_load("127.0.0.1", port, concurrency, requests, max_tokens))
    assert tokens == requests * max_tokens, tokens
    return (time.process_time() - start) / tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", default="64,256")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--port", type=int, default=18431)
    args = parser.parse_args()
    server = subprocess.Popen(
        [
            sys.executable,
            str(TEST_SERVER),
            "--port",
            str(args.port),
            "--served-model-name",
            MODEL,
            "--tokens-per-second",
            "100000",
            "--ttft-ms",
            "0",
            "--max-num-seqs",
            "100000",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        header = f"{'concurrency':>11} {'loadgen us/tok':>15} {'raw us/tok':>11} {'ratio':>6}"
        print(f"{header}  (client CPU per output token, medians of {args.pairs} interleaved pairs)")
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            ours, raws = [], []
            for _ in range(args.pairs):
                ours.append(measure_loadgen(url, concurrency, args.requests, args.max_tokens))
                raws.append(measure_raw(args.port, concurrency, args.requests, args.max_tokens))
            ours_us, raw_us = statistics.median(ours) * 1e6, statistics.median(raws) * 1e6
            print(f"{concurrency:>11} {ours_us:>15.1f} {raw_us:>11.1f} {ours_us / raw_us:>6.2f}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
