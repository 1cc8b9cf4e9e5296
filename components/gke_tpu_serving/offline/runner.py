"""Run a Pulumi project's `__main__.py` with a stack's config under the recording mocks."""

import logging
import os
import runpy
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml

from .mocks import (
    ComputedOutputs,
    InvokeHandler,
    MockSession,
    UnmockedInvokeError,
    config_string,
    full_config_key,
)
from .model import SECRET, PreviewResult

# Keys of a Pulumi.yaml config entry that declare it rather than give it a literal object value.
_DECLARATION_KEYS = {"type", "description", "default", "value", "secret", "items"}

# A stack file lists here the secret keys (bare, in the project's namespace) that a real `pulumi preview` requires
# and that it cannot carry in the repository; the offline preview sets each unset one to STAND_IN_SECRET, marked
# secret, and reports that it did. Pulumi passes the key to the program, which reads nothing in this namespace.
STAND_IN_SECRETS_KEY = "offline:standInSecrets"
STAND_IN_SECRET = "offline-preview-stand-in-not-a-real-secret"

# Bad config or bad input, reported as a message (exit 2); anything else is a bug and keeps its traceback.
# RunError covers pulumi.Config's ConfigMissingError and ConfigTypeError.
INPUT_ERRORS = (ValueError, pulumi.RunError, pulumi.InputPropertyError, pulumi.InputPropertiesError)


class _EngineWarnings(logging.Handler):
    """The program's `pulumi.log.warn` messages: Pulumi's MockEngine logs them to the root logger when set_mocks gets
    no logger (pulumi/runtime/mocks.py), where a real engine would show them under "Diagnostics"."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "root" and record.levelno == logging.WARNING:
            self.messages.append(record.getMessage())


class ProjectError(ValueError):
    """The project directory or stack file is missing or malformed."""


@dataclass
class StackConfig:
    project: str
    values: dict[str, str] = field(default_factory=dict)
    secret_keys: set[str] = field(default_factory=set)
    stood_in: list[str] = field(default_factory=list)
    """Full keys of the secrets set to STAND_IN_SECRET (listed in the stack file's offline:standInSecrets)."""


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        # libyaml's parser where PyYAML was built with it: the same documents, a tenth of the time on a large stack.
        document = yaml.load(path.read_text(), Loader=_SAFE_LOADER) or {}
    except FileNotFoundError:
        raise ProjectError(f"{path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ProjectError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise ProjectError(f"{path} must hold a YAML mapping")
    return document


def _contains_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_contains_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secure(v) for v in value)
    return False


def _without_secure(value: Any) -> Any:
    # Ciphertext needs the stack's secrets provider, which is not reachable offline.
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET
        return {k: _without_secure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secure(v) for v in value]
    return value


def load_stack_config(project_dir: Path, stack: str) -> StackConfig:
    """The config the engine would hand the program: Pulumi.yaml defaults overlaid by Pulumi.<stack>.yaml."""
    project_file = _read_yaml(project_dir / "Pulumi.yaml")
    project = project_file.get("name")
    if not isinstance(project, str) or not project:
        raise ProjectError(f"{project_dir / 'Pulumi.yaml'} has no project name")
    config = StackConfig(project)

    def put(key: str, value: Any) -> None:
        full_key = full_config_key(project, key)
        if _contains_secure(value):
            config.secret_keys.add(full_key)
            value = _without_secure(value)
        config.values[full_key] = config_string(value)

    for key, entry in (project_file.get("config") or {}).items():
        if isinstance(entry, dict) and entry and set(entry) <= _DECLARATION_KEYS:
            for source in ("value", "default"):
                if source in entry:
                    put(key, entry[source])
                    break
        else:
            put(key, entry)

    stack_path = project_dir / f"Pulumi.{stack}.yaml"
    if not stack_path.is_file():
        raise ProjectError(
            f"stack {stack!r}: {stack_path} does not exist; allowed: {', '.join(stack_names(project_dir)) or 'none'} "
            "(the Pulumi.<stack>.yaml files there)"
        )
    stack_file = _read_yaml(stack_path)
    stand_ins: Any = []
    for key, value in (stack_file.get("config") or {}).items():
        if key == STAND_IN_SECRETS_KEY:
            stand_ins = value
            continue
        put(key, value)
    if not isinstance(stand_ins, list) or not all(isinstance(key, str) and key for key in stand_ins):
        raise ProjectError(f"{stack_path}: {STAND_IN_SECRETS_KEY} must be a list of config keys, not {stand_ins!r}")
    for key in stand_ins:
        full_key = full_config_key(project, key)
        if full_key not in config.values:
            config.values[full_key] = STAND_IN_SECRET
            config.secret_keys.add(full_key)
            config.stood_in.append(full_key)
    return config


def stack_names(project_dir: Path) -> list[str]:
    """The stacks that have a stack file (Pulumi.<stack>.yaml) in `project_dir`, sorted."""
    return sorted(
        path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in Path(project_dir).glob("Pulumi.?*.yaml")
    )


def _program_modules(project_dir: Path, names: set[str]) -> Iterator[str]:
    # Modules found through project_dir on sys.path (its stacks/ package, helper files), not installed ones
    # that merely live below it. Only names whose top level is an entry of project_dir can be; the rest (the
    # hundreds of provider SDK modules a first run imports) are not resolved on disk one by one.
    entries = {path.name for path in project_dir.iterdir()}
    for name in names:
        top = name.partition(".")[0]
        if top not in entries and f"{top}.py" not in entries:
            continue
        module_file = getattr(sys.modules.get(name), "__file__", None)
        if not module_file:
            continue
        try:
            relative = Path(module_file).resolve().relative_to(project_dir)
        except ValueError:
            continue
        if relative.parts[0] in (top, f"{top}.py"):
            yield name


def run_program(
    project_dir: Path,
    stack: str,
    *,
    invokes: Mapping[str, InvokeHandler] | None = None,
    computed: Mapping[str, ComputedOutputs] | None = None,
) -> PreviewResult:
    """Run `<project_dir>/__main__.py` for `stack` under mocks and return every resource it registered.

    Re-entrant: each call starts from a fresh runtime and forgets the program's own modules afterwards, so
    module-level config reads in them see this run's config.
    """
    project_dir = Path(project_dir).resolve()
    config = load_stack_config(project_dir, stack)
    main = project_dir / "__main__.py"
    if not main.is_file():
        raise ProjectError(f"{main} does not exist")

    modules_before = set(sys.modules)
    saved_cwd = os.getcwd()
    session = MockSession(
        config.project,
        stack,
        config=config.values,
        secret_keys=config.secret_keys,
        invokes=invokes,
        computed=computed,
    )
    # The engine runs a program from its project directory, with that directory importable.
    sys.path.insert(0, str(project_dir))
    warnings = _EngineWarnings()
    logging.getLogger().addHandler(warnings)
    try:
        os.chdir(project_dir)
        try:
            runpy.run_path(str(main), run_name="__main__")
        except BaseException as exc:
            # Draining re-raises the same exception object inside the SDK and rewrites its traceback.
            program_traceback = exc.__traceback__
            session.drain()
            exc.with_traceback(program_traceback)
            raise
        result = session.settle()
        result.stood_in_secrets = list(config.stood_in)
        result.warnings = warnings.messages
        return result
    finally:
        logging.getLogger().removeHandler(warnings)
        os.chdir(saved_cwd)
        if str(project_dir) in sys.path:
            sys.path.remove(str(project_dir))
        for name in list(_program_modules(project_dir, set(sys.modules) - modules_before)):
            del sys.modules[name]
        session.close()


def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        if current.__cause__ is not None:
            pending.append(current.__cause__)
        elif current.__context__ is not None and not current.__suppress_context__:
            pending.append(current.__context__)


def input_error_message(exc: BaseException) -> str | None:
    """The message to print for bad config or input, or None when `exc` is a bug (or an unmocked invoke)."""
    chain = list(_exception_chain(exc))
    if any(isinstance(e, UnmockedInvokeError) for e in chain):
        return None
    input_errors = [e for e in chain if isinstance(e, INPUT_ERRORS)]
    if not input_errors:
        return None
    # The deepest one is the program's own words. The SDK wraps a ValueError met while serializing inputs
    # once per level ("While processing ...\nValueError has risen: <message>"), and wait_for_rpcs re-raises
    # it as its own cause, which cuts the chain; so the program's words are also the text's last part.
    return str(input_errors[-1]).rsplit("ValueError has risen: ", 1)[-1]
