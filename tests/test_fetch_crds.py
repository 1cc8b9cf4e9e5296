"""scripts/fetch_crds.py: the pinned list of CRD schema files (tests/crds/sources.json) kept equal to the one beside
the shared copy, the directory the schemas are read from, and the download with its sha256 check, end to end against
an HTTP server on 127.0.0.1 (the real URLs are not fetched here)."""

import functools
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from scripts import fetch_crds
from scripts.fetch_crds import ChecksumError, crd_dir, load_sources, main, read_pinned

SHARED_SOURCES = fetch_crds.SHARED / "sources.json"
GOOD = b"kind: CustomResourceDefinition\n"
GOOD_SHA256 = hashlib.sha256(GOOD).hexdigest()
BAD = b"kind: CustomResourceDefinition\n# tampered\n"
BAD_SHA256 = hashlib.sha256(BAD).hexdigest()


@pytest.mark.skipif(not SHARED_SOURCES.is_file(), reason="no ../shared/crds beside this checkout")
def test_the_pinned_files_are_those_of_the_shared_copy() -> None:
    pins = {name: {"url": s["url"], "sha256": s["sha256"]} for name, s in load_sources().items()}
    assert pins == json.loads(SHARED_SOURCES.read_text())


def test_only_a_bare_openapi_schema_names_the_api_version_and_kind_it_defines() -> None:
    # A full CRD (.yaml) says them itself; an openAPIV3Schema (.json) does not.
    for name, source in load_sources().items():
        assert name.endswith((".json", ".yaml")), name
        assert sorted(source) == (
            ["apiVersion", "kind", "sha256", "url"] if name.endswith(".json") else ["sha256", "url"]
        )


def test_the_setting_names_the_directory(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    setting = {fetch_crds.ENV_VAR: str(tmp_path / "mine")}
    assert crd_dir(setting, shared=shared, cache=tmp_path / "cache") == tmp_path / "mine"


def test_without_the_setting_the_shared_copy_comes_first_then_the_cache(tmp_path: Path) -> None:
    shared, cache = tmp_path / "shared", tmp_path / "cache"
    assert crd_dir({}, shared=shared, cache=cache) == cache
    shared.mkdir()
    assert crd_dir({}, shared=shared, cache=cache) == shared
    assert crd_dir({fetch_crds.ENV_VAR: ""}, shared=shared, cache=cache) == shared


def _source(url: str = "https://example.invalid/x.yaml") -> dict[str, str]:
    return {"url": url, "sha256": GOOD_SHA256}


def test_a_corrupted_file_is_refused_with_both_hashes(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_bytes(BAD)
    with pytest.raises(ChecksumError) as raised:
        read_pinned(tmp_path, "x.yaml", _source())
    assert str(raised.value) == (
        f"x.yaml: sha256 is {BAD_SHA256}, expected {GOOD_SHA256} as pinned for https://example.invalid/x.yaml"
    )


def test_a_missing_file_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as raised:
        read_pinned(tmp_path, "x.yaml", _source())
    assert str(raised.value) == (
        f"CRD schema {tmp_path / 'x.yaml'} is missing: download the files of tests/crds/sources.json there with "
        f"`python3 scripts/fetch_crds.py --dest {tmp_path}`, or set GKE_TPU_SERVING_CRD_DIR to a directory that has them"
    )


class Server:
    """An HTTP server on 127.0.0.1 serving `root`, recording the paths asked for."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                server.requests.append(self.path)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}/{name}"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # never through a proxy, wherever the tests run
    root = tmp_path / "served"
    root.mkdir()
    served = Server(root)
    thread = threading.Thread(target=served.http.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        served.http.shutdown()
        served.http.server_close()
        thread.join()


def _pin(tmp_path: Path, server: Server, name: str = "x.yaml") -> list[str]:
    """--sources and --dest for a sources.json that pins `name` on `server` to GOOD."""
    sources = tmp_path / "sources.json"
    sources.write_text(json.dumps({name: _source(server.url(name))}))
    return ["--sources", str(sources), "--dest", str(tmp_path / "dest")]


def test_a_pinned_file_is_downloaded_once(tmp_path: Path, server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    (server.root / "x.yaml").write_bytes(GOOD)
    argv = _pin(tmp_path, server)
    assert main(argv) == 0
    assert main(argv) == 0
    assert (tmp_path / "dest" / "x.yaml").read_bytes() == GOOD
    assert server.requests == ["/x.yaml"]
    assert capsys.readouterr().out.splitlines() == [
        f"fetch_crds: {tmp_path / 'dest' / 'x.yaml'}: downloaded, sha256 verified",
        f"fetch_crds: {tmp_path / 'dest' / 'x.yaml'}: present, sha256 verified",
    ]


def test_a_stale_copy_is_downloaded_again(tmp_path: Path, server: Server) -> None:
    (server.root / "x.yaml").write_bytes(GOOD)
    argv = _pin(tmp_path, server)
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / "x.yaml").write_bytes(BAD)
    assert main(argv) == 0
    assert (tmp_path / "dest" / "x.yaml").read_bytes() == GOOD


def test_a_download_with_another_hash_is_refused_and_nothing_is_left(
    tmp_path: Path, server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    (server.root / "x.yaml").write_bytes(BAD)
    argv = _pin(tmp_path, server)
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / "x.yaml").write_bytes(BAD)  # a stale copy is not kept either
    assert main(argv) == 1
    assert list((tmp_path / "dest").iterdir()) == []
    assert capsys.readouterr().err == (
        f"fetch_crds: refused x.yaml: sha256 is {BAD_SHA256}, expected {GOOD_SHA256} as pinned for "
        f"{server.url('x.yaml')}; nothing is kept at {tmp_path / 'dest' / 'x.yaml'}\n"
    )


def test_a_failed_download_names_the_file_and_its_url(
    tmp_path: Path, server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_pin(tmp_path, server)) == 1
    assert capsys.readouterr().err == f"fetch_crds: x.yaml: {server.url('x.yaml')}: HTTP Error 404: File not found\n"
    assert not (tmp_path / "dest" / "x.yaml").exists()


def test_nothing_is_downloaded_where_the_schemas_come_from_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(fetch_crds.ENV_VAR, str(tmp_path))
    assert main([]) == 0
    assert capsys.readouterr().out == f"fetch_crds: CRD schemas are read from {tmp_path}; nothing to download\n"
