"""The restricted security contexts of every workload pod, as Kubernetes JSON.

Pure (imports nothing from Pulumi): custom resources (RayService, JobSet) take these as they are, and _kubernetes.py
builds the core objects' *Args from them, so both kinds of pod carry the same restrictions.
"""

from typing import Any


def restricted_pod_security_context(run_as: int | None = None) -> dict[str, Any]:
    """runAsNonRoot makes the kubelet refuse an image that would run as root. RuntimeDefault is the seccomp profile
    GKE Autopilot gives every pod, TPU pods included. `run_as`: the uid and gid for an image that names no user
    (the kubelet cannot prove that a name-less image is not root, so runAsNonRoot alone would refuse it)."""
    context: dict[str, Any] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    if run_as is not None:
        context |= {"runAsUser": run_as, "runAsGroup": run_as}
    return context


def restricted_container_security_context() -> dict[str, Any]:
    """Not privileged and no capabilities: GKE exposes TPU chips through google.com/tpu (the device plugin) since
    1.28. The root filesystem stays writable: vLLM, JAX and libtpu write caches and logs under $HOME and /tmp."""
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
