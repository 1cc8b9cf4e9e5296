"""Run the pack's policies over an offline preview, through the code path the Pulumi CLI uses.

For each recorded resource this builds what the pack's analyzer server builds from an `AnalyzeRequest`: the
inputs go through a protobuf Struct and `json_format.MessageToDict` (so every number becomes a float, as it does
under the CLI), secrets are wrapped in the engine's secret signature and unwrapped by `deserialize_properties`,
unknowns become the engine's unknown sentinel, and `unknown_checking_proxy` wraps the result. Each policy's
`validate` then gets real `ResourceValidationArgs` and `PolicyResourceOptions` objects; each stack policy gets the
`StackValidationArgs` the analyzer's AnalyzeStack builds: every resource as a `PolicyResource`, parents linked.

One difference: the CLI reports a rule that reads an unknown value as an advisory "can't run policy during
preview"; here the `UnknownValueError` propagates, because the rules are written never to raise it.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY, deserialize_properties
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from gke_tpu_serving.offline import SECRET, UNKNOWN, PreviewResult, RecordedResource

from .rules import ALL_POLICIES


@dataclass(frozen=True)
class Violation:
    policy: str
    resource_urn: str
    message: str


def _as_engine_sends(value: Any) -> Any:
    """The offline preview's stand-ins for secrets and unknowns, as the engine marshals them to an analyzer."""
    if value == UNKNOWN:
        return UNKNOWN_STRING_VALUE
    if value == SECRET:
        # The preview knows only that the value is secret; the analyzer sees the plaintext, unwrapped.
        return {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": SECRET}
    if isinstance(value, Mapping):
        return {key: _as_engine_sends(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_engine_sends(item) for item in value]
    return value


def _props(inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    struct = struct_pb2.Struct()
    struct.update(_as_engine_sends(inputs))
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def validation_args(resource: RecordedResource, result: PreviewResult | None = None) -> ResourceValidationArgs:
    """The `ResourceValidationArgs` the pack's analyzer would build for this resource."""
    options = PolicyResourceOptions(
        protect=bool(resource.options.get("protect", False)),
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent,
    )
    provider = None
    provider_urn = resource.options.get("provider")
    if result is not None and provider_urn:
        found = result.by_urn(provider_urn)
        provider = PolicyProviderResource(found.type, _props(found.inputs), found.urn, found.name)
    return ResourceValidationArgs(
        resource.type, _props(resource.inputs), resource.urn, resource.name, options, provider
    )


def check(args: ResourceValidationArgs, policies: Iterable[Policy] = ALL_POLICIES) -> list[Violation]:
    """Every violation the policies report for one resource."""
    found: list[Violation] = []
    for policy in policies:
        if not isinstance(policy, ResourceValidationPolicy):
            continue

        def report(message: str, urn: str | None = None, policy_name: str = policy.name) -> None:
            found.append(Violation(policy_name, urn or args.urn, message))

        outcome = policy.validate(args, report)
        if isawaitable(outcome):
            raise TypeError(f"policy {policy.name} is asynchronous; the pack's policies are plain functions")
    return found


def stack_validation_args(result: PreviewResult) -> StackValidationArgs:
    """The `StackValidationArgs` the pack's analyzer would build for the whole stack."""
    resources: dict[str, PolicyResource] = {}
    for recorded in result.resources:
        args = validation_args(recorded, result)
        resources[recorded.urn] = PolicyResource(
            args.resource_type, args.props, args.urn, args.name, args.opts, args.provider, None, [], {}
        )
    for recorded in result.resources:
        if recorded.parent in resources:
            resources[recorded.urn].parent = resources[recorded.parent]
    return StackValidationArgs(list(resources.values()))


def check_stack(result: PreviewResult, policies: Iterable[Policy] = ALL_POLICIES) -> list[Violation]:
    """Every violation the stack policies report for the whole preview."""
    found: list[Violation] = []
    args = stack_validation_args(result)
    for policy in policies:
        if not isinstance(policy, StackValidationPolicy):
            continue

        def report(message: str, urn: str | None = None, policy_name: str = policy.name) -> None:
            found.append(Violation(policy_name, urn or "", message))

        if isawaitable(policy.validate(args, report)):
            raise TypeError(f"policy {policy.name} is asynchronous; the pack's policies are plain functions")
    return found


def violations(result: PreviewResult, policies: Iterable[Policy] = ALL_POLICIES) -> list[Violation]:
    """Every violation of every policy: resource policies over every resource of an offline preview, in preview
    order, then stack policies."""
    policies = list(policies)
    return [
        violation for resource in result.resources for violation in check(validation_args(resource, result), policies)
    ] + check_stack(result, policies)
