"""The real backend (saxml_http.sax_backend.SaxBackend) without Saxml: its set-up checks, its translation of Sax's
errors into HTTP statuses, and its calls into Sax's Python client, against StubSaxModule, a stand-in for the
pybind11 module `saxml.client.python.sax` that records calls (Saxml's client cannot be built here)."""

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
from saxml_http.backend import (
    AlreadyPublished,
    BackendFailure,
    BackendUnavailable,
    ModelDetail,
    NotFound,
    RefusedByBackend,
)
from saxml_http.sax_backend import SaxBackend, classify_sax_error

SAX_ROOT = {"SAX_ROOT": "gs://bucket/sax-root"}


class FakeStatus:
    """pybind11_abseil's absl::Status binding: raw_code() and message()."""

    def __init__(self, code: int, message: str) -> None:
        self._code, self._message = code, message

    def raw_code(self) -> int:
        return self._code

    def message(self) -> str:
        return self._message


class StatusNotOk(Exception):
    """As pybind11_abseil raises it: str() is absl's "CODE: message", `.status` the status."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.status = FakeStatus(code, message)


@pytest.mark.parametrize(
    ("error", "failure", "message"),
    [
        (
            StatusNotOk(5, "NOT_FOUND", "model /sax/test/x not found"),
            NotFound,
            "Sax NOT_FOUND: model /sax/test/x not found",
        ),
        (
            StatusNotOk(6, "ALREADY_EXISTS", "model /sax/test/x is being unpublished, please retry later"),
            AlreadyPublished,
            "Sax ALREADY_EXISTS: model /sax/test/x is being unpublished, please retry later",
        ),
        (
            StatusNotOk(3, "INVALID_ARGUMENT", "invalid model update: model path can't be changed"),
            RefusedByBackend,
            "Sax INVALID_ARGUMENT: invalid model update: model path can't be changed",
        ),
        (StatusNotOk(14, "UNAVAILABLE", "no admin server"), BackendUnavailable, "Sax UNAVAILABLE: no admin server"),
        (StatusNotOk(4, "DEADLINE_EXCEEDED", "timed out"), BackendUnavailable, "Sax DEADLINE_EXCEEDED: timed out"),
        (StatusNotOk(7, "PERMISSION_DENIED", "gs://b: 403"), BackendFailure, "Sax PERMISSION_DENIED: gs://b: 403"),
        (
            RuntimeError("NOT_FOUND: model /sax/test/y not found"),
            NotFound,
            "Sax NOT_FOUND: model /sax/test/y not found",
        ),
        (RuntimeError("Caught an unknown exception!"), BackendFailure, "Sax error: Caught an unknown exception!"),
    ],
    ids=["not-found", "being-unpublished", "invalid", "unavailable", "deadline", "denied", "text-code", "no-code"],
)
def test_sax_errors_become_the_failure_of_their_status(
    error: Exception, failure: type[BackendFailure], message: str
) -> None:
    classified = classify_sax_error(error)
    assert (type(classified), str(classified)) == (failure, message)


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (NotFound, 404),
        (AlreadyPublished, 409),
        (RefusedByBackend, 400),
        (BackendUnavailable, 503),
        (BackendFailure, 502),
    ],
)
def test_each_failure_has_its_http_status(failure: type[BackendFailure], status: int) -> None:
    assert failure.status_code == status


@pytest.mark.parametrize("sax_root", ["", "/local/sax-root"])
def test_sax_backend_needs_a_cloud_storage_sax_root(sax_root: str) -> None:
    with pytest.raises(RuntimeError) as raised:
        SaxBackend({"SAX_ROOT": sax_root})
    assert str(raised.value) == (
        f"SAX_ROOT must be the Sax root the admin server writes (gs://BUCKET/sax-root), got {sax_root!r}"
    )


def test_sax_backend_without_the_sax_client_says_where_it_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes the import fail, as it does anywhere but in the image.
    monkeypatch.setitem(sys.modules, "saxml.client.python.sax", None)
    with pytest.raises(RuntimeError) as raised:
        SaxBackend(SAX_ROOT)
    assert str(raised.value).startswith("the Sax Python client (saxml.client.python.sax) cannot be imported (")
    assert str(raised.value).endswith(
        "): it is built into the saxml-http-server image; elsewhere run with SAXML_BACKEND=fake (a test double)"
    )


@dataclass
class StubDetail:
    model: str
    ckpt: str
    max_replicas: int
    active_replicas: int


@dataclass
class StubModelOptions:
    extra_inputs: dict[str, float] = field(default_factory=dict)

    def SetExtraInput(self, name: str, value: float) -> None:
        self.extra_inputs[name] = value


class StubSaxModule(ModuleType):
    """A stand-in for `saxml.client.python.sax`: records admin calls, answers with canned values."""

    def __init__(self) -> None:
        super().__init__("saxml.client.python.sax")
        self.calls: list[tuple[Any, ...]] = []
        self.error: Exception | None = None

    def _record(self, *call: Any) -> None:
        self.calls.append(call)
        if self.error:
            raise self.error

    def Publish(self, *args: Any) -> None:
        self._record("Publish", *args)

    def Update(self, *args: Any) -> None:
        self._record("Update", *args)

    def Unpublish(self, model: str) -> None:
        self._record("Unpublish", model)

    def ListDetail(self, model: str) -> StubDetail:
        self._record("ListDetail", model)
        return StubDetail("saxml.server.pax.lm.params.lm_cloud.LmCloudSpmd2BTest", "None", 2, 1)

    def ListAll(self, cell: str) -> list[str]:
        self._record("ListAll", cell)
        return ["/sax/test/b", "/sax/test/a"]

    ModelOptions = StubModelOptions

    def Model(self, model: str) -> "StubSaxModule":
        self._record("Model", model)
        return self

    def LM(self) -> "StubSaxModule":
        return self

    def Generate(self, query: str, options: StubModelOptions) -> list[tuple[str, float]]:
        self._record("Generate", query, dict(options.extra_inputs))
        return [("an answer", -0.5)]


@pytest.fixture
def sax(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubSaxModule]:
    stub = StubSaxModule()
    monkeypatch.setitem(sys.modules, "saxml.client.python.sax", stub)
    yield stub


def test_admin_calls_go_to_the_sax_client(sax: StubSaxModule) -> None:
    backend = SaxBackend(SAX_ROOT)
    backend.publish("/sax/test/lm", "saxml.path.Model", "None", 2)
    backend.update("/sax/test/lm", "saxml.path.Model", "None", 3)
    backend.unpublish("/sax/test/lm")
    assert sax.calls == [
        ("Publish", "/sax/test/lm", "saxml.path.Model", "None", 2),
        ("Update", "/sax/test/lm", "saxml.path.Model", "None", 3),
        ("Unpublish", "/sax/test/lm"),
    ]


def test_list_model_reads_sax_list_detail(sax: StubSaxModule) -> None:
    assert SaxBackend(SAX_ROOT).list_model("/sax/test/lm") == ModelDetail(
        model="/sax/test/lm",
        model_path="saxml.server.pax.lm.params.lm_cloud.LmCloudSpmd2BTest",
        checkpoint="None",
        max_replicas=2,
        active_replicas=1,
    )


def test_list_cell_is_sorted(sax: StubSaxModule) -> None:
    assert SaxBackend(SAX_ROOT).list_cell("/sax/test") == ["/sax/test/a", "/sax/test/b"]


def test_generate_sets_extra_inputs_on_the_model_options(sax: StubSaxModule) -> None:
    samples = SaxBackend(SAX_ROOT).generate("/sax/test/lm", "Hi", {"temperature": 0.5})
    assert samples == [("an answer", -0.5)]
    assert sax.calls == [("Model", "/sax/test/lm"), ("Generate", "Hi", {"temperature": 0.5})]


def test_a_sax_error_is_raised_as_its_failure(sax: StubSaxModule) -> None:
    sax.error = StatusNotOk(5, "NOT_FOUND", "model /sax/test/lm not found")
    with pytest.raises(NotFound, match=r"^Sax NOT_FOUND: model /sax/test/lm not found$"):
        SaxBackend(SAX_ROOT).unpublish("/sax/test/lm")
