"""The provider functions every offline run answers (getProject, getClientConfig), from the run's config."""

from collections.abc import Callable, Mapping
from typing import Any

import pulumi

InvokeHandler = Callable[[Mapping[str, Any]], Mapping[str, Any]]
"""Answers one invoke token: gets the invoke's arguments (camelCase), returns its result (camelCase)."""


def _get_project(args: Mapping[str, Any]) -> Mapping[str, Any]:
    # Invokes run in a copy of the program's context, so the config set for this run is visible here.
    project_id = args.get("projectId") or pulumi.runtime.get_config("gcp:project")
    if not project_id:
        raise ValueError("gcp:organizations/getProject:getProject needs config key 'gcp:project'; it is unset")
    return {
        "id": f"projects/{project_id}",
        "projectId": project_id,
        "name": project_id,
        "number": "123456789012",
        "labels": {},
    }


OFFLINE_ACCESS_TOKEN = "offline-access-token"
"""What getClientConfig answers for the caller's OAuth access token offline: no credentials exist here."""


def _get_client_config(args: Mapping[str, Any]) -> Mapping[str, Any]:
    project_id = pulumi.runtime.get_config("gcp:project") or ""
    return {"id": "offline", "project": project_id, "accessToken": OFFLINE_ACCESS_TOKEN, "defaultLabels": {}}


def default_invokes() -> dict[str, InvokeHandler]:
    """The invokes every offline run answers; callers add their own on top."""
    return {
        "gcp:organizations/getProject:getProject": _get_project,
        "gcp:organizations/getClientConfig:getClientConfig": _get_client_config,
    }
