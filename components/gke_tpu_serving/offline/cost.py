"""What a plan's node pools hold and cost: chips and nodes at minimum and maximum autoscaling, chip-hours per month,
and an estimate where a price is known for the pool's provisioning model (gke_tpu_serving.catalog.prices: sourced
rows are on-demand prices, so a Spot, reservation or flex-start pool is priced only from the stack's own `prices`).
Read from the `--json` document, so a base and a head preview compare without rerunning either."""

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..catalog.gke import is_zone, region_of_zone
from ..catalog.prices import node_hour_price
from ..catalog.tpu import TPU_GENERATIONS
from ..cluster.obtainability import obtainability_of_node_pool

NODE_POOL = "gcp:container/nodePool:NodePool"
# 730 hours: the average month (8,760 hours a year / 12) that cloud price pages quote monthly figures in.
HOURS_PER_MONTH = 730

# A pool without a placement policy is one single-host slice: the machine type's own topology.
_TPU_MACHINES = {
    machine.name: (
        spec.generation.value,
        machine.chips_per_vm,
        machine.single_host_topologies[-1] if machine.single_host_topologies else "",
    )
    for spec in TPU_GENERATIONS.values()
    for machine in spec.machine_types
}


@dataclass(frozen=True)
class PoolCost:
    pool: str
    """The node pool's resource name."""
    machine_type: str
    accelerator: str
    """`v5e 4x8`, `nvidia-l4 x1`, or `` for a pool without accelerators."""
    chips_per_node: int
    min_nodes: int
    max_nodes: int
    per_zone: bool
    """Node counts are per zone and the zones are not in the plan (a regional cluster's default locations)."""
    obtainability: str
    """How the pool obtains its nodes (`on-demand`, `spot`, `reservation`, `flex-start`, `queued-provisioning`): its
    price is the one for that provisioning model."""
    usd_per_node_hour: float | None
    price_source: str | None

    @property
    def min_chips(self) -> int:
        return self.min_nodes * self.chips_per_node

    @property
    def max_chips(self) -> int:
        return self.max_nodes * self.chips_per_node

    def usd_per_hour(self, nodes: int) -> float | None:
        return None if self.usd_per_node_hour is None else self.usd_per_node_hour * nodes

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "min_chips": self.min_chips,
            "max_chips": self.max_chips,
            "chip_hours_per_month_max": self.max_chips * HOURS_PER_MONTH,
            "usd_per_hour_min": self.usd_per_hour(self.min_nodes),
            "usd_per_hour_max": self.usd_per_hour(self.max_nodes),
        }


def _int(value: Any, default: int = 0) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def pool_costs(preview: Mapping[str, Any], prices: Mapping[str, Mapping[str, float]] | None = None) -> list[PoolCost]:
    """One entry per node pool of a `--json` document, in the document's order."""
    pools = []
    for resource in preview.get("resources", []):
        if resource.get("type") != NODE_POOL:
            continue
        inputs = resource.get("inputs") or {}
        node_config = inputs.get("nodeConfig") or {}
        machine_type = str(node_config.get("machineType") or "")
        generation, chips_per_node, single_host = _TPU_MACHINES.get(machine_type, ("", 0, ""))
        accelerator = ""
        if generation:
            topology = (inputs.get("placementPolicy") or {}).get("tpuTopology") or single_host
            accelerator = f"{generation} {topology}".strip()
        for gpu in node_config.get("guestAccelerators") or []:
            chips_per_node += _int(gpu.get("count"))
            accelerator = f"{gpu.get('type')} x{_int(gpu.get('count'))}"
        autoscaling = inputs.get("autoscaling") or {}
        fixed = _int(inputs.get("nodeCount"), _int(inputs.get("initialNodeCount")))
        low = _int(autoscaling.get("minNodeCount"), fixed) if autoscaling else fixed
        high = _int(autoscaling.get("maxNodeCount"), fixed) if autoscaling else fixed
        zones = inputs.get("nodeLocations") or []
        location = str(inputs.get("location") or "")
        # GKE counts nodes per zone of the pool.
        zone_count = len(zones) or (1 if is_zone(location) else 0)
        region = region_of_zone(zones[0]) if zones else (region_of_zone(location) if is_zone(location) else location)
        model = obtainability_of_node_pool(inputs)
        price = node_hour_price(machine_type, region, prices or {}, model)
        pools.append(
            PoolCost(
                pool=str(resource.get("name")),
                machine_type=machine_type,
                accelerator=accelerator,
                chips_per_node=chips_per_node,
                min_nodes=low * max(zone_count, 1),
                max_nodes=high * max(zone_count, 1),
                per_zone=zone_count == 0,
                obtainability=model.value,
                usd_per_node_hour=price.usd_per_node_hour if price else None,
                price_source=price.source if price else None,
            )
        )
    return pools


def _range(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}-{high}"


def describe(pool: PoolCost) -> str:
    """`v6e 2x4 at 1-2 nodes = 8-16 chips (ct6e-standard-8t), up to 11,680 chip-hours/month`."""
    nodes = _range(pool.min_nodes, pool.max_nodes) + (" node" if pool.max_nodes == 1 else " nodes")
    what = pool.accelerator or "no accelerators"
    text = f"{pool.pool}: {what} at {nodes}{' per zone' if pool.per_zone else ''}"
    if pool.chips_per_node:
        text += f" = {_range(pool.min_chips, pool.max_chips)} chips"
        text += f", up to {pool.max_chips * HOURS_PER_MONTH:,} chip-hours/month"
    on_demand = pool.obtainability == "on-demand"
    text += f" ({pool.machine_type}{'' if on_demand else ', ' + pool.obtainability})"
    if pool.usd_per_node_hour is not None:
        low, high = pool.usd_per_hour(pool.min_nodes), pool.usd_per_hour(pool.max_nodes)
        text += f"; ${low:,.2f}-${high:,.2f}/h {pool.obtainability.replace('-', ' ')} [{pool.price_source}]"
    return text


def render_cost(pools: list[PoolCost]) -> str:
    """The preview's cost section ("" for a plan without node pools)."""
    if not pools:
        return ""
    lines = ["Accelerators and cost (node pools at minimum-maximum autoscaling):"]
    lines += [f"    {describe(pool)}" for pool in pools]
    chips = (sum(p.min_chips for p in pools), sum(p.max_chips for p in pools))
    lines.append(f"    total: {_range(*chips)} chips, up to {chips[1] * HOURS_PER_MONTH:,} chip-hours/month")
    if all(p.usd_per_node_hour is None for p in pools):
        lines.append("    no price: no sourced price row and no `prices` config key for these machine types")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class CostDelta:
    chips_max: int
    usd_per_hour_max: float | None
    """None when a pool on either side has no price."""

    def describe(self) -> str:
        text = f"{self.chips_max:+d} chips at max"
        if self.usd_per_hour_max is not None and self.usd_per_hour_max:
            sign = "+" if self.usd_per_hour_max > 0 else "-"
            text += f", {sign}${abs(self.usd_per_hour_max):,.2f}/h at max"
        return text


def cost_delta(old: list[PoolCost], new: list[PoolCost]) -> CostDelta:
    chips = sum(p.max_chips for p in new) - sum(p.max_chips for p in old)
    priced = [p.usd_per_hour(p.max_nodes) for p in (*old, *new) if p.chips_per_node]
    if any(price is None for price in priced):
        return CostDelta(chips, None)
    usd = sum(p.usd_per_hour(p.max_nodes) or 0.0 for p in new) - sum(p.usd_per_hour(p.max_nodes) or 0.0 for p in old)
    return CostDelta(chips, usd)
