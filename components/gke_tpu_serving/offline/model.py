"""What an offline preview records: resources as the engine would receive them, and the stack outputs."""

from dataclasses import dataclass, field
from typing import Any

STACK_TYPE = "pulumi:pulumi:Stack"

# Stand-ins for values a preview cannot show, used everywhere a value is rendered (JSON, tree, manifests).
SECRET = "[secret]"
UNKNOWN = "[unknown]"


@dataclass
class RecordedResource:
    """One RegisterResource request: inputs in the engine's camelCase, secrets redacted, numbers as ints."""

    urn: str
    type: str
    name: str
    parent: str | None
    inputs: dict[str, Any]
    options: dict[str, Any]
    custom: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "inputs": self.inputs,
            "options": self.options,
        }


@dataclass
class PreviewResult:
    project: str
    stack: str
    resources: list[RecordedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    stood_in_secrets: list[str] = field(default_factory=list)
    """Secret config keys the stack file does not set, rendered with a stand-in (its offline:standInSecrets)."""
    warnings: list[str] = field(default_factory=list)
    """What the program warned about (`pulumi.log.warn`), in order."""

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str) -> RecordedResource:
        matches = [r for r in self.of_type(type_token) if r.name == name]
        if len(matches) == 1:
            return matches[0]
        # The listing is the point: a failing test should show what the program did create.
        existing = "\n  ".join(f"{r.type}  {r.name}" for r in self.resources) or "(no resources)"
        raise AssertionError(
            f"expected exactly one {type_token} named {name!r}, found {len(matches)}; recorded:\n  {existing}"
        )

    def by_urn(self, urn: str) -> RecordedResource:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise KeyError(urn)

    def to_json(self) -> dict[str, Any]:
        """The `--json` document."""
        return {
            "project": self.project,
            "stack": self.stack,
            "resources": [r.to_json() for r in self.resources],
            "outputs": self.outputs,
        }
