"""The real backend: Sax's Python client, `saxml.client.python.sax`, which the saxml-http-server image builds from the
pinned Saxml release. It exists only in that image, so it is imported when a SaxBackend is created, not before.

The client finds the cell's admin server through SAX_ROOT (gs://BUCKET/sax-root), the root the admin server writes
its address to, and answers admin calls from there. Its errors are absl statuses, which pybind11_abseil raises as
StatusNotOk (`.status.raw_code()`, `.status.message()`; str() is "NOT_FOUND: model ... not found").
"""

import importlib
import os
import re
from collections.abc import Mapping
from typing import Any

from .backend import (
    AlreadyPublished,
    BackendFailure,
    BackendUnavailable,
    ModelDetail,
    NotFound,
    RefusedByBackend,
)

SAX_ROOT_ENV = "SAX_ROOT"

# absl::StatusCode numbers (absl/status/status.h) and what each means for a caller of this server.
_STATUS_NAMES = {
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}
_FAILURES: dict[str, type[BackendFailure]] = {
    "NOT_FOUND": NotFound,
    # Also "model ... is being unpublished, please retry later".
    "ALREADY_EXISTS": AlreadyPublished,
    "INVALID_ARGUMENT": RefusedByBackend,
    "FAILED_PRECONDITION": RefusedByBackend,
    "OUT_OF_RANGE": RefusedByBackend,
    "UNAVAILABLE": BackendUnavailable,
    "DEADLINE_EXCEEDED": BackendUnavailable,
    "RESOURCE_EXHAUSTED": BackendUnavailable,
    "ABORTED": BackendUnavailable,
    "CANCELLED": BackendUnavailable,
}
# PERMISSION_DENIED and UNAUTHENTICATED are this server's identity failing (its Workload Identity, the bucket's IAM),
# not the caller's: they stay a 502 like any other failure, with Sax's message.
_STATUS_PREFIX = re.compile(r"^([A-Z_]+): ?(.*)$", re.DOTALL)


def classify_sax_error(error: Exception) -> BackendFailure:
    """The BackendFailure to answer for an exception the Sax client raised."""
    name: str | None = None
    message = str(error)
    status = getattr(error, "status", None)
    if status is not None and callable(getattr(status, "raw_code", None)):
        name = _STATUS_NAMES.get(status.raw_code())
        message = str(status.message())
    else:
        prefix = _STATUS_PREFIX.match(message)
        if prefix and prefix.group(1) in _FAILURES.keys() | _STATUS_NAMES.values():
            name, message = prefix.group(1), prefix.group(2)
    failure = _FAILURES.get(name or "", BackendFailure)
    return failure(f"Sax {name or 'error'}: {message.strip() or type(error).__name__}")


class SaxBackend:
    """Admin calls and Generate through Sax's Python client."""

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        if not environ.get(SAX_ROOT_ENV, "").startswith("gs://"):
            raise RuntimeError(
                f"{SAX_ROOT_ENV} must be the Sax root the admin server writes (gs://BUCKET/sax-root), "
                f"got {environ.get(SAX_ROOT_ENV, '')!r}"
            )
        try:
            self._sax: Any = importlib.import_module("saxml.client.python.sax")
        except ImportError as error:
            raise RuntimeError(
                f"the Sax Python client (saxml.client.python.sax) cannot be imported ({error}): it is built into the "
                "saxml-http-server image; elsewhere run with SAXML_BACKEND=fake (a test double)"
            ) from error

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._sax, method)(*args)
        except Exception as error:  # pybind11_abseil's StatusNotOk, or RuntimeError from some builds
            raise classify_sax_error(error) from error

    def publish(self, model: str, model_path: str, checkpoint: str, replicas: int) -> None:
        self._call("Publish", model, model_path, checkpoint, replicas)

    def update(self, model: str, model_path: str, checkpoint: str, replicas: int) -> None:
        self._call("Update", model, model_path, checkpoint, replicas)

    def unpublish(self, model: str) -> None:
        self._call("Unpublish", model)

    def list_model(self, model: str) -> ModelDetail:
        # ListDetail's `model` is the model path in Sax's registry; `ckpt` the checkpoint.
        detail = self._call("ListDetail", model)
        return ModelDetail(
            model=model,
            model_path=str(detail.model),
            checkpoint=str(detail.ckpt),
            max_replicas=int(detail.max_replicas),
            active_replicas=int(detail.active_replicas),
        )

    def list_cell(self, cell: str) -> list[str]:
        return sorted(str(model) for model in self._call("ListAll", cell))

    def generate(self, model: str, query: str, extra_inputs: Mapping[str, float]) -> list[tuple[str, float]]:
        try:
            options = self._sax.ModelOptions()
            for name, value in extra_inputs.items():
                options.SetExtraInput(name, float(value))
            language_model = self._sax.Model(model).LM()
            samples = language_model.Generate(query, options)
        except Exception as error:
            raise classify_sax_error(error) from error
        return [(str(text), float(score)) for text, score in samples]
