"""The TPU quota a set of clusters needs: chips per zone and generation at every pool's largest size, what to ask
for (Compute Engine "TPU ... cores/chips per project per zone" quotas; spot capacity has its own quota) before the
first `pulumi up`."""

from collections.abc import Iterable

from gke_tpu_serving.cluster.plan import ClusterPlan


def tpu_quota(plans: Iterable[ClusterPlan]) -> dict[str, dict[str, int]]:
    """Chips by zone, then by generation (`v5e`, or `v5e-spot` for spot pools), summed over every TPU pool at its
    maximum size. An Autopilot pool that names no zone counts under its cluster's region, where Autopilot picks."""
    quota: dict[str, dict[str, int]] = {}
    for plan in plans:
        for pool in plan.tpu_pools:
            where = pool.zone if not plan.autopilot or pool.requested_zone else plan.region
            kind = pool.tpu_slice.generation.value + ("-spot" if pool.spot else "")
            chips = quota.setdefault(where, {})
            chips[kind] = chips.get(kind, 0) + pool.max_chips
    return {zone: dict(sorted(kinds.items())) for zone, kinds in sorted(quota.items())}


def quota_lines(quota: dict[str, dict[str, int]]) -> list[str]:
    """One line per zone and generation, e.g. `us-central1-a v5e 64 chips`."""
    return [f"{zone} {kind} {chips} chips" for zone, kinds in quota.items() for kind, chips in kinds.items()]
