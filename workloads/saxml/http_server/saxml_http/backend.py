"""What the HTTP server needs from Sax: the Backend protocol, the model details it returns and the failures it raises.

Every backend method blocks (the Sax client is a C++ library behind pybind11); the app calls them from FastAPI's
thread pool. A backend raises only the BackendFailure subclasses below; each one is answered with its HTTP status.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol


@dataclass(frozen=True)
class ModelDetail:
    """A published model as the admin server reports it."""

    model: str
    model_path: str
    checkpoint: str
    max_replicas: int
    active_replicas: int


class BackendFailure(Exception):
    """Sax refused or failed a call; `status_code` is the HTTP status the server answers with."""

    status_code: ClassVar[int] = 502


class NotFound(BackendFailure):
    """No such model (or cell)."""

    status_code = 404


class AlreadyPublished(BackendFailure):
    """The model is already published (or still being unpublished)."""

    status_code = 409


class RefusedByBackend(BackendFailure):
    """The admin server refused the arguments, e.g. an update that changes the model path or checkpoint."""

    status_code = 400


class BackendUnavailable(BackendFailure):
    """The admin server or every replica of the model is unreachable for now: worth retrying."""

    status_code = 503


class Backend(Protocol):
    """One Sax cell's admin operations and a language model's Generate."""

    def publish(self, model: str, model_path: str, checkpoint: str, replicas: int) -> None: ...

    def update(self, model: str, model_path: str, checkpoint: str, replicas: int) -> None: ...

    def unpublish(self, model: str) -> None: ...

    def list_model(self, model: str) -> ModelDetail: ...

    def list_cell(self, cell: str) -> list[str]: ...

    def generate(self, model: str, query: str, extra_inputs: Mapping[str, float]) -> list[tuple[str, float]]: ...
