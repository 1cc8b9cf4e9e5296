"""How a TPU pool obtains its nodes: on demand, Spot VMs, a specific reservation, DWS flex-start or queued provisioning,
and what each needs of the node pool and forbids. Pure: plan.py calls `check_obtainability` while it plans a pool, the
component renders `node_pool_settings`, the offline cost estimate reads the mode back from the rendered pool.

Sources (read 2026-12-07):
- Field names: pulumi_gcp 10.2 `container.NodePoolNodeConfigArgs` (`spot`, `flex_start`, `max_run_duration` "in
  seconds, terminated by 's'", `reservation_affinity`), `NodePoolQueuedProvisioningArgs.enabled` ("nodes obtainable
  through the ProvisioningRequest API exclusively"), `NodePoolAutoscalingArgs.location_policy` ("ANY" prioritises unused
  reservations and reduces Spot preemption risk).
- Spot VMs cannot consume a reservation: cloud.google.com/compute/docs/instances/reservations-consume ("Limitations:
  you can't consume a reservation to create Spot VMs or preemptible instances").
- A specific reservation (consume type SPECIFIC_RESERVATION, key compute.googleapis.com/reservation-name) on Standard
  and Autopilot: cloud.google.com/kubernetes-engine/docs/how-to/consuming-reservations.
- Flex-start VMs run for at most seven days: cloud.google.com/kubernetes-engine/docs/concepts/dws and
  cloud.google.com/compute/docs/instances/about-flex-start-vms.
- The node pool constraints of flex-start and queued provisioning, as Google's reference IaC enforces them (the GKE
  how-to pages could not be read in full this session): GoogleCloudPlatform/cluster-toolkit@1047080375af
  modules/compute/gke-node-pool/main.tf: flex-start needs auto_repair false, no static node count and reservation
  affinity NO_RESERVATION, and excludes Spot; queued provisioning needs NO_RESERVATION and a total minimum of 0 nodes
  and excludes Spot; autoscaled pools use location_policy ANY; its dws-flex-start-queued-provisioning examples set
  flex-start together with queued provisioning.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from gke_tpu_serving.catalog.provisioning import MAX_RUN_DURATION_SECONDS, Obtainability
from gke_tpu_serving.errors import ArgError, PathPart, require_int

__all__ = [
    "Obtainability",
    "check_fallback",
    "check_obtainability",
    "check_scales_from_zero",
    "node_pool_settings",
    "obtainability_of_node_pool",
]

# The pool keys that choose a mode other than on demand, in the order messages name them.
_MODE_KEYS: Mapping[str, Obtainability] = {
    "spot": Obtainability.SPOT,
    "reservation": Obtainability.RESERVATION,
    "flex_start": Obtainability.FLEX_START,
    "queued_provisioning": Obtainability.QUEUED_PROVISIONING,
}
SPOT_FROM_RESERVATION = "Compute Engine cannot create Spot VMs from a reservation"
"""Why Spot and a reservation are refused together, for a pool and for a workload's capacity alike."""
_WHY_ONE_MODE: Mapping[frozenset[Obtainability], str] = {
    frozenset({Obtainability.SPOT, Obtainability.RESERVATION}): SPOT_FROM_RESERVATION,
}


def _mode_words(mode: Obtainability) -> str:
    return mode.value.replace("-", " ")


def check_obtainability(at: Sequence[PathPart], pool: Mapping[str, Any], *, autopilot: bool) -> Obtainability:
    """The mode a `tpu_pools` entry asks for; ArgError (located under `at`) when it asks for two, or for one that
    this project cannot give in the cluster's mode. An entry with a `fallback` (check_fallback) has none of its own:
    on demand here, its ComputeClass decides."""
    if pool.get("fallback") is not None:
        return Obtainability.ON_DEMAND
    chosen: list[tuple[str, Obtainability]] = []
    for key, mode in _MODE_KEYS.items():
        value = pool.get(key)
        if key == "reservation":
            if value is not None and (not isinstance(value, str) or not value):
                raise ArgError((*at, key), f"{value!r} is not allowed; allowed: the name of a reservation")
            if value:
                chosen.append((key, mode))
        elif value is not None and not isinstance(value, bool):
            raise ArgError((*at, key), f"{value!r} is not allowed; allowed: true or false")
        elif value:
            chosen.append((key, mode))
    if len(chosen) > 1:
        (_, first), (key, second) = chosen[0], chosen[1]
        why = _WHY_ONE_MODE.get(
            frozenset({first, second}),
            f"{_mode_words(second)} nodes are a provisioning model of their own, with no reservation and no Spot VMs",
        )
        raise ArgError(
            (*at, key),
            f"{'true' if pool[key] is True else repr(pool[key])}, but the pool also asks for {_mode_words(first)}: "
            f"{why}; allowed: one of spot, reservation, flex start, queued provisioning (or none: on demand)",
        )
    mode = chosen[0][1] if chosen else Obtainability.ON_DEMAND
    if autopilot and mode.nodes_come_and_go:
        raise ArgError(
            (*at, chosen[0][0]),
            "true is not allowed on Autopilot, which has no node pool to set it on; allowed: false",
        )
    _check_max_run_duration(at, pool.get("max_run_duration"), mode)
    return mode


def check_fallback(at: Sequence[PathPart], pool: Mapping[str, Any], *, autopilot: bool) -> tuple[Obtainability, ...]:
    """The `fallback` of a `tpu_pools` entry (the models a ComputeClass tries in order), checked; () when unset. On
    Autopilot only; `reservation` names the reservation of its `reservation` priority; it replaces the one-mode keys."""
    value = pool.get("fallback")
    if value is None:
        return ()
    path = (*at, "fallback")
    listed = ", ".join(mode.value for mode in _FALLBACK_MODELS)
    if not autopilot:
        raise ArgError(
            path,
            "not allowed on Standard, whose pool obtains its nodes one way (spot, reservation, flexStart or "
            "queuedProvisioning); allowed: leave it out (a fallback is a ComputeClass that Autopilot provisions from)",
        )
    if not isinstance(value, list | tuple) or not value or not all(_is_model(v) for v in value):
        raise ArgError(path, f"{value!r} is not allowed; allowed: a non-empty list of {listed}")
    models = tuple(v if isinstance(v, Obtainability) else Obtainability(v) for v in value)
    for index, model in enumerate(models):
        if model not in _FALLBACK_MODELS:
            raise ArgError(
                (*path, index),
                f"{model.value} is not allowed: a ComputeClass priority has no queued provisioning (its nodes exist "
                f"only for a ProvisioningRequest); allowed: {listed}",
            )
        if model in models[:index]:
            raise ArgError((*path, index), f"{model.value} is listed twice; allowed: each of {listed} at most once")
    for key in ("spot", "flex_start", "queued_provisioning"):
        if pool.get(key):
            raise ArgError(
                (*at, key),
                "true is not allowed beside fallback, which lists the provisioning models to try; allowed: leave it "
                "out (list the model in fallback instead)",
            )
    has_reservation = Obtainability.RESERVATION in models
    if has_reservation != bool(pool.get("reservation")):
        raise ArgError(
            (*at, "reservation"),
            "missing: fallback lists reservation; required: the reservation's name"
            if has_reservation
            else f"{pool.get('reservation')!r} is not allowed beside a fallback without reservation; allowed: add "
            "reservation to fallback (where it is tried) or leave the reservation out",
        )
    return models


_FALLBACK_MODELS = (Obtainability.RESERVATION, Obtainability.SPOT, Obtainability.ON_DEMAND, Obtainability.FLEX_START)


def _is_model(value: Any) -> bool:
    return isinstance(value, Obtainability) or value in {mode.value for mode in Obtainability}


def _check_max_run_duration(at: Sequence[PathPart], value: Any, mode: Obtainability) -> None:
    if value is None:
        return
    path = (*at, "max_run_duration")
    if not mode.nodes_come_and_go:
        raise ArgError(
            path,
            f"{value!r} is not allowed on this pool ({_mode_words(mode)}); allowed: leave it out (this project bounds "
            "the run time of flex start and queued provisioning nodes only)",
        )
    seconds = require_int(path, value, minimum=1)
    if seconds > MAX_RUN_DURATION_SECONDS:
        raise ArgError(
            path,
            f"{seconds} seconds is more than the 7 days ({MAX_RUN_DURATION_SECONDS} seconds) a flex start VM runs; "
            f"allowed: 1 to {MAX_RUN_DURATION_SECONDS}",
        )


def check_scales_from_zero(at: Sequence[PathPart], mode: Obtainability, min_nodes: Any) -> None:
    """Flex-start and queued provisioning pools hold no node until a pod (or ProvisioningRequest) asks for one: their
    autoscaling minimum is 0."""
    if mode.nodes_come_and_go and min_nodes not in (None, 0):
        raise ArgError(
            (*at, "min_nodes"),
            f"{min_nodes!r} is not allowed on this pool ({_mode_words(mode)}), whose nodes GKE creates only when "
            "capacity is obtained and removes when idle; allowed: 0 (or leave it out)",
        )


def node_pool_settings(mode: Obtainability, reservation: str | None, max_run_seconds: int | None) -> dict[str, Any]:
    """The node pool arguments of a mode (snake_case, as `gcp.container.NodePoolArgs` takes them): `node_config`
    entries, `queued_provisioning`, `autoscaling` entries and `auto_repair`."""
    node_config: dict[str, Any] = {"spot": mode is Obtainability.SPOT}
    settings: dict[str, Any] = {"node_config": node_config, "autoscaling": {}, "auto_repair": True}
    if mode is Obtainability.RESERVATION:
        node_config["reservation_affinity"] = {
            "consume_reservation_type": "SPECIFIC_RESERVATION",
            "key": "compute.googleapis.com/reservation-name",
            "values": [reservation],
        }
    if mode.nodes_come_and_go:
        node_config["flex_start"] = True
        node_config["reservation_affinity"] = {"consume_reservation_type": "NO_RESERVATION"}
        if max_run_seconds is not None:
            node_config["max_run_duration"] = f"{max_run_seconds}s"
        settings["autoscaling"] = {"location_policy": "ANY"}
        settings["auto_repair"] = False
    if mode is Obtainability.QUEUED_PROVISIONING:
        settings["queued_provisioning"] = {"enabled": True}
    return settings


def obtainability_of_node_pool(inputs: Mapping[str, Any]) -> Obtainability:
    """The mode of a rendered node pool (camelCase inputs, as the engine and the offline preview see them)."""
    node_config = inputs.get("nodeConfig") or {}
    if (inputs.get("queuedProvisioning") or {}).get("enabled"):
        return Obtainability.QUEUED_PROVISIONING
    if node_config.get("flexStart"):
        return Obtainability.FLEX_START
    if node_config.get("spot"):
        return Obtainability.SPOT
    affinity = node_config.get("reservationAffinity") or {}
    if affinity.get("consumeReservationType") == "SPECIFIC_RESERVATION":
        return Obtainability.RESERVATION
    return Obtainability.ON_DEMAND
