"""On-demand prices of accelerator machine types, per region: only rows read from a public price page.

No row yet. Searched on 2026-12-02 (cloud.google.com/tpu/pricing and GPU pricing through the project's search
tool): the stored copies of the Cloud TPU pricing page are an old edition (v4 "in Preview", no v5e or v6e rows)
and no current, dated Google price for ct4p/ct5lp/ct6e or the GPU machine types could be read, so the preview
shows chips and chip-hours only. A row needs the page's URL and the date it was read; never type a price from
memory. A stack can give its own (negotiated) prices with the `prices` config key, parsed by `parse_prices`.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gke_tpu_serving.catalog.provisioning import Obtainability


@dataclass(frozen=True)
class PriceRow:
    machine_type: str
    region: str
    usd_per_node_hour: float
    """On-demand price of one VM (node) of this machine type, accelerators included (a Spot, reservation or flex-start
    pool is not priced from it)."""
    source: str
    """The URL the price was read from."""
    checked: str
    """The date it was read (YYYY-MM-DD)."""


PRICES: tuple[PriceRow, ...] = ()

CONFIG_KEY = "prices"
_MODELS = tuple(model.value for model in Obtainability)


@dataclass(frozen=True)
class Price:
    usd_per_node_hour: float
    source: str


def parse_prices(value: Any) -> dict[str, dict[str, float]]:
    """The `prices` config key: `{MACHINE_TYPE: USD per node-hour}`, e.g. `{ct6e-standard-8t: 21.6}` (a rate the
    stack's owner negotiated, on demand; it applies in every region), or per provisioning model,
    `{ct6e-standard-8t: {on-demand: 21.6, spot: 8.1}}`. Returns `{machine type: {model: price}}`. Raises ValueError
    naming the bad entry."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{value!r} is not allowed; allowed: a mapping of machine type to USD per node-hour")
    prices: dict[str, dict[str, float]] = {}
    for machine_type, price in value.items():
        by_model = price if isinstance(price, Mapping) else {Obtainability.ON_DEMAND.value: price}
        prices[str(machine_type)] = {}
        for model, rate in by_model.items():
            where = f"{machine_type}" if by_model is not price else f"{machine_type}.{model}"
            if model not in _MODELS:
                raise ValueError(f"{where}: unknown provisioning model; allowed: {', '.join(_MODELS)}")
            if not isinstance(rate, int | float) or isinstance(rate, bool) or not rate > 0:
                raise ValueError(
                    f"{where}: {rate!r} is not allowed; allowed: a positive number (USD per node-hour), or a mapping "
                    f"of provisioning model ({', '.join(_MODELS)}) to one"
                )
            prices[str(machine_type)][str(model)] = float(rate)
    return prices


def node_hour_price(
    machine_type: str,
    region: str,
    overrides: Mapping[str, Mapping[str, float]],
    model: Obtainability = Obtainability.ON_DEMAND,
) -> Price | None:
    """The stack's own price for the machine type under the pool's provisioning model, else (on demand only: every
    sourced row is an on-demand price) a sourced row for it in the region, else None."""
    own = overrides.get(machine_type, {}).get(model.value)
    if own is not None:
        return Price(own, f"stack config key {CONFIG_KEY}")
    if model is not Obtainability.ON_DEMAND:
        return None
    for row in PRICES:
        if row.machine_type == machine_type and row.region == region:
            return Price(row.usd_per_node_hour, f"{row.source} ({row.checked})")
    return None
