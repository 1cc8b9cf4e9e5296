"""The serving scenarios, each registered once: a stack config key per scenario, any number of named instances."""

from ..model import Scenario
from . import llama, saxml, stable_diffusion

SCENARIOS: dict[str, Scenario] = {s.key: s for s in (stable_diffusion.SCENARIO, saxml.SCENARIO, llama.SCENARIO)}
"""Scenarios by config key, in the order the stack deploys them."""
