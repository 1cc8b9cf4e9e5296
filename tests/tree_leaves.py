"""A rendered object flattened to its leaves, so that two renderings compare path by path."""

from typing import Any


def leaves(value: Any, path: str = "") -> dict[str, Any]:
    """`{"a": [{"b": 1}]}` -> `{".a[0].b": 1}`."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in leaves(item, f"{path}.{key}").items()}
    if isinstance(value, list):
        return {k: v for index, item in enumerate(value) for k, v in leaves(item, f"{path}[{index}]").items()}
    return {path: value}
