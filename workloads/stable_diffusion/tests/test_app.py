"""The Serve application for real: `build_app(APP_ARGS)` on Ray Serve at 127.0.0.1, the tiny pipeline on CPU."""

import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from PIL import Image
from tiny_app import SIZE, STEPS

pytestmark = pytest.mark.workload


def imagine(serve_url: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{serve_url}/imagine", json=body, timeout=120)


def png_size(response: httpx.Response) -> tuple[str, tuple[int, int], str]:
    image = Image.open(io.BytesIO(response.content))
    return image.format or "", image.size, image.mode


# --- images -----------------------------------------------------------------------------------------------------


def test_get_imagine_answers_a_png_of_the_default_size(serve_url: str):
    response = httpx.get(f"{serve_url}/imagine", params={"prompt": "a photo of an astronaut"}, timeout=120)

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert png_size(response) == ("PNG", (SIZE, SIZE), "RGB")


def test_post_imagine_answers_a_png_of_the_requested_size_with_the_seed_it_used(serve_url: str):
    response = imagine(serve_url, prompt="a red barn", size=SIZE, steps=STEPS, seed=1234)

    assert response.status_code == 200
    assert png_size(response) == ("PNG", (SIZE, SIZE), "RGB")
    assert response.headers["x-seed"] == "1234"


def test_width_and_height_may_be_given_instead_of_size(serve_url: str):
    response = imagine(serve_url, prompt="a red barn", width=SIZE, height=SIZE)

    assert png_size(response) == ("PNG", (SIZE, SIZE), "RGB")


def test_a_request_without_a_seed_is_given_one_that_reproduces_its_image(serve_url: str):
    first = imagine(serve_url, prompt="a lighthouse")
    again = imagine(serve_url, prompt="a lighthouse", seed=int(first.headers["x-seed"]))

    assert first.content == again.content


def test_different_seeds_give_different_images(serve_url: str):
    assert (
        imagine(serve_url, prompt="a lighthouse", seed=1).content
        != imagine(serve_url, prompt="a lighthouse", seed=2).content
    )


# --- batching and compilation -----------------------------------------------------------------------------------


def test_concurrent_requests_are_generated_together_in_one_batch(serve_url: str):
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda n: imagine(serve_url, prompt=f"a cat number {n}", seed=n), range(4)))

    assert [response.status_code for response in responses] == [200] * 4
    assert max(int(response.headers["x-batch-requests"]) for response in responses) > 1
    stats = httpx.get(f"{serve_url}/stats", timeout=30).json()
    assert max(int(size) for size in stats["requests_per_batch"]) > 1


def test_every_shape_is_compiled_before_the_app_is_ready_and_none_after(serve_url: str):
    with ThreadPoolExecutor(max_workers=5) as pool:
        for count in (1, 2, 3, 5):
            list(pool.map(lambda n: imagine(serve_url, prompt="a fox", seed=n), range(count)))

    stats = httpx.get(f"{serve_url}/stats", timeout=30).json()
    assert stats["compiled_shapes"] == [
        {"batch": 2, "size": SIZE, "steps": STEPS},
        {"batch": 4, "size": SIZE, "steps": STEPS},
    ]
    assert stats["executables_built_since_ready"] == 0


def test_the_model_spans_every_local_device_with_per_device_batch_sizes(serve_url: str):
    stats = httpx.get(f"{serve_url}/stats", timeout=30).json()

    assert (stats["devices"], stats["batch_sizes"]) == (["cpu:0", "cpu:1"], [2, 4])


# --- refusals ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"size": 64}, "size 64x64 is not served: allowed sizes are 32x32"),
        ({"width": 32, "height": 48}, "size 32x48 is not served: allowed sizes are 32x32"),
        ({"steps": 50}, "steps 50 is not served: allowed steps are 2"),
        ({"size": 32, "width": 32, "height": 32}, "give either size or width and height, not both"),
        ({"width": 32}, "width and height go together: give both"),
    ],
    ids=["size", "not-square", "steps", "size-and-width", "width-alone"],
)
def test_a_shape_that_is_not_served_is_refused_with_400_and_what_is_allowed(
    serve_url: str, body: dict[str, Any], detail: str
):
    response = imagine(serve_url, prompt="a cat", **body)

    assert (response.status_code, response.json()) == (400, {"detail": detail})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "a cat", "seed": -1}, "seed"),
        ({"prompt": "a cat", "seed": 2**32}, "seed"),
        ({"prompt": "a cat", "sede": 1}, "sede"),
        ({}, "prompt"),
    ],
    ids=["empty-prompt", "negative-seed", "seed-over-32-bits", "unknown-field", "no-prompt"],
)
def test_malformed_input_is_refused_with_422_naming_the_field(serve_url: str, body: dict[str, Any], field: str):
    response = httpx.post(f"{serve_url}/imagine", json=body, timeout=30)

    assert response.status_code == 422
    assert [error["loc"][-1] for error in response.json()["detail"]] == [field]


def test_get_imagine_without_a_prompt_is_refused_with_422(serve_url: str):
    response = httpx.get(f"{serve_url}/imagine", timeout=30)

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["query", "prompt"]]


def test_healthz_answers_ok(serve_url: str):
    response = httpx.get(f"{serve_url}/healthz", timeout=30)

    assert (response.status_code, response.json()) == (200, {"status": "ok"})
