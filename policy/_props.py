"""Reading resource properties as the policy engine hands them over.

Under the CLI the props are `pulumi_policy` proxies: mappings and sequences (not dicts and lists) whose unknown
values (outputs of resources not yet created, during preview) raise `UnknownValueError` when read. The accessors
here never raise: they return `UNKNOWN`, and every rule passes an unknown value, because `pulumi up` runs the
policies again on each resource with its inputs known.
"""

from collections.abc import Mapping, Sequence
from typing import Any, Final

from pulumi_policy import ResourceValidationArgs
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

_ENGINE_UNKNOWNS = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)


class Unknown:
    """The type of `UNKNOWN`: a value the preview cannot know yet."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in _ENGINE_UNKNOWNS)


def _known(value: Any) -> Any:
    return UNKNOWN if is_unknown(value) else value


def at(value: Any, *path: str | int) -> Any:
    """The value at `path` below `value`: None where any step is missing, UNKNOWN where any step is unknown."""
    current = _known(value)
    for key in path:
        if current is UNKNOWN:
            return UNKNOWN
        try:
            if isinstance(key, int):
                if not is_sequence(current) or not 0 <= key < len(current):
                    return None
                current = current[key]
            else:
                if not isinstance(current, Mapping) or key not in current:
                    return None
                current = current[key]
        except UnknownValueError:
            return UNKNOWN
        current = _known(current)
    return current


def is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def elements(value: Any) -> list[Any]:
    """The items of a list (UNKNOWN for unknown items); [] for a missing, unknown or non-list value."""
    if not is_sequence(value):
        return []
    return [at(value, index) for index in range(len(value))]


def keys(value: Any) -> set[str] | Unknown:
    """The keys of a mapping; an empty set for a missing or non-mapping value."""
    value = _known(value)
    if value is UNKNOWN:
        return UNKNOWN
    if not isinstance(value, Mapping):
        return set()
    return {str(key) for key in value}


def text(value: Any) -> str | None:
    """A known string value, else None."""
    return value if isinstance(value, str) and not is_unknown(value) else None


def number(value: Any) -> str:
    """A number as a message shows it: the engine sends every number as a float (8.0 reads as 8)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def subject(args: ResourceValidationArgs) -> str:
    """How a message names a resource: its kind, its Pulumi name and its type token."""
    kind = args.resource_type.rsplit(":", 1)[-1]
    return f"{kind} {args.name!r} ({args.resource_type})"
