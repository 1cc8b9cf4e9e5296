"""Client for the Stable Diffusion service: sends concurrent `POST /imagine` requests, shows a progress bar, prints
latency percentiles and throughput, and saves the images as one grid (default `diffusion_results.png`).

    kubectl port-forward svc/stable-diffusion-serve-svc 8000:8000 &
    python client.py --url http://127.0.0.1:8000 --requests 32 --concurrency 8 --prompt "an astronaut riding a horse"

Exit status: 0 when every request returned an image, 1 when any failed, 2 for bad arguments.
"""

import argparse
import asyncio
import io
import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from PIL import Image
from tqdm import tqdm

DEFAULT_PROMPTS = (
    "Labrador in the style of Hokusai",
    "Painting of a squirrel skating in New York",
    "HAL-9000 in the style of Van Gogh",
    "Times Square under water, with fish and a dolphin swimming around",
    "Ancient Roman fresco showing a man working on his laptop",
    "Close-up photograph of young black woman against urban background, high quality, bokeh",
    "Armchair in the shape of an avocado",
    "Clown astronaut in space, with Earth in the background",
)


@dataclass(frozen=True)
class Reply:
    latency_s: float
    image: Image.Image | None
    batch_requests: int
    error: str | None = None


async def send_requests(
    url: str,
    prompts: Sequence[str],
    *,
    requests: int,
    concurrency: int,
    size: int | None = None,
    steps: int | None = None,
    seed: int | None = None,
    timeout_s: float = 600.0,
    progress: bool = True,
) -> list[Reply]:
    """`requests` requests, cycling through `prompts`, at most `concurrency` in flight; replies in request order.
    With `seed`, request i asks for seed + i, so a run can be repeated image for image."""
    semaphore = asyncio.Semaphore(concurrency)
    bar = tqdm(total=requests, unit="img", disable=not progress, file=sys.stderr)

    async def one(client: httpx.AsyncClient, index: int) -> Reply:
        body: dict[str, object] = {"prompt": prompts[index % len(prompts)]}
        for key, value in (("size", size), ("steps", steps), ("seed", None if seed is None else seed + index)):
            if value is not None:
                body[key] = value
        async with semaphore:
            started = time.perf_counter()
            try:
                response = await client.post(f"{url.rstrip('/')}/imagine", json=body)
            except httpx.HTTPError as error:
                reply = Reply(time.perf_counter() - started, None, 0, f"{type(error).__name__}: {error}")
            else:
                latency = time.perf_counter() - started
                if response.status_code == 200:
                    image = Image.open(io.BytesIO(response.content))
                    image.load()
                    reply = Reply(latency, image, int(response.headers.get("X-Batch-Requests", "1")))
                else:
                    reply = Reply(latency, None, 0, f"HTTP {response.status_code}: {response.text[:300]}")
            bar.update(1)
            return reply

    try:
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(timeout=timeout_s, limits=limits) as client:
            return list(await asyncio.gather(*(one(client, index) for index in range(requests))))
    finally:
        bar.close()


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default), for fraction in [0, 1]."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def image_grid(images: Sequence[Image.Image], columns: int | None = None) -> Image.Image:
    """The images, in order, left to right and top to bottom, in cells the size of the largest."""
    if not images:
        raise ValueError("no images")
    columns = columns or math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / columns)
    cell_width = max(image.width for image in images)
    cell_height = max(image.height for image in images)
    grid = Image.new("RGB", (columns * cell_width, rows * cell_height))
    for index, image in enumerate(images):
        grid.paste(image.convert("RGB"), ((index % columns) * cell_width, (index // columns) * cell_height))
    return grid


def summary(replies: Sequence[Reply], wall_s: float) -> list[str]:
    succeeded = [reply for reply in replies if reply.image is not None]
    lines = [f"requests: {len(succeeded)} ok, {len(replies) - len(succeeded)} failed in {wall_s:.2f} s"]
    if succeeded:
        latencies = [reply.latency_s for reply in succeeded]
        lines.append(f"throughput: {len(succeeded) / wall_s:.2f} images/s")
        lines.append(
            "latency (s): "
            + "  ".join(f"p{int(q * 100)} {percentile(latencies, q):.3f}" for q in (0.5, 0.9, 0.99))
            + f"  max {max(latencies):.3f}"
        )
        batches = Counter(reply.batch_requests for reply in succeeded)
        lines.append("requests per batch: " + ", ".join(f"{size}: {count}" for size, count in sorted(batches.items())))
    errors = Counter(reply.error for reply in replies if reply.error)
    lines.extend(f"error ({count}x): {error}" for error, count in errors.most_common(5))
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the service (the Serve HTTP port)")
    parser.add_argument("--prompt", action="append", help="a prompt (repeatable); default: eight sample prompts")
    parser.add_argument("--requests", type=int, default=16, help="requests in all (default 16)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at once (default 8)")
    parser.add_argument("--size", type=int, help="width and height (default: the service's)")
    parser.add_argument("--steps", type=int, help="denoising steps (default: the service's)")
    parser.add_argument("--seed", type=int, help="seed of the first request; request i gets seed + i")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per request (default 600)")
    parser.add_argument("--output", type=Path, default=Path("diffusion_results.png"), help="the grid image")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1:
        parser.error("--requests and --concurrency must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    replies = asyncio.run(
        send_requests(
            args.url,
            args.prompt or DEFAULT_PROMPTS,
            requests=args.requests,
            concurrency=args.concurrency,
            size=args.size,
            steps=args.steps,
            seed=args.seed,
            timeout_s=args.timeout,
            progress=not args.no_progress,
        )
    )
    wall_s = time.perf_counter() - started
    for line in summary(replies, wall_s):
        print(line)
    images = [reply.image for reply in replies if reply.image is not None]
    if images:
        grid = image_grid(images)
        grid.save(args.output)
        print(f"wrote {args.output} ({len(images)} images, {grid.width}x{grid.height})")
    return 0 if len(images) == len(replies) else 1


if __name__ == "__main__":
    sys.exit(main())
