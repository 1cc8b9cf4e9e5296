"""Which KubeRay operator runs a Ray scenario instance: GKE's Ray add-on, or the pinned Helm chart."""

from enum import Enum

from gke_tpu_serving import RayAuthMode
from gke_tpu_serving.errors import PathPart, format_path

from ..model import Placement, config_error


class RayOperator(Enum):
    """Which KubeRay operator runs the RayService."""

    ADD_ON = "add-on"
    """GKE's Ray add-on (the cluster's rayOperator: true), which brings the KubeRay TPU webhook."""
    HELM = "helm"
    """The KubeRay Helm chart at the pinned version, on a cluster without the add-on (single-host TPU or GPU)."""


def operator_of(placement: Placement) -> RayOperator:
    """The instance's `operator` key (default: add-on)."""
    operator = placement.settings.get("operator", RayOperator.ADD_ON)
    assert isinstance(operator, RayOperator)
    return operator


def stack_generates_ray_token(placement: Placement) -> bool:
    """Whether the stack gives the instance's Ray cluster its token (a Secret every Ray container reads): on the Ray
    add-on, whose KubeRay version is not documented and may predate authOptions (KubeRay 1.5.1), with token auth on.
    The pinned Helm chart's KubeRay generates the token from authOptions instead."""
    token = placement.settings.get("ray_auth", RayAuthMode.TOKEN) is RayAuthMode.TOKEN
    return token and operator_of(placement) is RayOperator.ADD_ON


def check_operator(placement: Placement) -> None:
    """The instance's operator and its cluster's Ray add-on agree: one KubeRay operator, never none or two."""
    cluster = placement.cluster
    at: tuple[PathPart, ...] = ("clusters", cluster.index, "ray_operator")
    operator = operator_of(placement)
    where = format_path(placement.path, camel=True)
    if operator is RayOperator.ADD_ON and not cluster.plan.ray_operator:
        raise config_error(at, f"false, but {where} runs a RayService on cluster {cluster.name!r}; allowed: true")
    if operator is RayOperator.HELM and cluster.plan.ray_operator:
        raise config_error(
            at,
            f"true, but {where}.operator is helm, which would install a second KubeRay operator on cluster "
            f"{cluster.name!r}; allowed: false, or {where}.operator add-on",
        )
