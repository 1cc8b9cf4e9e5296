"""The shapes every test here serves: the tiny random pipeline, 32x32, 2 steps, on two CPU devices."""

from typing import Any

CPU_DEVICES = 2
SIZE = 32
STEPS = 2
APP_ARGS: dict[str, Any] = {
    "model": "random:tiny",
    "resolution": SIZE,
    "default_steps": STEPS,
    "batch_sizes": [1, 2],
    # Long enough that requests sent together on a busy 2-core machine still meet in one batch.
    "batch_wait_timeout_s": 0.5,
}
