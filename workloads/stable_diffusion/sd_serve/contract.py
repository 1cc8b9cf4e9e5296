"""What the ingress and the model deployment exchange, and which image shapes are served. Imports no JAX, so the
ingress replica (and Serve's controller, which imports the app to build it) stays light."""

from dataclasses import dataclass, field

import numpy as np

MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class ServedShapes:
    """The sizes (square, in pixels) and step counts compiled at start-up; nothing else is ever served."""

    sizes: tuple[int, ...]
    steps: tuple[int, ...]

    def refusal(self, width: int, height: int, steps: int) -> str | None:
        """Why a request for this shape cannot be served, or None if it can."""
        if width != height or width not in self.sizes:
            allowed = ", ".join(f"{size}x{size}" for size in self.sizes)
            return f"size {width}x{height} is not served: allowed sizes are {allowed}"
        if steps not in self.steps:
            return f"steps {steps} is not served: allowed steps are {', '.join(map(str, self.steps))}"
        return None


@dataclass(frozen=True)
class ImageJob:
    prompt: str
    seed: int
    size: int
    steps: int


@dataclass(frozen=True)
class ImageResult:
    image: np.ndarray = field(repr=False)
    """(size, size, 3) uint8 RGB."""
    batch_requests: int
    """Requests generated together with this one (itself included)."""
    batch_seconds: float
    """Time the model spent on that batch."""
