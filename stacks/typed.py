"""Structural checking of stack config against the components' own TypedDict args.

The stack config is written in camelCase YAML; the components take snake_case TypedDicts. Rather than keep a
second schema in step with the components, config values are checked and converted against the args types
themselves: unknown keys, missing required keys, wrong types and values outside an Enum are all reported with
the config key, the value and what is allowed.
"""

import types
import typing
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

from gke_tpu_serving.errors import ArgError, PathPart, camel_case


def snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


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


def convert(value: Any, annotation: Any, path: Sequence[PathPart] = (), skip: frozenset[str] = frozenset()) -> Any:
    """Check `value` (parsed YAML/JSON) against `annotation` and return it in the args' shape: snake_case keys of
    TypedDicts, Enum members for enums. Raises ArgError with a snake_case path (format it camelCase for config)."""
    annotation = _plain(annotation)
    if typing.is_typeddict(annotation):
        return _convert_typed_dict(value, annotation, path, skip)
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
        return {key: convert(item, item_type, (*path, key)) for key, item in value.items()}
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


def _convert_typed_dict(value: Any, schema: Any, path: Sequence[PathPart], skip: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ArgError(path, f"{value!r} is not allowed; allowed: a mapping")
    # Raw annotations, not get_type_hints(): pulumi.Input[T] holds forward references that only resolve inside
    # pulumi, and _plain() needs no more than the first member of its Union.
    hints = schema.__annotations__
    fields = {name: hint for name, hint in hints.items() if name not in skip}
    allowed = ", ".join(camel_case(name) for name in fields)
    result: dict[str, Any] = {}
    for key, item in value.items():
        name = snake(str(key))
        if name not in fields:
            raise ArgError((*path, name), f"unknown key; allowed: {allowed}")
        result[name] = convert(item, fields[name], (*path, name))
    missing = [name for name in fields if name in schema.__required_keys__ and name not in result]
    if missing:
        required = ", ".join(camel_case(name) for name in fields if name in schema.__required_keys__)
        raise ArgError((*path, missing[0]), f"missing; required keys: {required}")
    return result
