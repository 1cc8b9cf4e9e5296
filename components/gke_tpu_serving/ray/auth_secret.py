"""The Secret of a Ray cluster's token, where the caller gives the token (`auth_token`) instead of letting KubeRay's
authOptions generate it: for operators that predate authOptions or whose version is unknown (the GKE Ray add-on)."""

import pulumi
import pulumi_kubernetes as k8s

from gke_tpu_serving.ray.cluster_args import AUTH_TOKEN_SECRET_KEY, auth_token_secret_name
from gke_tpu_serving.ray.spec import RayAuth, RayAuthMode


def ray_auth(
    name: str,
    namespace: str,
    mode: RayAuthMode,
    token: pulumi.Input[str] | None,
    *,
    operator_reads_secret: bool,
    opts: pulumi.ResourceOptions,
) -> tuple[RayAuth, list[pulumi.Resource]]:
    """The Ray cluster `name`'s authentication, and the resources its pods need first: with `token` (and mode token),
    the Secret `<name>-ray-auth` holding it (kept a Pulumi secret), which every Ray container reads by reference."""
    if token is None or mode is RayAuthMode.DISABLED:
        return RayAuth(mode), []
    secret_name = auth_token_secret_name(name)
    secret = k8s.core.v1.Secret(
        secret_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=secret_name, namespace=namespace),
        type="Opaque",
        string_data={AUTH_TOKEN_SECRET_KEY: pulumi.Output.secret(token)},
        opts=opts,
    )
    return RayAuth(mode, secret_name, operator_reads_secret), [secret]
