"""The client: its pure parts, and a run against the served app."""

from pathlib import Path

import client
import pytest
from PIL import Image
from tiny_app import SIZE


@pytest.mark.parametrize(("fraction", "expected"), [(0.0, 1.0), (0.5, 2.5), (0.9, 3.7), (1.0, 4.0)])
def test_percentiles_interpolate_between_ranks_as_numpy_does(fraction: float, expected: float):
    assert client.percentile([4.0, 1.0, 3.0, 2.0], fraction) == pytest.approx(expected)


def test_the_grid_lays_images_out_in_rows_in_order():
    colours = ["red", "green", "blue", "white", "black"]
    grid = client.image_grid([Image.new("RGB", (8, 8), colour) for colour in colours])

    assert grid.size == (24, 16)
    assert [grid.getpixel((x, y)) for x, y in [(0, 0), (8, 0), (16, 0), (0, 8), (8, 8), (16, 8)]] == [
        (255, 0, 0),
        (0, 128, 0),
        (0, 0, 255),
        (255, 255, 255),
        (0, 0, 0),
        (0, 0, 0),  # the empty cell
    ]


@pytest.mark.workload
def test_a_run_prints_latency_and_throughput_and_saves_the_grid(
    serve_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    output = tmp_path / "diffusion_results.png"

    status = client.main(
        [
            "--url",
            serve_url,
            "--requests",
            "6",
            "--concurrency",
            "3",
            "--seed",
            "1",
            "--no-progress",
            "--output",
            str(output),
        ]
    )

    lines = capsys.readouterr().out.splitlines()
    assert status == 0
    assert lines[0].startswith("requests: 6 ok, 0 failed in ")
    assert lines[1].startswith("throughput: ") and lines[1].endswith(" images/s")
    assert lines[2].startswith("latency (s): p50 ")
    assert lines[-1] == f"wrote {output} (6 images, {3 * SIZE}x{2 * SIZE})"
    assert Image.open(output).size == (3 * SIZE, 2 * SIZE)


@pytest.mark.workload
def test_a_run_with_failed_requests_exits_1(serve_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    status = client.main(
        ["--url", serve_url, "--requests", "2", "--size", "64", "--no-progress", "--output", str(tmp_path / "grid.png")]
    )

    out = capsys.readouterr().out
    assert status == 1
    assert "requests: 0 ok, 2 failed in " in out
    assert 'error (2x): HTTP 400: {"detail":"size 64x64 is not served: allowed sizes are 32x32"}' in out
