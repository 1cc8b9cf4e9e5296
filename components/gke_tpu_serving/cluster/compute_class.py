"""The custom ComputeClass of an Autopilot TPU pool entry with a `fallback`: one priority per provisioning model, in
the order the entry lists them, each asking for the entry's TPU shape; the pods select the class by name. Pure: built
as Kubernetes JSON, validated against the ComputeClass CRD in tests.

Sources (read 2026-12-07):
- The schema: the ComputeClass CRD (cloud.google.com/v1), datreeio/CRDs-catalog@7b1e26ef
  cloud.google.com/computeclass_v1.json (pinned in tests/crds/sources.json): `priorities[].tpu` {type, count, topology},
  `spot`, `reservations` {affinity: Specific, specific: [{name}]}, `flexStart` {enabled}, and `whenUnsatisfiable`
  (ScaleUpAnyway or DoNotScaleUp, default DoNotScaleUp).
- Custom ComputeClasses in Autopilot and Standard from GKE 1.30.3-gke.1451000, tried in priority order (the next one
  when the preferred one cannot be obtained):
  cloud.google.com/kubernetes-engine/docs/concepts/about-custom-compute-classes.
- Pods select a class with the node selector `cloud.google.com/compute-class: NAME`, the label GKE gives its nodes:
  cloud.google.com/kubernetes-engine/docs/concepts/node-auto-provisioning ("node metadata configuration").
- `tpu.type` takes the node label value of the generation (e.g. tpu-v5p-slice), `count` the chips per node: as GKE's
  TPU ComputeClass examples write it (no GKE page with the TPU fields could be read in full this session).
"""

from typing import Any

from gke_tpu_serving.catalog import TpuSlice
from gke_tpu_serving.catalog.provisioning import Obtainability

COMPUTE_CLASS_LABEL = "cloud.google.com/compute-class"
API_VERSION = "cloud.google.com/v1"
KIND = "ComputeClass"


def _priority(shape: TpuSlice, model: Obtainability, reservation: str | None) -> dict[str, Any]:
    priority: dict[str, Any] = {
        "tpu": {"type": shape.accelerator_label, "count": shape.chips_per_vm, "topology": shape.topology}
    }
    if model is Obtainability.RESERVATION:
        priority["reservations"] = {"affinity": "Specific", "specific": [{"name": reservation}]}
    elif model is Obtainability.FLEX_START:
        priority["flexStart"] = {"enabled": True}
    else:
        priority["spot"] = model is Obtainability.SPOT
    return priority


def compute_class_manifest(
    name: str, shape: TpuSlice, fallback: tuple[Obtainability, ...], reservation: str | None
) -> dict[str, Any]:
    """The ComputeClass `name`: the slice in each provisioning model of `fallback`, tried in that order; when none can
    be obtained GKE does not scale up on other hardware (DoNotScaleUp), so a pod never lands on a shape it was not
    sized for."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name},
        "spec": {
            "priorities": [_priority(shape, model, reservation) for model in fallback],
            "whenUnsatisfiable": "DoNotScaleUp",
        },
    }
