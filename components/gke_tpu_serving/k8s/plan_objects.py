"""Reading the plan's Kubernetes objects: plain values with `UNKNOWN` for what the preview cannot know, and the
objects a pod spec references by name. Pure; used by `gke_tpu_serving.k8s.integrity`."""

from collections.abc import Iterator, Mapping
from typing import Any

from gke_tpu_serving.k8s.platform_objects import UNKNOWN


def get_at(value: Any, *path: str | int) -> Any:
    for key in path:
        if value is UNKNOWN:
            return UNKNOWN
        if isinstance(key, int):
            value = value[key] if isinstance(value, list) and 0 <= key < len(value) else None
        else:
            value = value.get(key) if isinstance(value, Mapping) else None
    return value


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def pod_references(spec: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(kind, where in the pod spec, name) of every object a pod spec references by name; optional ones are left out."""
    account = spec.get("serviceAccountName") or spec.get("serviceAccount")
    if account is not None:
        yield "ServiceAccount", "serviceAccountName", account
    for index, secret in enumerate(as_list(spec.get("imagePullSecrets"))):
        yield "Secret", f"imagePullSecrets[{index}].name", get_at(secret, "name")
    for index, volume in enumerate(as_list(spec.get("volumes"))):
        at = f"volumes[{index}]"
        for kind, key, name_key in (
            ("Secret", "secret", "secretName"),
            ("ConfigMap", "configMap", "name"),
            ("PersistentVolumeClaim", "persistentVolumeClaim", "claimName"),
        ):
            source = get_at(volume, key)
            if isinstance(source, Mapping) and not source.get("optional"):
                yield kind, f"{at}.{key}.{name_key}", source.get(name_key)
        for source_index, source in enumerate(as_list(get_at(volume, "projected", "sources"))):
            for kind, key in (("Secret", "secret"), ("ConfigMap", "configMap")):
                item = get_at(source, key)
                if isinstance(item, Mapping) and not item.get("optional"):
                    yield kind, f"{at}.projected.sources[{source_index}].{key}.name", item.get("name")
    for field_name in ("initContainers", "containers"):
        for index, container in enumerate(as_list(spec.get(field_name))):
            at = f"{field_name}[{index}]"
            for env_index, env in enumerate(as_list(get_at(container, "env"))):
                for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    ref = get_at(env, "valueFrom", key)
                    if isinstance(ref, Mapping) and not ref.get("optional"):
                        yield kind, f"{at}.env[{env_index}].valueFrom.{key}.name", ref.get("name")
            for env_index, source in enumerate(as_list(get_at(container, "envFrom"))):
                for kind, key in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
                    ref = get_at(source, key)
                    if isinstance(ref, Mapping) and not ref.get("optional"):
                        yield kind, f"{at}.envFrom[{env_index}].{key}.name", ref.get("name")
