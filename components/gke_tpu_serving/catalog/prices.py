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


@dataclass(frozen=True)
class PriceRow:
    machine_type: str
    region: str
    usd_per_node_hour: float
    """On-demand price of one VM (node) of this machine type, accelerators included."""
    source: str
    """The URL the price was read from."""
    checked: str
    """The date it was read (YYYY-MM-DD)."""


PRICES: tuple[PriceRow, ...] = ()

CONFIG_KEY = "prices"


@dataclass(frozen=True)
class Price:
    usd_per_node_hour: float
    source: str


def parse_prices(value: Any) -> dict[str, float]:
    """The `prices` config key: `{MACHINE_TYPE: USD per node-hour}`, e.g. `{ct6e-standard-8t: 21.6}` (a rate the
    stack's owner negotiated; it applies in every region). Raises ValueError naming the bad entry."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{value!r} is not allowed; allowed: a mapping of machine type to USD per node-hour")
    prices: dict[str, float] = {}
    for machine_type, price in value.items():
        if not isinstance(price, int | float) or isinstance(price, bool) or not price > 0:
            raise ValueError(
                f"{machine_type}: {price!r} is not allowed; allowed: a positive number (USD per node-hour)"
            )
        prices[str(machine_type)] = float(price)
    return prices


def node_hour_price(machine_type: str, region: str, overrides: Mapping[str, float]) -> Price | None:
    """The stack's own price for the machine type, else a sourced row for it in the region, else None."""
    if machine_type in overrides:
        return Price(overrides[machine_type], f"stack config key {CONFIG_KEY}")
    for row in PRICES:
        if row.machine_type == machine_type and row.region == region:
            return Price(row.usd_per_node_hour, f"{row.source} ({row.checked})")
    return None
