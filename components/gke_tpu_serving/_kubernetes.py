"""Pod pieces the workload components share: restricted security contexts, and secrets passed by reference."""

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s


def restricted_pod_security_context() -> k8s.core.v1.PodSecurityContextArgs:
    """The workload images run as an unprivileged user (workloads/llama: uid 1000, its Dockerfile's USER);
    runAsNonRoot makes the kubelet refuse one that would run as root. RuntimeDefault is the seccomp profile GKE
    Autopilot gives every pod, TPU pods included."""
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True, seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault")
    )


def restricted_container_security_context() -> k8s.core.v1.SecurityContextArgs:
    """Not privileged and no capabilities: GKE exposes TPU chips through google.com/tpu (the device plugin) since
    1.28. The root filesystem stays writable: vLLM, JAX and libtpu write caches and logs under $HOME and /tmp."""
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False, capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"])
    )


def secret_env_vars(
    resource_name: str, namespace: str, values: Mapping[str, pulumi.Input[str]], opts: pulumi.ResourceOptions
) -> list[k8s.core.v1.EnvVarArgs]:
    """A Kubernetes Secret named `resource_name` holding `values` (kept Pulumi secrets), and the environment
    variables that reach them by reference, so no value is written into the pod spec."""
    if not values:
        return []
    secret = k8s.core.v1.Secret(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=resource_name, namespace=namespace),
        type="Opaque",
        string_data={key: pulumi.Output.secret(value) for key, value in values.items()},
        opts=opts,
    )
    return [
        k8s.core.v1.EnvVarArgs(
            name=key,
            value_from=k8s.core.v1.EnvVarSourceArgs(
                secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret.metadata.name, key=key)
            ),
        )
        for key in values
    ]
