"""Benchmark: the model runner against the raw diffusers Flax pipeline, and Ray Serve's per-request overhead.

Both run the same random-weight pipeline (no download) at each batch size: the raw pipeline as diffusers documents it
(`pipeline(..., jit=True)`, pmap over the local devices), the runner as the app runs it (`ModelRunner.generate`,
prompts in, uint8 images out). Batch sizes are per device. With `--serve-requests N` it then deploys the app on a
local Ray (auth disabled, a temporary directory) and sends N sequential requests: the per-request overhead is each
request's latency at the client minus the model's time for its batch (`X-Generation-Seconds`).

    python bench.py --size sd21 --batch-sizes 1,8,16                                   # GPU: SD 2.1, 512x512, 25 steps
    python bench.py --size tiny --batch-sizes 1,4 --steps 3 --serve-requests 20       # CPU: the tiny model, 64x64

Targets (GPU, against the raw pipeline): at least 95% of its throughput at the largest batch, at most 1.1x its
batch-1 latency.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# The Serve replica (another process) shares the accelerator with this one: allocate on demand, not 75% up front.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import httpx
import jax
import numpy as np
from flax.jax_utils import replicate
from flax.training.common_utils import shard
from sd_serve import cache, pipeline
from sd_serve.runner import ModelRunner

PRESETS = {"tiny": 64, "sd21": 512}
"""Default resolution of each random architecture."""
PROMPT = "a photograph of an astronaut riding a horse"
GUIDANCE_SCALE = 7.5
THROUGHPUT_TARGET = 0.95
LATENCY_TARGET = 1.1


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    jax.block_until_ready(call())
    return time.perf_counter() - started


def measure(call: Callable[[], Any], reps: int) -> dict[str, float]:
    first = timed(call)
    median = statistics.median(timed(call) for _ in range(reps))
    return {"first_call_s": round(first, 3), "median_s": round(median, 4)}


def bench_raw(loaded: pipeline.LoadedPipeline, batch: int, size: int, steps: int, reps: int) -> dict[str, float]:
    pipe, devices = loaded.pipeline, jax.local_device_count()
    params = replicate(loaded.params)
    prompt_ids = shard(np.asarray(pipe.prepare_inputs([PROMPT] * batch * devices), np.int32))
    negative_ids = shard(np.asarray(pipe.prepare_inputs([""] * batch * devices), np.int32))
    keys = jax.random.split(jax.random.PRNGKey(0), devices)

    def call() -> Any:
        return pipe(
            prompt_ids, params, keys, steps, size, size, GUIDANCE_SCALE, jit=True, neg_prompt_ids=negative_ids
        ).images

    return measure(call, reps)


def bench_runner(runner: ModelRunner, batch: int, size: int, steps: int, reps: int) -> dict[str, float]:
    images = batch * len(runner.devices)
    return measure(lambda: runner.generate([PROMPT] * images, list(range(images)), size, steps), reps)


def bench_serve(args: argparse.Namespace, size: int, cache_dir: Path) -> dict[str, float]:
    import ray
    from ray import serve
    from sd_serve.app import APIIngress, StableDiffusion, parse_args

    os.environ["RAY_AUTH_MODE"] = "disabled"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    on_gpu = jax.default_backend() == "gpu"
    ray.init(
        include_dashboard=False,
        _temp_dir=tempfile.mkdtemp(prefix="ray-"),
        runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parent)}},
        logging_level="WARNING",
    )
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": args.port})
        app_args = parse_args(
            {
                "model": f"random:{args.size}",
                "resolution": size,
                "default_steps": args.steps,
                "batch_sizes": [1],
                "compile_cache_dir": str(cache_dir),
            }
        )
        model = StableDiffusion.options(ray_actor_options={"num_gpus": 1} if on_gpu else {})
        serve.run(APIIngress.bind(model.bind(app_args), app_args), name="bench", route_prefix="/")
        latencies, overheads = [], []
        with httpx.Client(timeout=600) as client:
            for index in range(args.serve_requests + 1):
                started = time.perf_counter()
                response = client.post(f"http://127.0.0.1:{args.port}/imagine", json={"prompt": PROMPT, "seed": index})
                latency = time.perf_counter() - started
                response.raise_for_status()
                if index:  # the first request opens the connection and the replica's first batch
                    latencies.append(latency)
                    overheads.append(latency - float(response.headers["X-Generation-Seconds"]))
        return {
            "requests": args.serve_requests,
            "median_latency_s": round(statistics.median(latencies), 4),
            "median_overhead_s": round(statistics.median(overheads), 4),
        }
    finally:
        serve.shutdown()
        ray.shutdown()


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(PRESETS), default="tiny", help="random architecture (default tiny)")
    parser.add_argument("--resolution", type=int, help="width and height (default: 64 tiny, 512 sd21)")
    parser.add_argument("--steps", type=int, default=25, help="denoising steps (default 25)")
    parser.add_argument("--batch-sizes", default="1,8,16", help="per-device batch sizes (default 1,8,16)")
    parser.add_argument("--reps", type=int, default=3, help="timed calls per batch size after the first (default 3)")
    parser.add_argument("--serve-requests", type=int, default=0, help="sequential requests through Ray Serve")
    parser.add_argument("--port", type=int, default=8000, help="Serve's HTTP port on 127.0.0.1 (default 8000)")
    parser.add_argument("--skip-raw", action="store_true", help="measure the runner only")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    size = args.resolution or PRESETS[args.size]
    batches = [int(batch) for batch in args.batch_sizes.split(",")]
    devices = jax.local_devices()
    print(f"devices: {len(devices)} x {devices[0].device_kind}; {args.size} {size}x{size}, {args.steps} steps")
    cache_dir = Path(tempfile.mkdtemp(prefix="sd-bench-cache-"))
    cache.enable_compilation_cache(cache_dir)
    loaded = pipeline.load_pipeline(f"random:{args.size}")

    runner = ModelRunner(loaded, sizes=[size], steps=[args.steps], batch_sizes=batches, guidance_scale=GUIDANCE_SCALE)
    started = time.perf_counter()
    runner.warm_up()
    results: dict[str, Any] = {"devices": len(devices), "device_kind": devices[0].device_kind, "size": args.size}
    results["runner_warm_up_s"] = round(time.perf_counter() - started, 2)
    print(f"runner warm-up (compile {len(runner.shapes())} shapes, run each once): {results['runner_warm_up_s']} s")

    rows: dict[int, dict[str, Any]] = {}
    for batch in batches:
        images = batch * len(devices)
        row: dict[str, Any] = {"images": images, "runner": bench_runner(runner, batch, size, args.steps, args.reps)}
        row["runner"]["images_per_s"] = round(images / row["runner"]["median_s"], 3)
        if not args.skip_raw:
            row["raw"] = bench_raw(loaded, batch, size, args.steps, args.reps)
            row["raw"]["images_per_s"] = round(images / row["raw"]["median_s"], 3)
            row["throughput_ratio"] = round(row["runner"]["images_per_s"] / row["raw"]["images_per_s"], 3)
            row["latency_ratio"] = round(row["runner"]["median_s"] / row["raw"]["median_s"], 3)
        rows[batch] = row
        print(f"batch {batch}/device ({images} images): {json.dumps(row)}")
    results["batches"] = rows

    if not args.skip_raw:
        largest, smallest = rows[max(batches)], rows[min(batches)]
        results["verdict"] = {
            f"throughput at batch {max(batches)} >= {THROUGHPUT_TARGET:.0%} of raw": largest["throughput_ratio"]
            >= THROUGHPUT_TARGET,
            f"latency at batch {min(batches)} <= {LATENCY_TARGET}x raw": smallest["latency_ratio"] <= LATENCY_TARGET,
        }
        for target, met in results["verdict"].items():
            print(f"{'MET' if met else 'MISSED'}: {target}")

    if args.serve_requests:
        serve_result = bench_serve(args, size, cache_dir)
        runner_latency = bench_runner(runner, 1, size, args.steps, args.serve_requests)["median_s"]
        serve_result["runner_batch_1_median_s"] = runner_latency
        results["serve"] = serve_result
        latency, overhead = serve_result["median_latency_s"], serve_result["median_overhead_s"]
        print(f"serve, {args.serve_requests} sequential requests: median latency {latency} s")
        print(f"  the runner called directly: {runner_latency} s; per-request overhead: {overhead} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
