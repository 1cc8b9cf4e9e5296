"""One error type for bad arguments, so stack config and components report the same message with
their own key prefix: the config names `gke-tpu-serving:clusters[0].tpuPools[1].topology`, a component
names `GkeTpuCluster 'serve': tpu_pools[1].topology`."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import Enum
from typing import TypeVar

PathPart = str | int
E = TypeVar("E", bound=Enum)


def camel_case(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(word.capitalize() for word in rest)


def format_path(path: Sequence[PathPart], *, camel: bool = False) -> str:
    """`("tpu_pools", 1, "min_nodes")` -> `tpu_pools[1].min_nodes` (or `tpuPools[1].minNodes`)."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + (camel_case(part) if camel else part)
    return text


def require_int(path: Sequence[PathPart], value: object, *, minimum: int) -> int:
    """`value` as an int of at least `minimum`, or ArgError (a bool is not a count, though Python says it is an int)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ArgError(path, f"{value!r} is not allowed; allowed: an integer >= {minimum}")
    return value


def require_enum(path: Sequence[PathPart], value: object, enum_type: type[E]) -> E:
    """`value` as a member of `enum_type`, or ArgError listing the allowed values."""
    if not isinstance(value, enum_type):
        allowed = ", ".join(str(member.value) for member in enum_type)
        raise ArgError(path, f"{value!r} is not allowed; allowed: {allowed}")
    return value


@contextmanager
def component_errors(component: str, name: str) -> Iterator[None]:
    """Around a component constructor's checks: an ArgError becomes `<component> '<name>': <path>: <reason>`, any
    other ValueError (a check of the resource's own name) `<component> '<name>': name: <reason>`."""
    try:
        yield
    except ArgError as error:
        raise ValueError(f"{component} '{name}': {error}") from None
    except ValueError as error:
        raise ValueError(f"{component} '{name}': name: {error}") from None


class ArgError(ValueError):
    """A bad argument: `path` locates it inside the args, `reason` names the bad value and what is allowed."""

    def __init__(self, path: Sequence[PathPart], reason: str) -> None:
        self.path = tuple(path)
        self.reason = reason
        super().__init__(f"{format_path(self.path)}: {reason}")

    def within(self, prefix: Sequence[PathPart]) -> "ArgError":
        """The same error located under `prefix` (for args nested in a larger document)."""
        return ArgError((*prefix, *self.path), self.reason)
