"""Real servers on 127.0.0.1 for the storage the Llama workload talks to, as pytest fixtures.

- `gcs_emulator`: gcp-storage-emulator (in memory) on a free port, with STORAGE_EMULATOR_HOST pointing at it, so
  `gcs_sync.storage_client()` in this process (and in child processes given that variable) uses it.
- `s3`: moto in server mode (one per test module) with fake AWS credentials in the environment; each test gets a
  fresh bucket.
- `hf_hub`: TEST DOUBLE of the three Hugging Face Hub endpoints the staging job uses (model info, the file tree and
  file downloads, with LFS files behind a redirect and gated repositories behind a token), with HF_ENDPOINT pointing
  at it. It is a stand-in written for these tests, not the Hub's behaviour in full.

Test modules import these fixtures by name, with the module-scoped servers they use (`gcs_emulator_server`,
`moto_server`, `hf_hub_server`), so pytest finds them.
"""

import hashlib
import itertools
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from gcp_storage_emulator.server import create_server
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from moto.server import ThreadedMotoServer


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class GcsEmulator:
    url: str
    """What STORAGE_EMULATOR_HOST is set to, e.g. http://127.0.0.1:PORT."""

    def client(self) -> storage.Client:
        """A client of the test's own, for arranging and inspecting buckets."""
        return storage.Client(
            project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": self.url}
        )

    def create_bucket(self, name: str) -> storage.Bucket:
        return self.client().create_bucket(name)


@pytest.fixture(scope="module")
def gcs_emulator_server() -> Iterator[tuple[str, Any]]:
    """One emulator per test module (stopping one takes half a second); `gcs_emulator` empties it for each test."""
    port = _free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.stop()


@pytest.fixture
def gcs_emulator(gcs_emulator_server: tuple[str, Any], monkeypatch: pytest.MonkeyPatch) -> GcsEmulator:
    url, server = gcs_emulator_server
    server.wipe()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", url)
    return GcsEmulator(url)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@dataclass(frozen=True)
class S3Bucket:
    endpoint_url: str
    name: str
    client: Any
    """A boto3 S3 client for arranging objects."""

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=data)

    def put_multipart(self, key: str, parts: list[bytes]) -> None:
        """An object uploaded in parts: its ETag is `<hash>-<parts>`, not the MD5 of its bytes."""
        upload_id = self.client.create_multipart_upload(Bucket=self.name, Key=key)["UploadId"]
        etags = [
            self.client.upload_part(Bucket=self.name, Key=key, PartNumber=number, UploadId=upload_id, Body=part)["ETag"]
            for number, part in enumerate(parts, start=1)
        ]
        self.client.complete_multipart_upload(
            Bucket=self.name,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": n} for n, etag in enumerate(etags, start=1)]},
        )


_bucket_numbers = itertools.count()


@pytest.fixture
def s3(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("s3", endpoint_url=moto_server)
    name = f"source-models-{next(_bucket_numbers)}"
    client.create_bucket(Bucket=name)
    return S3Bucket(moto_server, name, client)


# --- TEST DOUBLE of the Hugging Face Hub ----------------------------------------------------------------------


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass
class _Repo:
    commit: str
    files: dict[str, bytes]
    lfs: set[str]
    token: str | None
    """A gated repository: downloads need `Authorization: Bearer <token>`."""
    branch: str = "main"


@dataclass
class HfHubTestDouble:
    """TEST DOUBLE: answers GET /api/models/{repo}/revision/{rev}, GET /api/models/{repo}/tree/{commit} (recursive,
    one page) and GET /{repo}/resolve/{commit}/{path} (LFS files through a 302 to /test-cdn/{sha256})."""

    url: str = ""
    repos: dict[str, _Repo] = field(default_factory=dict)
    downloads: list[str] = field(default_factory=list)
    """Paths downloaded through /resolve, in order."""

    def add_repo(
        self, repo_id: str, files: dict[str, bytes], lfs: set[str], token: str | None = None, branch: str = "main"
    ) -> str:
        """Publishes `files` (those named in `lfs` as LFS files) at `branch` only; returns the commit id."""
        commit = hashlib.sha1(repo_id.encode() + json.dumps(sorted(files)).encode()).hexdigest()
        self.repos[repo_id] = _Repo(commit, files, lfs, token, branch)
        return commit

    def tree_entry(self, repo: _Repo, path: str) -> dict[str, Any]:
        data = repo.files[path]
        entry: dict[str, Any] = {"type": "file", "path": path, "size": len(data), "oid": git_blob_id(data)}
        if path in repo.lfs:
            entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
        return entry


_API = re.compile(r"/api/models/(?P<repo>[^/]+/[^/]+)/(?P<what>revision|tree)/(?P<rev>[^/?]+)")
_RESOLVE = re.compile(r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>[^?]+)")
_CDN = re.compile(r"/test-cdn/(?P<sha256>[0-9a-f]{64})")


def _handler(hub: HfHubTestDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, code: str) -> None:
            self._send(status, json.dumps({"error": code}).encode(), {"X-Error-Code": code})

        def do_GET(self) -> None:
            if match := _API.match(self.path):
                repo = hub.repos.get(match["repo"])
                if repo is None:
                    return self._error(404, "RepoNotFound")
                if match["rev"] not in (repo.branch, repo.commit):
                    return self._error(404, "RevisionNotFound")
                if match["what"] == "revision":
                    body: Any = {"id": match["repo"], "sha": repo.commit, "private": False, "gated": bool(repo.token)}
                else:
                    body = [hub.tree_entry(repo, path) for path in sorted(repo.files)]
                return self._send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
            if match := _RESOLVE.match(self.path):
                repo = hub.repos.get(match["repo"])
                if repo is None or match["rev"] != repo.commit or match["path"] not in repo.files:
                    return self._error(404, "EntryNotFound")
                if repo.token and self.headers.get("Authorization") != f"Bearer {repo.token}":
                    return self._error(401, "GatedRepo")
                hub.downloads.append(match["path"])
                data = repo.files[match["path"]]
                if match["path"] in repo.lfs:
                    return self._send(302, b"", {"Location": f"{hub.url}/test-cdn/{hashlib.sha256(data).hexdigest()}"})
                return self._send(200, data)
            if match := _CDN.match(self.path):
                for repo in hub.repos.values():
                    for data in repo.files.values():
                        if hashlib.sha256(data).hexdigest() == match["sha256"]:
                            return self._send(200, data)
            return self._error(404, "EntryNotFound")

    return Handler


@pytest.fixture(scope="module")
def hf_hub_server() -> Iterator[HfHubTestDouble]:
    hub = HfHubTestDouble()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hf_hub(hf_hub_server: HfHubTestDouble, monkeypatch: pytest.MonkeyPatch) -> HfHubTestDouble:
    hf_hub_server.repos.clear()
    hf_hub_server.downloads.clear()
    monkeypatch.setenv("HF_ENDPOINT", hf_hub_server.url)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return hf_hub_server
