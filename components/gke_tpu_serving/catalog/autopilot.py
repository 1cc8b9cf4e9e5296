"""Which TPU generations GKE Autopilot provisions, and from which GKE version. Pure and stdlib-only."""

from collections.abc import Mapping
from types import MappingProxyType

from gke_tpu_serving.catalog.gke import check_min_gke_version
from gke_tpu_serving.catalog.tpu import TpuGeneration, tpu_generation
from gke_tpu_serving.errors import ArgError, allowed_values

AUTOPILOT_TPU_MIN_GKE_VERSION: Mapping[TpuGeneration, str] = MappingProxyType(
    {
        # "TPUs in Autopilot" (and Multislice on Autopilot) start at 1.29.2-gke.1521000 for v4, v5e and v5p;
        # Trillium on Autopilot came later than on Standard node pools (1.31.2-gke.1115000).
        TpuGeneration.V4: "1.29.2-gke.1521000",
        TpuGeneration.V5E: "1.29.2-gke.1521000",
        TpuGeneration.V5P: "1.29.2-gke.1521000",
        TpuGeneration.V6E: "1.31.2-gke.1384000",
        # docs.cloud.google.com/kubernetes-engine/docs/concepts/tpu-ironwood (read 2026-12-07): "in Autopilot clusters
        # that run version 1.34.1-gke.3084001 and later".
        TpuGeneration.TPU7X: "1.34.1-gke.3084001",
    }
)
"""The first GKE version whose Autopilot mode provisions TPU nodes of each generation (a pod's TPU selectors and
google.com/tpu request make GKE create the slice). A generation missing here is not offered on Autopilot."""


def check_autopilot_tpu_version(generation: str | TpuGeneration, version: str | None) -> None:
    """Raise `ArgError` unless Autopilot offers the TPU generation, at `version` when one is given.

    `None` stands for the release channel's default version, which is newer than every minimum above."""
    spec = tpu_generation(generation)
    minimum = AUTOPILOT_TPU_MIN_GKE_VERSION.get(spec.generation)
    if minimum is None:
        offered = allowed_values(g for g in TpuGeneration if g in AUTOPILOT_TPU_MIN_GKE_VERSION)
        raise ArgError(
            ("generation",), f"Autopilot does not offer {spec.display_name}; allowed on Autopilot: {offered}"
        )
    if version is not None:
        check_min_gke_version(version, minimum, f"{spec.display_name} on Autopilot")
