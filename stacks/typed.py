"""Structural checking of stack config against the components' own TypedDict args.

The stack config is written in camelCase YAML; the components take snake_case TypedDicts. Rather than keep a
second schema in step with the components, config values are checked and converted against the args types
themselves: unknown keys, missing required keys, wrong types and values outside an Enum are all reported with
the config key, the value and what is allowed.

Each key has one spelling, the camelCase the README documents: `max_nodes` or `MaxNodes` is refused with a
did-you-mean naming `maxNodes`, so that `maxNodes: 4` and `max_nodes: 2` in one mapping cannot silently become 2.
"""

import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from typing import Any

from gke_tpu_serving.errors import ArgError, PathPart, WrittenKey, camel_case

_SPELLING_NOISE = re.compile(r"[-_\s]")


def _plain(annotation: Any) -> Any:
    """`pulumi.Input[T]`, `T | None` and `NotRequired[T]` accept a plain T in config."""
    if typing.get_origin(annotation) in (typing.NotRequired, typing.Required):
        return _plain(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        # pulumi.Input[T] is Union[T, Awaitable[T], Output[T]]: T comes first.
        return _plain(members[0])
    return annotation


def _describe(annotation: Any) -> str:
    if annotation is bool:
        return "true or false"
    if annotation is int:
        return "an integer"
    if annotation is float:
        return "a number"
    if annotation is str:
        return "a string"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return ", ".join(str(member.value) for member in annotation)
    origin = typing.get_origin(annotation)
    if origin is list:
        return "a list"
    if origin is dict or typing.is_typeddict(annotation):
        return "a mapping"
    return str(annotation)


def _spelling(key: str) -> str:
    return _SPELLING_NOISE.sub("", key).lower()


def unknown_key(path: Sequence[PathPart], key: object, allowed: Sequence[str], given: Iterable[object]) -> ArgError:
    """The error for `key`, which is none of the `allowed` keys of the mapping at `path` (`given`: every key of that
    mapping): another spelling of an allowed key (`max_nodes` for `maxNodes`) is named as such, and refused twice
    over when that key is also set; any other key gets the closest allowed one as a did-you-mean. The key is
    reported as written."""
    written = str(key)
    listed = ", ".join(allowed)
    same = next((name for name in allowed if _spelling(name) == _spelling(written)), None)
    if same is not None and same in given:
        reason = f"another spelling of {same}, which is also set; allowed: {same} alone (keys are camelCase)"
    elif same is not None:
        reason = f"unknown key (did you mean {same}? keys are camelCase); allowed: {listed}"
    else:
        close = difflib.get_close_matches(written, allowed, n=1)
        reason = f"unknown key{f' (did you mean {close[0]}?)' if close else ''}; allowed: {listed}"
    return ArgError((*path, WrittenKey(written)), reason)


def convert(
    value: Any,
    annotation: Any,
    path: Sequence[PathPart] = (),
    skip: frozenset[str] = frozenset(),
    extra: Sequence[str] = (),
) -> Any:
    """Check `value` (parsed YAML/JSON) against `annotation` and return it in the args' shape: snake_case keys of
    TypedDicts, Enum members for enums. Raises ArgError with a snake_case path (format it camelCase for config).

    At the top level, `skip` names fields of the TypedDict that config must not set, and `extra` config keys that
    the caller reads itself (a scenario's `tenant`, an instance's `name`): they are left out of the result but
    listed among the allowed keys."""
    annotation = _plain(annotation)
    if typing.is_typeddict(annotation):
        return _convert_typed_dict(value, annotation, path, skip, extra)
    origin = typing.get_origin(annotation)
    if origin is list:
        if not isinstance(value, list):
            raise ArgError(path, f"{value!r} is not allowed; allowed: a list")
        (item_type,) = typing.get_args(annotation)
        return [convert(item, item_type, (*path, index)) for index, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ArgError(path, f"{value!r} is not allowed; allowed: a mapping of strings")
        _, item_type = typing.get_args(annotation)
        # A free-form mapping's keys (labels, ...) are the user's own: reported as written.
        return {key: convert(item, item_type, (*path, WrittenKey(key))) for key, item in value.items()}
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        for member in annotation:
            if member.value == value:
                return member
        raise ArgError(path, f"{value!r} is not allowed; allowed: {_describe(annotation)}")
    # bool is an int in Python; YAML `true` must not pass as a count, nor 1 as a switch.
    ok = isinstance(value, annotation) and not (annotation is int and isinstance(value, bool))
    if annotation is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok:
        raise ArgError(path, f"{value!r} is not allowed; allowed: {_describe(annotation)}")
    return value


def _convert_typed_dict(
    value: Any, schema: Any, path: Sequence[PathPart], skip: frozenset[str], extra: Sequence[str]
) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ArgError(path, f"{value!r} is not allowed; allowed: a mapping")
    # Raw annotations, not get_type_hints(): pulumi.Input[T] holds forward references that only resolve inside
    # pulumi, and _plain() needs no more than the first member of its Union.
    hints = schema.__annotations__
    fields = {name: hint for name, hint in hints.items() if name not in skip}
    # The one spelling of each key: its camelCase.
    by_key = {camel_case(name): name for name in fields}
    allowed = (*extra, *by_key)
    result: dict[str, Any] = {}
    for key, item in value.items():
        if key in extra:
            continue
        name = by_key.get(key) if isinstance(key, str) else None
        if name is None:
            raise unknown_key(path, key, allowed, value.keys())
        result[name] = convert(item, fields[name], (*path, name))
    missing = [name for name in fields if name in schema.__required_keys__ and name not in result]
    if missing:
        required = ", ".join(camel_case(name) for name in fields if name in schema.__required_keys__)
        raise ArgError((*path, missing[0]), f"missing; required keys: {required}")
    return result


def passed_through(config_type: Any, args_type: Any, *, set_by_scenario: tuple[str, ...]) -> tuple[str, ...]:
    """The keys a scenario's config passes to its component as they are: every key the two TypedDicts share, except
    those the scenario sets itself. Derived from the types, so a new shared key needs no list to be kept in step."""
    return tuple(
        key for key in config_type.__annotations__ if key in args_type.__annotations__ and key not in set_by_scenario
    )
