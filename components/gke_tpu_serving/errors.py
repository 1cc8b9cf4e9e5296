"""One error type for bad arguments, so stack config and components report the same message with
their own key prefix: the config names `gke-tpu-serving:clusters[0].tpuPools[1].topology`, a component
names `GkeTpuCluster 'serve': tpu_pools[1].topology`.

Pure code (the catalog, name checks, spec builders) raises `ArgError` located at the field it judges; a caller
that nests those fields relocates it with `within` (or `renamed`, when its field has another name). Components
turn it into `ComponentArgsError` in one place, `component_errors`: Pulumi's `InputPropertiesError`, which a
caller in another language sees with its property path, and a `ValueError`, which Python callers catch."""

import ipaddress
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import Enum
from typing import TypeVar

from pulumi.errors import InputPropertiesError, InputPropertyErrorDetails

PathPart = str | int
E = TypeVar("E", bound=Enum)


def camel_case(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(word.capitalize() for word in rest)


class WrittenKey(str):
    """A path part spelt as the user wrote it (an unknown key, a key of a free-form mapping): `format_path` keeps
    it, so a message never blames a key the user did not write (`llama_config` is not reported as `llamaConfig`)."""


def format_path(path: Sequence[PathPart], *, camel: bool = False) -> str:
    """`("tpu_pools", 1, "min_nodes")` -> `tpu_pools[1].min_nodes` (or `tpuPools[1].minNodes`); a `WrittenKey`
    keeps its spelling."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = camel_case(part) if camel and not isinstance(part, WrittenKey) else part
            text += ("." if text else "") + name
    return text


class ArgError(ValueError):
    """A bad argument: `path` locates it inside the args, `reason` names the bad value and what is allowed.

    An empty path means the check does not know which field it judges (a name check called on a bare value): the
    message is then the reason alone, and the caller locates it."""

    def __init__(self, path: Sequence[PathPart], reason: str) -> None:
        self.path = tuple(path)
        self.reason = reason
        super().__init__(f"{format_path(self.path)}: {reason}" if self.path else reason)

    def within(self, prefix: Sequence[PathPart]) -> "ArgError":
        """The same error located under `prefix` (for args nested in a larger document)."""
        return ArgError((*prefix, *self.path), self.reason)

    def renamed(self, names: Mapping[str, str]) -> "ArgError":
        """The same error with its first path part renamed through `names` (a catalog's `topology` is a
        component's `tpu_topology`); other paths are kept."""
        if not self.path or not isinstance(self.path[0], str) or self.path[0] not in names:
            return self
        return ArgError((names[self.path[0]], *self.path[1:]), self.reason)


class ComponentArgsError(InputPropertiesError, ValueError):
    """A component's bad argument as both callers see it: `InputPropertiesError` (message, and `errors` with the
    schema's camelCase `property_path` and the reason) for the Pulumi engine and other languages, `ValueError`
    for Python callers. The message is `<Component> '<name>': <path>: <reason>`."""

    def __init__(self, message: str, errors: list[InputPropertyErrorDetails] | None = None) -> None:
        super().__init__(message, errors)

    def __str__(self) -> str:
        return self.message


def allowed_values(values: Iterable[object]) -> str:
    """The "allowed: ..." list of a message: enum members by value, anything else as text."""
    return ", ".join(str(value.value) if isinstance(value, Enum) else str(value) for value in values)


def require_int(path: Sequence[PathPart], value: object, *, minimum: int) -> int:
    """`value` as an int of at least `minimum`, or ArgError (a bool is not a count, though Python says it is an int)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ArgError(path, f"{value!r} is not allowed; allowed: an integer >= {minimum}")
    return value


def require_cidr(path: Sequence[PathPart], value: object, *, ipv4_only: bool = False) -> str:
    """`value` as a network in CIDR notation with its host bits zero (IPv4 only with `ipv4_only`), or ArgError."""
    version = "an IPv4" if ipv4_only else "a"
    if isinstance(value, str):
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError:
            pass
        else:
            if network.version == 4 or not ipv4_only:
                return str(network)
    raise ArgError(path, f"{value!r} is not allowed; allowed: {version} network in CIDR notation, e.g. 10.0.0.0/8")


def require_enum(path: Sequence[PathPart], value: object, enum_type: type[E]) -> E:
    """`value` as a member of `enum_type`, or ArgError listing the allowed values."""
    if not isinstance(value, enum_type):
        raise ArgError(path, f"{value!r} is not allowed; allowed: {allowed_values(enum_type)}")
    return value


@contextmanager
def component_errors(component: str, name: str) -> Iterator[None]:
    """Around a component constructor's checks: an ArgError becomes `ComponentArgsError` with the message
    `<component> '<name>': <path>: <reason>` and the property's camelCase path. An ArgError without a path, or any
    other ValueError, comes from a check of the resource's own name, which is no input property:
    `<component> '<name>': name: <reason>`, with no property errors."""
    try:
        yield
    except ArgError as error:
        if not error.path:
            raise ComponentArgsError(f"{component} '{name}': name: {error.reason}") from None
        raise ComponentArgsError(
            f"{component} '{name}': {error}",
            [{"property_path": format_path(error.path, camel=True), "reason": error.reason}],
        ) from None
    except ValueError as error:
        raise ComponentArgsError(f"{component} '{name}': name: {error}") from None
