"""Pulumi's in-process mocks, extended to record what a real engine would be told.

`MockMonitor` hands `Mocks.new_resource` only the inputs; resource options (protect, dependencies, provider,
parent) and the stack's exports (RegisterResourceOutputs) reach the monitor alone, so `RecordingMonitor`
reads them off the raw requests. It also names resources the way the engine does: the stock mock prefixes
top-level types with `pulumi:pulumi:Stack$` and keeps only the last parent type of nested ones.
"""

import asyncio
import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import Stack, massage, wait_for_rpcs
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from .cluster_outputs import CLUSTER_TYPE, cluster_outputs
from .invokes import InvokeHandler, default_invokes
from .model import SECRET, STACK_TYPE, UNKNOWN, PreviewResult, RecordedResource

ComputedOutputs = Callable[[pulumi_mocks.MockResourceArgs], Mapping[str, Any]]
"""Adds provider-computed outputs for one resource type on top of its inputs."""

# Pulumi's wire format (pulumi/runtime/rpc.py): special objects carry this key with one of the signatures.
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
_OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
_ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
_ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7"
_UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


class UnmockedInvokeError(Exception):
    """The program called a provider function that no mock answers; a guessed answer would hide a bug."""

    def __init__(self, token: str, args: Mapping[str, Any]) -> None:
        self.token = token
        super().__init__(
            f"unmocked invoke {token} (args: {json.dumps(plain_value(dict(args)), sort_keys=True, default=repr)}); "
            "answer it with run_program(..., invokes={token: handler}) or pulumi_mocks.invokes[token]"
        )


BUILT_IMAGE_TYPE = "docker-build:index:Image"


def offline_image_digest(tags: Any) -> str:
    """The stand-in digest of a built image offline: a hash of its tags (stacks/images.py tags by the build's inputs),
    so a `--diff` shows which servers a change rolls, and manifests carry a digest reference as after `pulumi up`."""
    return "sha256:" + hashlib.sha256(json.dumps(plain_value(tags), sort_keys=True).encode()).hexdigest()


def _built_image(args: pulumi_mocks.MockResourceArgs) -> Mapping[str, Any]:
    return {"digest": offline_image_digest(args.inputs.get("tags"))}


RANDOM_PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"


def _random_password(args: pulumi_mocks.MockResourceArgs) -> Mapping[str, Any]:
    # A stand-in of the requested length, stable per resource; the value is a secret, so no rendering shows it.
    length = int(args.inputs.get("length") or 16)
    seed = hashlib.sha256(f"offline-password:{args.name}".encode()).hexdigest()
    return {"result": (seed * (length // len(seed) + 1))[:length]}


def default_computed() -> dict[str, ComputedOutputs]:
    """The provider-computed outputs every offline run adds; callers add their own on top."""
    return {BUILT_IMAGE_TYPE: _built_image, RANDOM_PASSWORD_TYPE: _random_password, CLUSTER_TYPE: cluster_outputs}


def plain_value(value: Any) -> Any:
    """Turn a deserialized protobuf value into what a reviewer should read.

    Every number crosses the wire as a double, so integral floats become ints again; secrets become
    "[secret]" (containers keep their shape so a redacted manifest still validates); unknowns become
    "[unknown]"; resource references become their URN. Keys are sorted so renderings are stable.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == _UNKNOWN_SENTINEL:
        return UNKNOWN
    if isinstance(value, list):
        return [plain_value(item) for item in value]
    if not isinstance(value, dict):
        return value
    signature = value.get(_SIG_KEY)
    if signature == _SECRET_SIG:
        return _redact(plain_value(value.get("value")))
    if signature == _RESOURCE_SIG:
        return value.get("urn", UNKNOWN)
    if signature == _OUTPUT_VALUE_SIG:
        if "value" not in value:
            return UNKNOWN
        inner = plain_value(value["value"])
        return _redact(inner) if value.get("secret") else inner
    if signature in (_ASSET_SIG, _ARCHIVE_SIG):
        kind = "asset" if signature == _ASSET_SIG else "archive"
        return {kind: {k: plain_value(v) for k, v in sorted(value.items()) if k != _SIG_KEY}}
    return {key: plain_value(item) for key, item in sorted(value.items())}


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return SECRET


def _struct_to_plain(struct: Any) -> dict[str, Any]:
    result = plain_value(json_format.MessageToDict(struct))
    return result if isinstance(result, dict) else {}


def _qualified_type(urn: str) -> str:
    return urn.split("::")[2]


class RecordingMocks(pulumi_mocks.Mocks):
    """Answers invokes from a table only, and echoes inputs back as state (what a create preview shows)."""

    def __init__(self, invokes: Mapping[str, InvokeHandler], computed: Mapping[str, ComputedOutputs]):
        self.invokes = dict(invokes)
        self.computed = dict(computed)

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        handler = self.invokes.get(args.token)
        if handler is None:
            raise UnmockedInvokeError(args.token, args.args)
        # An empty failure list, not None: MockMonitor.Invoke iterates it.
        return dict(handler(args.args)), []

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        state = dict(args.inputs)
        extra = self.computed.get(args.typ)
        if extra is not None:
            state.update(extra(args))
        return f"{args.name}-id", state


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        # RPCs arrive on executor threads.
        self._lock = threading.Lock()
        self.recorded: dict[str, RecordedResource] = {}
        self.stack_outputs: dict[str, Any] = {}
        self.errors: list[UnmockedInvokeError] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine's rule: a child's type is qualified by its parent's full qualified type, except under
        # the root stack.
        if parent and _qualified_type(parent) != STACK_TYPE:
            type_ = f"{_qualified_type(parent)}${type_}"
        stack, project = pulumi.get_stack(), pulumi.get_project()
        return f"urn:pulumi:{stack}::{project}::{type_}::{name}"

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        resource = RecordedResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            inputs=_struct_to_plain(request.object),
            options=_review_options(request),
            custom=bool(request.custom),
        )
        with self._lock:
            self.recorded[resource.urn] = resource
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if _qualified_type(request.urn) == STACK_TYPE:
            outputs = _struct_to_plain(request.outputs)
            with self._lock:
                self.stack_outputs = outputs
        return super().RegisterResourceOutputs(request)

    def Invoke(self, request: Any) -> Any:
        try:
            return super().Invoke(request)
        except UnmockedInvokeError as exc:
            # The program may drop the failed invoke's Output unawaited, or catch the error and carry on;
            # either way the answer it needed was never checked, so the run must still fail.
            with self._lock:
                self.errors.append(exc)
            raise


def _review_options(request: Any) -> dict[str, Any]:
    """The options a reviewer cares about, in the `--json` spelling, present only when set."""
    options: dict[str, Any] = {}
    if request.protect:
        options["protect"] = True
    if request.retainOnDelete:
        options["retainOnDelete"] = True
    if request.deleteBeforeReplace:
        options["deleteBeforeReplace"] = True
    # Earlier names of a renamed resource: the engine moves their state to this one instead of replacing it.
    alias_names = sorted(
        alias.spec.name for alias in request.aliases if alias.WhichOneof("alias") == "spec" and alias.spec.name
    )
    if alias_names:
        options["aliases"] = alias_names
    # `dependencies` holds explicit depends_on and every input's dependencies; what no input explains was
    # explicit (components in depends_on arrive expanded to their custom children, as the engine sees them).
    implicit = {urn for deps in request.propertyDependencies.values() for urn in deps.urns}
    explicit = sorted(set(request.dependencies) - implicit)
    if explicit:
        options["dependsOn"] = explicit
    if request.provider:
        # A provider reference is "<urn>::<id>".
        options["provider"] = request.provider.rsplit("::", 1)[0]
    # How long the engine waits for each operation (e.g. "40m"): a reviewer checks it fits the workload's start-up.
    timeouts = {field.name: value for field, value in request.customTimeouts.ListFields() if value}
    if timeouts:
        options["customTimeouts"] = timeouts
    return options


def _tree_order(recorded: Mapping[str, RecordedResource]) -> list[RecordedResource]:
    # RPCs finish in a racy order; depth-first with siblings sorted by (type, name) is stable across runs.
    children: dict[str | None, list[RecordedResource]] = {}
    for resource in recorded.values():
        parent = resource.parent if resource.parent in recorded else None
        children.setdefault(parent, []).append(resource)
    ordered: list[RecordedResource] = []

    def visit(parent: str | None) -> None:
        for child in sorted(children.get(parent, []), key=lambda r: (r.type != STACK_TYPE, r.type, r.name)):
            ordered.append(child)
            visit(child.urn)

    visit(None)
    return ordered


def _quiet_unretrieved(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # When a resource fails, the SDK fails every future of its outputs with the same exception; the run
    # reports it once, so asyncio's "exception was never retrieved" for the copies is noise on stderr.
    if "never retrieved" in str(context.get("message", "")):
        return
    loop.default_exception_handler(context)


def _cancel_pending_tasks() -> None:
    # Tasks a failed run left behind would otherwise wake up during the next run and talk to its monitor.
    loop = _ensure_event_loop()
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending and not loop.is_running():
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def full_config_key(project: str, key: str) -> str:
    """`clusters` belongs to the project (`<project>:clusters`); `gcp:project` keeps its namespace."""
    return key if ":" in key else f"{project}:{key}"


def config_string(value: Any) -> str:
    """The engine hands every config value to the program as a string; structured ones as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


_CONFIG_ENV = ("PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS")


class MockSession:
    """One program run under the recording mocks; `close()` resets the runtime for the next session.

    Install with `MockSession(project, stack, config=...)`, construct resources (or run a program), then
    `settle()` waits for every outstanding RPC and returns what was recorded.
    """

    def __init__(
        self,
        project: str,
        stack: str,
        *,
        config: Mapping[str, Any] | None = None,
        secret_keys: Iterable[str] = (),
        invokes: Mapping[str, InvokeHandler] | None = None,
        computed: Mapping[str, ComputedOutputs] | None = None,
    ) -> None:
        self.project = project
        self.stack = stack
        self.mocks = RecordingMocks(
            {**default_invokes(), **(invokes or {})}, {**default_computed(), **(computed or {})}
        )
        self.monitor = RecordingMonitor(self.mocks)
        self._config: dict[str, str] = {}
        self._secret_keys: set[str] = set()
        self._saved_environment = {key: os.environ.get(key) for key in _CONFIG_ENV}
        # A previous run's leftovers (root stack, outputs, RPC queue, tasks) must not leak into this one.
        _cancel_pending_tasks()
        _ensure_event_loop().set_exception_handler(_quiet_unretrieved)
        pulumi.runtime.reset_options(project=project, stack=stack, preview=True)
        self.config(config or {}, secret_keys)
        pulumi.runtime.set_mocks(self.mocks, project=project, stack=stack, preview=True, monitor=self.monitor)

    @property
    def invokes(self) -> dict[str, InvokeHandler]:
        """Token -> handler; add entries before the code under test calls the invoke."""
        return self.mocks.invokes

    @property
    def computed(self) -> dict[str, ComputedOutputs]:
        """Type token -> extra outputs; add entries before the resource is constructed."""
        return self.mocks.computed

    def config(self, values: Mapping[str, Any], secret_keys: Iterable[str] = ()) -> None:
        """Set config for code that reads `pulumi.Config` from now on; bare keys belong to the project."""
        for key, value in values.items():
            self._config[full_config_key(self.project, key)] = config_string(value)
        self._secret_keys |= {full_config_key(self.project, key) for key in secret_keys}
        # pulumi.Config reads the ContextVar first, and falls back to PULUMI_CONFIG only for keys missing
        # there; both are replaced (not merged) so nothing of an earlier run or the caller's shell shows through.
        pulumi.runtime.set_all_config(dict(self._config), sorted(self._secret_keys))
        os.environ["PULUMI_CONFIG"] = json.dumps(self._config)
        os.environ["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(sorted(self._secret_keys))

    def settle(self) -> PreviewResult:
        """Wait for every outstanding RPC and Output, then return what the monitor recorded."""
        _sync_await(wait_for_rpcs())
        root = pulumi_settings.get_root_resource()
        if isinstance(root, Stack):
            # set_mocks registers the stack's outputs as soon as it creates the stack, before the program
            # exported anything; register them again now, as the engine's run_in_stack would at the end.
            root.register_outputs(massage(root.outputs, []))
            _sync_await(wait_for_rpcs())
        if self.monitor.errors:
            raise self.monitor.errors[0]
        return PreviewResult(
            project=self.project,
            stack=self.stack,
            resources=_tree_order(self.monitor.recorded),
            outputs=dict(self.monitor.stack_outputs),
        )

    def drain(self) -> None:
        """After a failed program: let its queued RPCs finish so they are not left half-done; errors ignored."""
        with contextlib.suppress(Exception):
            _sync_await(wait_for_rpcs())

    def resolve(self, output: Any) -> Any:
        """The plain value of an Output (or any input) under these mocks; AssertionError if unknown."""

        async def value() -> tuple[bool, Any]:
            converted = pulumi.Output.from_input(output)
            return await converted.is_known(), await converted.future()

        known, result = _sync_await(value())
        if not known:
            raise AssertionError(f"{output!r} is unknown during preview")
        return result

    def close(self) -> None:
        _cancel_pending_tasks()
        pulumi.runtime.set_all_config({}, [])
        for key, old in self._saved_environment.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
        pulumi.runtime.reset_options()
