"""GKE facts the accelerator catalogs share: zone and region names, GKE versions and their ordering, the cluster
mode, and the first GKE version of the Ray add-on. Pure and stdlib-only."""

import re
from enum import Enum

from gke_tpu_serving.errors import ArgError
from gke_tpu_serving.names import REGION_PATTERN

MIN_GKE_VERSION_RAY_ADDON = "1.30.0-gke.1747000"
"""The first GKE version whose Ray operator add-on installs the KubeRay TPU webhook."""


# A zone is a region (names.py: "<geography>-<direction><number>") and "-<letter>".
_ZONE_PATTERN = re.compile(rf"(?P<region>{REGION_PATTERN})-[a-z]")
_GKE_VERSION_PATTERN = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*)(?:-gke\.(0|[1-9][0-9]*))?)?")
# Versions are compared on major, minor, patch and gke build; shorter versions are padded with zeros.
_GKE_VERSION_COMPONENTS = 4


def is_zone(location: str) -> bool:
    """Whether a GCP location names a zone (``us-central1-a``) rather than a region (``us-central1``)."""
    return isinstance(location, str) and _ZONE_PATTERN.fullmatch(location) is not None


def region_of_zone(zone: str) -> str:
    """The region a zone belongs to: ``"us-central1-a"`` -> ``"us-central1"``."""
    match = _ZONE_PATTERN.fullmatch(zone) if isinstance(zone, str) else None
    if match is None:
        raise ArgError(("zone",), f"{zone!r} is not a zone name; expected REGION-LETTER, e.g. us-central1-a")
    return match.group("region")


def parse_gke_version(version: str) -> tuple[int, ...]:
    """The numeric components of a GKE version, for ordering.

    ``"1.31.2-gke.1115000"`` -> ``(1, 31, 2, 1115000)``; ``"1.31.2"`` -> ``(1, 31, 2)``;
    ``"1.30"`` -> ``(1, 30)``. Release-channel aliases such as ``"latest"`` are not versions and are rejected.
    """
    match = _GKE_VERSION_PATTERN.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        raise ArgError(
            ("version",),
            f"GKE version {version!r} is not of the form MAJOR.MINOR, MAJOR.MINOR.PATCH or "
            "MAJOR.MINOR.PATCH-gke.BUILD (e.g. 1.31.2-gke.1115000)",
        )
    return tuple(int(component) for component in match.groups() if component is not None)


def _padded_gke_version(version: str) -> tuple[int, ...]:
    components = parse_gke_version(version)
    return components + (0,) * (_GKE_VERSION_COMPONENTS - len(components))


def check_min_gke_version(version: str, minimum: str, needed_for: str) -> None:
    """Raise `ArgError` if `version` is below `minimum`, the minimum GKE version for `needed_for`.

    Missing components count as 0, so a version given as ``"1.31"`` is *below* ``"1.31.2-gke.1115000"``:
    a minor-only version does not say which patch GKE will run, so it cannot show the minimum is met.
    `needed_for` completes the sentence "the minimum for ...", e.g. ``"TPU v6e"`` or ``"the Ray add-on"``.
    """
    if _padded_gke_version(version) < _padded_gke_version(minimum):
        raise ArgError(("version",), f"GKE version {version!r} is below {minimum}, the minimum for {needed_for}")


class ClusterMode(Enum):
    """How GKE runs a cluster's nodes."""

    STANDARD = "standard"
    """Node pools that the cluster declares: one per TPU slice, one per GPU shape, and a CPU system pool."""
    AUTOPILOT = "autopilot"
    """No node pools: GKE provisions a node for each pending pod from its node selectors and resource requests."""


MAX_NODES_PER_POOL_ZONE = 1000
"""GKE's limit of nodes per node pool zone (Standard clusters): "Quotas and limits", cloud.google.com/kubernetes-engine/
quotas, read 2026-12-02. Every pool here runs in one zone, so it bounds a pool's maxNodes."""
