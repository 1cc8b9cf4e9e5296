"""The Stable Diffusion tutorial's client request, unchanged but for the host, against the tiny CPU server.

Written the way ray-project/serve_config_examples' stable_diffusion/stable_diffusion_tpu_req.py sends it (the KubeRay
TPU tutorial's client; read at commit a0afeba37ccc0eb903ac74010674e5e6e658a57c, 2026-12-02): a plain
`GET <url>?prompt=<words joined by %20>` to http://localhost:8000/imagine from a pool of threads, each answer read
as PNG bytes and pasted into a grid of two rows. Here the host is the test server's instead of the port-forward's."""

from concurrent.futures import ThreadPoolExecutor
from io import BytesIO

import httpx
import pytest
from PIL import Image

pytestmark = pytest.mark.workload

PROMPTS = ["Labrador in the style of Hokusai", "A snowy mountain range", "A cat sitting on a windowsill", "A volcano"]


def tutorial_request(prompt: str, url: str) -> BytesIO:
    inputs = "%20".join(prompt.split(" "))
    response = httpx.get(f"{url}?prompt={inputs}", timeout=120)
    response.raise_for_status()
    return BytesIO(response.content)


def test_the_tutorials_concurrent_get_requests_each_get_a_png(serve_url: str) -> None:
    with ThreadPoolExecutor(max_workers=len(PROMPTS)) as pool:
        raw_images = list(pool.map(lambda prompt: tutorial_request(prompt, f"{serve_url}/imagine"), PROMPTS))

    images = [Image.open(raw) for raw in raw_images]
    assert [image.format for image in images] == ["PNG"] * len(PROMPTS)
    width, height = images[0].size
    # The tutorial's grid: two rows of num_requests // 2 images, all of one size.
    grid = Image.new("RGB", size=(len(images) // 2 * width, 2 * height))
    for index, image in enumerate(images):
        assert image.size == (width, height)
        grid.paste(image, box=(index % (len(images) // 2) * width, index // (len(images) // 2) * height))
    assert grid.size == (2 * width, 2 * height)
