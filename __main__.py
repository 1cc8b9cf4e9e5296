"""gke-tpu-serving: load the typed stack config, build the stack, export its outputs."""

import pulumi

from stacks.build import build
from stacks.config import load

for key, value in build(load()).items():
    pulumi.export(key, value)
