"""Offline preview: run a Pulumi program under in-process mocks, with no CLI, credentials or network.

`run_program` runs a project's `__main__.py` for one stack and returns every resource the engine would
have been asked to create; `render_tree`, `write_manifests` and `render_diff` turn that into what a
reviewer reads. `MockSession` is the same machinery for unit tests that construct components directly
(tests/conftest.py wraps it as the `pulumi_mocks` fixture).
"""

from .mocks import MockSession, UnmockedInvokeError, default_invokes, plain_value
from .model import SECRET, UNKNOWN, PreviewResult, RecordedResource
from .render import kubernetes_manifests, render_diff, render_tree, write_manifests
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
