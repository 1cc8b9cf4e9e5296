"""TEST DOUBLE: FakeSaxBackend, an in-memory stand-in for a Sax admin server and its model servers. No model runs.

Saxml cannot be built on the machines this project is tested on (Bazel, TensorFlow, a TPU runtime), so the HTTP
server and the client are tested against this double, selected with SAXML_BACKEND=fake. It keeps what an admin server
keeps (the published models of its cells) and answers as one does:

- publish: NotFound for a cell it does not serve, AlreadyPublished for a model already published;
- publish of a model just unpublished: AlreadyPublished ("being unpublished, please retry later") for the next
  SAXML_FAKE_UNPUBLISH_LAG_CALLS publish calls of it, as while Sax's model servers unload it;
- update: NotFound for an unknown model; RefusedByBackend when the model path or checkpoint would change (Sax's
  admin server refuses that: unpublish and publish again); the replica count may change;
- unpublish / list_model: NotFound for an unknown model; list_cell: NotFound for an unknown cell;
- generate: NotFound for an unknown model, BackendUnavailable while it has no replica; otherwise one deterministic
  sample, `[model_path] query` (then ` {name=value, ...}` for extra inputs) and score -1.0, so a test can check what
  reached the backend.

Every published replica is active at once (a real model server takes minutes to load a model).

Environment, read by `from_env` when the server starts:
  SAXML_FAKE_CELLS              comma-separated cells it serves (default /sax/test)
  SAXML_FAKE_UNAVAILABLE_CALLS  its first N calls fail with BackendUnavailable, as while the admin server starts (0)
  SAXML_FAKE_UNPUBLISH_LAG_CALLS  publish calls refused after an unpublish of the same model (0)
"""

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .backend import AlreadyPublished, BackendUnavailable, ModelDetail, NotFound, RefusedByBackend

FAKE_SCORE = -1.0


@dataclass
class _Published:
    model_path: str
    checkpoint: str
    replicas: int


class FakeSaxBackend:
    """TEST DOUBLE of a Sax admin server: see the module docstring."""

    def __init__(
        self, cells: Iterable[str] = ("/sax/test",), unavailable_calls: int = 0, unpublish_lag_calls: int = 0
    ) -> None:
        self._cells = frozenset(cells)
        self._unavailable_calls = unavailable_calls
        self._unpublish_lag_calls = unpublish_lag_calls
        self._models: dict[str, _Published] = {}
        self._unloading: dict[str, int] = {}  # model -> publish calls it still refuses
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "FakeSaxBackend":
        cells = [cell.strip() for cell in environ.get("SAXML_FAKE_CELLS", "/sax/test").split(",") if cell.strip()]
        return cls(
            cells,
            unavailable_calls=int(environ.get("SAXML_FAKE_UNAVAILABLE_CALLS", "0")),
            unpublish_lag_calls=int(environ.get("SAXML_FAKE_UNPUBLISH_LAG_CALLS", "0")),
        )

    def _start_call(self) -> None:
        # Called with the lock held.
        if self._unavailable_calls > 0:
            self._unavailable_calls -= 1
            raise BackendUnavailable(
                f"fake admin server not ready yet ({self._unavailable_calls} more calls will fail)"
            )

    def _published(self, model: str) -> _Published:
        if model not in self._models:
            raise NotFound(f"model {model} is not published")
        return self._models[model]

    def publish(self, model: str, model_path: str, checkpoint: str, replicas: int) -> None:
        with self._lock:
            self._start_call()
            cell = model.rsplit("/", 1)[0]
            if cell not in self._cells:
                raise NotFound(f"cell {cell} has no admin server")
            if model in self._models:
                raise AlreadyPublished(f"model {model} is already published")
            if self._unloading.get(model, 0) > 0:
                self._unloading[model] -= 1
                raise AlreadyPublished(f"model {model} is being unpublished, please retry later")
            self._models[model] = _Published(model_path, checkpoint, replicas)

    def update(self, model: str, model_path: str, checkpoint: str, replicas: int) -> None:
        with self._lock:
            self._start_call()
            published = self._published(model)
            if (model_path, checkpoint) != (published.model_path, published.checkpoint):
                raise RefusedByBackend(
                    f"model {model}: the model path and checkpoint cannot change "
                    f"(published: {published.model_path}, {published.checkpoint}): unpublish it and publish it again"
                )
            published.replicas = replicas

    def unpublish(self, model: str) -> None:
        with self._lock:
            self._start_call()
            self._published(model)
            del self._models[model]
            self._unloading[model] = self._unpublish_lag_calls

    def list_model(self, model: str) -> ModelDetail:
        with self._lock:
            self._start_call()
            published = self._published(model)
            replicas = published.replicas
            return ModelDetail(model, published.model_path, published.checkpoint, replicas, replicas)

    def list_cell(self, cell: str) -> list[str]:
        with self._lock:
            self._start_call()
            if cell not in self._cells:
                raise NotFound(f"cell {cell} has no admin server")
            return sorted(model for model in self._models if model.rsplit("/", 1)[0] == cell)

    def generate(self, model: str, query: str, extra_inputs: Mapping[str, float]) -> list[tuple[str, float]]:
        with self._lock:
            self._start_call()
            published = self._published(model)
            if published.replicas == 0:
                raise BackendUnavailable(f"model {model} has no replica serving it")
            text = f"[{published.model_path}] {query}"
            if extra_inputs:
                text += " {" + ", ".join(f"{name}={value:g}" for name, value in sorted(extra_inputs.items())) + "}"
            return [(text, FAKE_SCORE)]
