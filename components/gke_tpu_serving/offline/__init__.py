"""Offline preview: run a Pulumi program under in-process mocks, with no CLI, credentials or network.

`run_program` runs a project's `__main__.py` for one stack and returns every resource the engine would
have been asked to create; `render_tree`, `write_manifests` and `render_diff` turn that into what a
reviewer reads. `MockSession` is the same machinery for unit tests that construct components directly
(tests/conftest.py wraps it as the `pulumi_mocks` fixture).

Not a component, and deliberately not hosted: the source plugin that `pulumi package add` runs
(components/__main__.py) imports the package root, which does not import this subpackage, so the mocks never
load in the provider process and add nothing to the schema or generated SDKs (tests/test_component_schema.py
checks it). It ships in the wheel for importers' tests and scripts; keep it out of the package root's imports.
"""

from .diff import render_diff
from .mocks import MockSession, UnmockedInvokeError, default_invokes, plain_value
from .model import SECRET, UNKNOWN, PreviewResult, RecordedResource
from .render import kubernetes_manifests, render_tree, write_manifests
from .runner import ProjectError, input_error_message, load_stack_config, run_program

__all__ = [
    "SECRET",
    "UNKNOWN",
    "MockSession",
    "PreviewResult",
    "ProjectError",
    "RecordedResource",
    "UnmockedInvokeError",
    "default_invokes",
    "input_error_message",
    "kubernetes_manifests",
    "load_stack_config",
    "plain_value",
    "render_diff",
    "render_tree",
    "run_program",
    "write_manifests",
]
