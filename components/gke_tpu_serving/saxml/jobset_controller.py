"""JobSetController: the JobSet API (jobset.x-k8s.io) and its controller, installed from a pinned release."""

import re
from typing import NotRequired, TypedDict

import pulumi

# The v2 module itself: reached through `pulumi_kubernetes.yaml`, the package's __init__ would also import the v1
# ConfigFile and with it `requests` (~70 ms of CPU per preview) for nothing.
from pulumi_kubernetes.yaml.v2 import ConfigFile

from gke_tpu_serving.catalog.versions import JOBSET_MANIFEST_URL, JOBSET_VERSION
from gke_tpu_serving.errors import ArgError, component_errors

MINIMUM_VERSION = "v0.2.3"
"""The first release with what SaxmlJobSet uses: v1alpha2, failurePolicy.maxRestarts and exclusive placement per
node pool."""

_VERSION = re.compile(r"^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")


class JobSetControllerArgs(TypedDict):
    """Arguments of JobSetController."""

    version: NotRequired[str]
    """JobSet release tag, vMAJOR.MINOR.PATCH, at least v0.2.3. Default: the release pinned in versions.py
    (v0.12.0)."""


def check_jobset_version(version: object) -> str:
    """The release manifest URL of `version`. ArgError unless it is a release tag of at least v0.2.3."""
    match = _VERSION.match(version) if isinstance(version, str) else None
    minimum = _VERSION.match(MINIMUM_VERSION)
    assert minimum is not None
    if match is None or tuple(map(int, match.groups())) < tuple(map(int, minimum.groups())):
        raise ArgError(
            ("version",), f"{version!r} is not allowed; allowed: a release tag vMAJOR.MINOR.PATCH of at least v0.2.3"
        )
    return JOBSET_MANIFEST_URL.format(version=version)


class JobSetController(pulumi.ComponentResource):
    """The JobSet CRD, controller and webhooks (namespace jobset-system) from the release's manifests.yaml, applied
    provider-side with server-side apply (the CRD is too large for client-side apply's annotation). Cluster-wide:
    install one per cluster, and none where the cluster already has JobSet. Resources that create JobSets depend on
    it, so they wait until the controller and its webhook are ready. Pass the cluster's Kubernetes provider in
    `opts`."""

    version: pulumi.Output[str]
    """The JobSet release installed."""

    def __init__(self, name: str, args: JobSetControllerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gke-tpu-serving:index:JobSetController", name, None, opts)
        version = args.get("version", JOBSET_VERSION)
        with component_errors("JobSetController", name):
            manifest = check_jobset_version(version)
        ConfigFile(f"{name}-manifest", file=manifest, opts=pulumi.ResourceOptions(parent=self))
        self.version = pulumi.Output.from_input(version)
        self.register_outputs({"version": self.version})
