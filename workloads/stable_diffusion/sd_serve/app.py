"""The Ray Serve application: `sd_serve.app:build_app`, given the serve config's `args:`.

Two deployments:
- `APIIngress` (FastAPI): `GET /imagine?prompt=...[&seed=&steps=&size=]`, `POST /imagine` with JSON
  `{"prompt", "seed"?, "steps"?, "size"? | "width"?/"height"?}`, both answering a PNG (headers: `X-Seed`, the seed
  used, chosen at random when none was asked for; `X-Batch-Requests`, how many requests were generated together;
  `X-Generation-Seconds`, the model's time for that batch). `GET /healthz`; `GET /stats` (the model's counters).
  A size or step count that is not served is refused with 400 and the allowed values; malformed input with 422.
- `StableDiffusion`: loads the pipeline, compiles every served shape before its constructor returns (so Serve
  reports it ready only then), batches concurrent requests with `serve.batch` and runs them with the model runner.

Ray resources (TPU chips, GPUs) are not set here: the serve config's `ray_actor_options` give them.
"""

import asyncio
import io
import logging
import secrets
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import Response
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ray import serve
from ray.serve import Application
from ray.serve.handle import DeploymentHandle

from sd_serve.contract import MAX_SEED, ImageJob, ImageResult, ServedShapes

log = logging.getLogger("ray.serve")

MAX_LOCAL_DEVICES = 8
"""The most accelerators one host has (ct5lp-hightpu-8t, ct6e-standard-8t, 8-GPU machines)."""
MAX_PROMPT_CHARACTERS = 2000


Positive = Annotated[int, Field(ge=1)]
Size = Annotated[int, Field(gt=0, multiple_of=8)]
"""Width and height in pixels: the pipeline needs multiples of 8."""


class AppArgs(BaseModel):
    """The serve config's `args:` for this application."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)
    """A local directory holding a diffusers Flax checkpoint (e.g. a GCS FUSE mount), a Hugging Face model id, or
    `random:tiny` / `random:sd21`: random weights in the tiny test architecture or SD 2.1's (tests, benchmarks)."""
    revision: str | None = None
    """Hugging Face revision (branch, tag or commit) of a model id, e.g. `bf16`."""
    resolution: Size = 512
    """Default width and height of an image, in pixels; always served."""
    extra_sizes: list[Size] = []
    """Further square sizes served besides `resolution` (each is compiled at start-up for every batch size)."""
    default_steps: int = Field(default=25, ge=1, le=500)
    """Denoising steps of a request that asks for none; always served."""
    extra_steps: list[Positive] = []
    """Further step counts served besides `default_steps` (each is compiled at start-up, like a size)."""
    batch_sizes: list[Positive] = Field(default=[1, 2, 4, 8], min_length=1)
    """Images per device in one call; a batch is padded to the smallest that holds it."""
    batch_wait_timeout_s: float = Field(default=0.05, ge=0)
    """How long a batch waits for more requests before it runs."""
    guidance_scale: float = Field(default=7.5, gt=0)
    """Classifier-free guidance scale."""
    compile_cache_dir: str = "/tmp/jax-cache"
    """JAX's persistent compilation cache: a local-disk directory (not a GCS FUSE mount)."""
    compile_cache_bucket: str | None = None
    """Bucket name the cache is read from before warm-up and written to after it; none: local only."""
    compile_cache_prefix: str = "sd-serve"
    """Object prefix of the cache in that bucket."""

    @property
    def served(self) -> ServedShapes:
        return ServedShapes(
            tuple(sorted({self.resolution, *self.extra_sizes})),
            tuple(sorted({self.default_steps, *self.extra_steps})),
        )


def parse_args(args: dict[str, Any]) -> AppArgs:
    try:
        return AppArgs.model_validate(args)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, problem['loc'])) or 'args'}: {problem['msg']} (got {problem['input']!r})"
            for problem in error.errors(include_url=False)
        )
        raise ValueError(f"invalid args for sd_serve.app:build_app: {problems}") from None


class ImagineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARACTERS)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    steps: int | None = Field(default=None, ge=1)
    size: int | None = Field(default=None, gt=0)
    """Width and height; or give `width` and `height`."""
    width: int | None = Field(default=None, gt=0)
    height: int | None = Field(default=None, gt=0)


# Serve pickles the deployment classes when they are decorated: what their methods call is defined above them.
def sync_cache(bucket_cache: Any, direction: str) -> None:
    """A cache that cannot be synced costs start-up time, never the replica: log and go on."""
    try:
        result = bucket_cache.download() if direction == "download" else bucket_cache.upload()
    except Exception as error:  # any storage failure is survived alike
        log.warning("compile cache %s %s failed: %s", direction, bucket_cache.url, error)
        return
    log.info("compile cache %s %s: %d files, %d bytes", direction, bucket_cache.url, result.files, result.bytes)


def encode_png(image: Any) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@serve.deployment(name="StableDiffusion")
class StableDiffusion:
    def __init__(self, args: AppArgs) -> None:
        # JAX and diffusers are imported here only: the ingress and Serve's controller never load them.
        from sd_serve import cache, pipeline, runner

        self._runner_module = runner
        cache_dir = Path(args.compile_cache_dir)
        bucket_cache = (
            cache.BucketCache(args.compile_cache_bucket, args.compile_cache_prefix, cache_dir)
            if args.compile_cache_bucket
            else None
        )
        if bucket_cache is not None:
            sync_cache(bucket_cache, "download")
        cache.enable_compilation_cache(cache_dir)
        counter = runner.compile_counter()
        started = time.perf_counter()
        loaded = pipeline.load_pipeline(args.model, revision=args.revision)
        self._runner = runner.ModelRunner(
            loaded,
            sizes=args.served.sizes,
            steps=args.served.steps,
            batch_sizes=args.batch_sizes,
            guidance_scale=args.guidance_scale,
            default_size=args.resolution,
            default_steps=args.default_steps,
        )
        self._runner.warm_up()
        self._start_seconds = time.perf_counter() - started
        self._executables_at_ready = counter.executables
        if bucket_cache is not None:
            sync_cache(bucket_cache, "upload")
        self.generate_batch.set_max_batch_size(self._runner.max_batch)
        self.generate_batch.set_batch_wait_timeout_s(args.batch_wait_timeout_s)
        self._requests_per_batch: Counter[int] = Counter()
        log.info(
            "StableDiffusion ready in %.1f s: %s on %d device(s), batches of %s images",
            self._start_seconds,
            loaded.source,
            len(self._runner.devices),
            self._runner.batch_sizes,
        )

    async def generate(self, job: ImageJob) -> ImageResult:
        self._runner.check_servable(job.size, job.steps)
        result: ImageResult = await self.generate_batch(job)
        return result

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.05)  # both reset in __init__ from the args
    async def generate_batch(self, jobs: list[ImageJob]) -> list[ImageResult]:
        groups: dict[tuple[int, int], list[int]] = {}
        for index, job in enumerate(jobs):
            groups.setdefault((job.size, job.steps), []).append(index)
        results: list[ImageResult | None] = [None] * len(jobs)
        for (size, steps), indices in groups.items():
            started = time.perf_counter()
            # In a thread: the event loop keeps queueing the next batch while the accelerator works.
            images = await asyncio.to_thread(
                self._runner.generate, [jobs[i].prompt for i in indices], [jobs[i].seed for i in indices], size, steps
            )
            seconds = time.perf_counter() - started
            self._requests_per_batch[len(indices)] += 1
            for index, image in zip(indices, images, strict=True):
                results[index] = ImageResult(image, batch_requests=len(indices), batch_seconds=seconds)
        return [result for result in results if result is not None]

    def stats(self) -> dict[str, Any]:
        counter = self._runner_module.compile_counter()
        runner = self._runner
        return {
            "devices": [str(device) for device in runner.devices],
            "batch_sizes": runner.batch_sizes,
            "sizes": list(runner.served.sizes),
            "steps": list(runner.served.steps),
            "compiled_shapes": [asdict(shape) for shape in runner.compiled_shapes],
            "start_seconds": round(self._start_seconds, 3),
            "executables_built": counter.executables,
            "executables_built_since_ready": counter.executables - self._executables_at_ready,
            "persistent_cache_hits": counter.persistent_cache_hits,
            "requests_per_batch": {str(size): count for size, count in sorted(self._requests_per_batch.items())},
        }


api = FastAPI(title="Stable Diffusion", docs_url=None, redoc_url=None)


@serve.deployment(name="APIIngress", max_ongoing_requests=1000)
@serve.ingress(api)
class APIIngress:
    def __init__(self, model: DeploymentHandle, args: AppArgs) -> None:
        self._model = model
        self._served = args.served
        self._default_size = args.resolution
        self._default_steps = args.default_steps

    @api.get("/healthz")
    async def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/stats")
    async def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = await self._model.stats.remote()
        return stats

    @api.get("/imagine", response_class=Response, responses={200: {"content": {"image/png": {}}}})
    async def imagine(self, request: Annotated[ImagineRequest, Query()]) -> Response:
        return await self._imagine(request)

    @api.post("/imagine", response_class=Response, responses={200: {"content": {"image/png": {}}}})
    async def imagine_json(self, request: ImagineRequest) -> Response:
        return await self._imagine(request)

    async def _imagine(self, request: ImagineRequest) -> Response:
        width, height = self._size(request)
        steps = request.steps or self._default_steps
        refusal = self._served.refusal(width, height, steps)
        if refusal is not None:
            raise HTTPException(status_code=400, detail=refusal)
        seed = request.seed if request.seed is not None else secrets.randbelow(MAX_SEED + 1)
        result: ImageResult = await self._model.generate.remote(ImageJob(request.prompt, seed, width, steps))
        return Response(
            content=encode_png(result.image),
            media_type="image/png",
            headers={
                "X-Seed": str(seed),
                "X-Batch-Requests": str(result.batch_requests),
                "X-Generation-Seconds": f"{result.batch_seconds:.4f}",
            },
        )

    def _size(self, request: ImagineRequest) -> tuple[int, int]:
        if request.width is None and request.height is None:
            size = request.size or self._default_size
            return size, size
        if request.size is not None:
            raise HTTPException(status_code=400, detail="give either size or width and height, not both")
        if request.width is None or request.height is None:
            raise HTTPException(status_code=400, detail="width and height go together: give both")
        return request.width, request.height


def build_app(args: dict[str, Any]) -> Application:
    """Serve's application builder: `import_path: sd_serve.app:build_app`, `args:` from the serve config."""
    app_args = parse_args(args)
    # Enough requests in flight at the model to fill its largest batch twice over on the largest host; a serve
    # config's own `max_ongoing_requests` overrides it. (mypy does not see what @serve.deployment makes of a class.)
    model = StableDiffusion.options(max_ongoing_requests=2 * max(app_args.batch_sizes) * MAX_LOCAL_DEVICES)  # type: ignore[attr-defined]
    return APIIngress.bind(model.bind(app_args), app_args)  # type: ignore[attr-defined]
