"""A `fallback` on an Autopilot TPU pool entry: a ComputeClass that tries each provisioning model in order, validated
against its CRD, and pods that select it; every misuse refused with its reason."""

from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, args_factory, program_with_stacks
from manifest_validation import validate_manifest

from gke_tpu_serving import GkeTpuCluster, GkeTpuClusterArgs
from gke_tpu_serving.catalog import ClusterMode, TpuGeneration, tpu_slice
from gke_tpu_serving.catalog.provisioning import Obtainability
from gke_tpu_serving.cluster.compute_class import compute_class_manifest
from gke_tpu_serving.cluster.plan import plan_cluster
from gke_tpu_serving.errors import ArgError
from gke_tpu_serving.k8s.accelerator_pods import check_capacity, tpu_pod_placement
from gke_tpu_serving.offline import kubernetes_manifests, run_program

COMPUTE_CLASS = "kubernetes:cloud.google.com/v1:ComputeClass"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
V6E_8T = tpu_slice("v6e", "ct6e-standard-8t", "2x4")
V6E_TPU = {"type": "tpu-v6e-slice", "count": 8, "topology": "2x4"}

AUTOPILOT: GkeTpuClusterArgs = {
    "project": "demo-project",
    "location": "us-central1",
    "mode": "autopilot",  # type: ignore[typeddict-item]
    "tpu_pools": [
        {
            "name": "v6e-2x4",
            "generation": TpuGeneration.V6E,
            "machine_type": "ct6e-standard-8t",
            "topology": "2x4",
            "max_nodes": 2,
            "reservation": "v6e-res",
            "fallback": [
                Obtainability.RESERVATION,
                Obtainability.SPOT,
                Obtainability.ON_DEMAND,
                Obtainability.FLEX_START,
            ],
        }
    ],
}
autopilot_args = args_factory(AUTOPILOT)


def test_the_class_tries_the_shape_in_each_model_in_order_and_fits_its_crd() -> None:
    manifest = compute_class_manifest(
        "v6e-2x4",
        V6E_8T,
        (Obtainability.RESERVATION, Obtainability.SPOT, Obtainability.ON_DEMAND, Obtainability.FLEX_START),
        "v6e-res",
    )
    assert manifest == {
        "apiVersion": "cloud.google.com/v1",
        "kind": "ComputeClass",
        "metadata": {"name": "v6e-2x4"},
        "spec": {
            "priorities": [
                {"tpu": V6E_TPU, "reservations": {"affinity": "Specific", "specific": [{"name": "v6e-res"}]}},
                {"tpu": V6E_TPU, "spot": True},
                {"tpu": V6E_TPU, "spot": False},
                {"tpu": V6E_TPU, "flexStart": {"enabled": True}},
            ],
            "whenUnsatisfiable": "DoNotScaleUp",
        },
    }
    validate_manifest(manifest)


def test_the_cluster_creates_the_class_through_its_kubernetes_provider(pulumi_mocks: Any) -> None:
    cluster = GkeTpuCluster("ap", autopilot_args())
    result = pulumi_mocks.settle()
    (resource,) = result.of_type(COMPUTE_CLASS)
    assert resource.name == "ap-v6e-2x4-compute-class"
    assert resource.inputs["metadata"] == {"name": "v6e-2x4"}
    assert [p.get("spot") for p in resource.inputs["spec"]["priorities"]] == [None, True, False, None]
    assert len(cluster.compute_classes) == 1


def test_an_entry_without_fallback_has_no_class(pulumi_mocks: Any) -> None:
    args = autopilot_args()
    del args["tpu_pools"][0]["fallback"]
    del args["tpu_pools"][0]["reservation"]
    GkeTpuCluster("ap", args)
    assert pulumi_mocks.settle().of_type(COMPUTE_CLASS) == []


REFUSALS = [
    (
        {"mode": "standard"},
        {},
        "tpu_pools[0].fallback: not allowed on Standard, whose pool obtains its nodes one way (spot, reservation, "
        "flexStart or queuedProvisioning); allowed: leave it out (a fallback is a ComputeClass that Autopilot provisions "
        "from)",
    ),
    (
        {},
        {"fallback": ["spot", "queued-provisioning"], "reservation": None},
        "tpu_pools[0].fallback[1]: queued-provisioning is not allowed: a ComputeClass priority has no queued "
        "provisioning (its nodes exist only for a ProvisioningRequest); allowed: reservation, spot, on-demand, "
        "flex-start",
    ),
    (
        {},
        {"fallback": ["spot", "on-demand", "spot"], "reservation": None},
        "tpu_pools[0].fallback[2]: spot is listed twice; allowed: each of reservation, spot, on-demand, flex-start at "
        "most once",
    ),
    (
        {},
        {"fallback": []},
        "tpu_pools[0].fallback: [] is not allowed; allowed: a non-empty list of reservation, spot, on-demand, flex-start",
    ),
    (
        {},
        {"reservation": None},
        "tpu_pools[0].reservation: missing: fallback lists reservation; required: the reservation's name",
    ),
    (
        {},
        {"fallback": ["spot", "on-demand"]},
        "tpu_pools[0].reservation: 'v6e-res' is not allowed beside a fallback without reservation; allowed: add "
        "reservation to fallback (where it is tried) or leave the reservation out",
    ),
    (
        {},
        {"spot": True},
        "tpu_pools[0].spot: true is not allowed beside fallback, which lists the provisioning models to try; allowed: "
        "leave it out (list the model in fallback instead)",
    ),
]


@pytest.mark.parametrize(("cluster", "pool", "message"), REFUSALS)
def test_misused_fallbacks_are_refused_with_the_reason(
    cluster: dict[str, Any], pool: dict[str, Any], message: str
) -> None:
    args = autopilot_args(**cluster)
    entry = args["tpu_pools"][0]
    entry |= pool  # type: ignore[typeddict-item]
    for key in [key for key, value in pool.items() if value is None]:
        del entry[key]  # type: ignore[misc]
    with pytest.raises(ArgError) as refused:
        plan_cluster("ap", args)
    assert str(refused.value) == message


def test_a_workload_refuses_a_class_beside_spot() -> None:
    with pytest.raises(ArgError) as refused:
        check_capacity(
            {"tpu_compute_class": "v6e-2x4", "tpu_spot": True},
            spot="tpu_spot",
            reservation="tpu_reservation",
            zone="tpu_zone",
            compute_class="tpu_compute_class",
        )
    assert str(refused.value) == (
        "tpu_compute_class: 'v6e-2x4' beside tpu_spot or tpu_reservation; allowed: one of them (the ComputeClass "
        "decides Spot and reservations in its own priority order)"
    )


def test_the_autopilot_stack_with_a_fallback_renders_the_class_and_pods_select_it(tmp_path: Path) -> None:
    stack = (ROOT / "Pulumi.autopilot.yaml").read_text()
    anchor = "          maxNodes: 2\n"
    assert stack.count(anchor) == 1
    extra = "          reservation: v6e-res\n          fallback: [reservation, spot, on-demand, flex-start]\n"
    result = run_program(program_with_stacks(tmp_path, {"cc": stack.replace(anchor, anchor + extra)}), "cc")
    (resource,) = result.of_type(COMPUTE_CLASS)
    assert resource.inputs["metadata"] == {"name": "v6e-2x4"}
    pod = result.one(DEPLOYMENT, "vllm-llama").inputs["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {**V6E_8T.node_selector, "cloud.google.com/compute-class": "v6e-2x4"}
    assert "tolerations" not in pod or pod["tolerations"] == []
    manifests = kubernetes_manifests(result)
    assert [m for m in manifests if m["kind"] == "ComputeClass"]
    for manifest in manifests:
        validate_manifest(manifest)


@pytest.mark.parametrize("mode", ["standard", "autopilot"])
def test_a_pod_selects_the_class_on_autopilot_only_and_no_spot_selector(mode: str) -> None:
    placement = tpu_pod_placement(V6E_8T, ClusterMode(mode), zone="us-central1-b", compute_class="v6e-2x4")
    extra = {"cloud.google.com/compute-class": "v6e-2x4", "topology.kubernetes.io/zone": "us-central1-b"}
    assert placement.node_selector == {**V6E_8T.node_selector, **(extra if mode == "autopilot" else {})}
    assert placement.tolerations == []
