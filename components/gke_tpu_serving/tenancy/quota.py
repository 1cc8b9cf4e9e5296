"""Pure tenancy rules shared by the Tenant component and the stack config: IAM-style member strings, Kubernetes
quantities, and the arithmetic that keeps a tenant inside its quota and the tenants' quotas inside the cluster.

Imports nothing from Pulumi, so the stack config refuses a plan at load time with the same messages the components
give.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from gke_tpu_serving.errors import ArgError, PathPart

MEMBER_PREFIXES = ("group", "user")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")

# Kubernetes resource.Quantity suffixes (binary and decimal SI); "m" is milli, used for CPU.
_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


def check_member(value: object, *, at: Sequence[PathPart] = ()) -> tuple[str, str]:
    """`group:team@example.com` or `user:alice@example.com` -> ("Group", email) or ("User", email), the RBAC subject
    kind GKE matches: users by their Google account email, groups through Google Groups for RBAC."""
    prefix, _, email = value.partition(":") if isinstance(value, str) else ("", "", "")
    if prefix not in MEMBER_PREFIXES or not _EMAIL.match(email):
        raise ArgError(
            at,
            f"{value!r} is not a member; allowed: group:GROUP_EMAIL (a Google Group under Google Groups for RBAC) or "
            "user:USER_EMAIL",
        )
    return prefix.capitalize(), email


# GKE's Google Groups for RBAC reads group membership through one Google Group of exactly this name in the domain.
RBAC_SECURITY_GROUP_NAME = "gke-security-groups"


def check_rbac_security_group(value: object, *, at: Sequence[PathPart] = ()) -> str:
    """The Google Group a cluster names for Google Groups for RBAC: gke-security-groups@DOMAIN."""
    name, _, _ = value.partition("@") if isinstance(value, str) else ("", "", "")
    if name != RBAC_SECURITY_GROUP_NAME or not _EMAIL.match(str(value)):
        raise ArgError(
            at,
            f"{value!r} is not allowed; allowed: {RBAC_SECURITY_GROUP_NAME}@YOUR_DOMAIN (Google Groups for RBAC "
            "reads only a group of exactly that name, whose members are the groups used in RBAC)",
        )
    return str(value)


def parse_quantity(value: object, *, at: Sequence[PathPart] = ()) -> Decimal:
    """A Kubernetes quantity such as "500m", "4", "256Gi" as a number of units (cores, bytes)."""
    match = _QUANTITY.match(value) if isinstance(value, str) else None
    if match is None:
        raise ArgError(at, f"{value!r} is not a Kubernetes quantity; allowed: e.g. '500m', '4', '16Gi', '1G'")
    try:
        return Decimal(match.group(1)) * _SUFFIXES[match.group(2) or ""]
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ArgError(at, f"{value!r} is not a Kubernetes quantity") from None


@dataclass(frozen=True)
class Resources:
    """Amounts of what a tenant's quota limits: CPU cores, memory bytes, TPU chips and GPUs (requests)."""

    cpu: Decimal = Decimal(0)
    memory: Decimal = Decimal(0)
    tpu_chips: int = 0
    gpus: int = 0

    def __add__(self, other: "Resources") -> "Resources":
        return Resources(
            self.cpu + other.cpu,
            self.memory + other.memory,
            self.tpu_chips + other.tpu_chips,
            self.gpus + other.gpus,
        )

    def times(self, count: int) -> "Resources":
        return Resources(self.cpu * count, self.memory * count, self.tpu_chips * count, self.gpus * count)


def total(amounts: Iterable[Resources]) -> Resources:
    result = Resources()
    for amount in amounts:
        result += amount
    return result


@dataclass(frozen=True)
class Demand:
    """What one deployment asks of a tenant: where it is configured, the namespace it deploys into, and its
    requests at its largest (pod requests times maximum replicas)."""

    key: Sequence[PathPart]
    """Where the deployment is configured, for messages (e.g. ("llama",))."""
    namespace: str
    requests: Resources


def _show_quantity(amount: Decimal | int, unit: str) -> str:
    if unit == "memory":
        return f"{(Decimal(amount) / Decimal(2) ** 30).normalize():f}Gi"
    return f"{Decimal(amount).normalize():f}"


_LABELS = {"cpu": "CPU cores", "memory": "memory", "tpu_chips": "TPU chips (google.com/tpu)", "gpus": "GPUs"}


def check_demands(tenant: str, namespace: str, quota: Resources, demands: Sequence[Demand]) -> None:
    """Refuse a deployment outside the tenant's namespace, and deployments whose requests together exceed the
    tenant's quota (the ResourceQuota would leave their pods pending). Raises ArgError at the first offender."""
    for demand in demands:
        if demand.namespace != namespace:
            raise ArgError(
                (*demand.key, "namespace"),
                f"{demand.namespace!r} is not the namespace of tenant {tenant!r}; allowed: {namespace!r}",
            )
    running = Resources()
    for demand in demands:
        running += demand.requests
        for field in ("cpu", "memory", "tpu_chips", "gpus"):
            used, allowed = getattr(running, field), getattr(quota, field)
            if used > allowed:
                asked = getattr(demand.requests, field)
                raise ArgError(
                    demand.key,
                    f"requests {_show_quantity(asked, field)} {_LABELS[field]} at its maximum scale, which brings "
                    f"tenant {tenant!r} to {_show_quantity(used, field)}; allowed: its quota of "
                    f"{_show_quantity(allowed, field)}",
                )


def check_capacity(
    key: Sequence[PathPart], field: str, quotas: Sequence[tuple[str, int]], capacity: int, cluster: str
) -> None:
    """Refuse accelerator quotas whose sum exceeds what the cluster's pools can ever hold: one team could then take
    chips that another team's quota promised it."""
    promised = sum(amount for _, amount in quotas)
    if promised > capacity:
        shares = ", ".join(f"{name} {amount}" for name, amount in quotas)
        raise ArgError(
            key,
            f"the tenants of cluster {cluster!r} are promised {promised} {_LABELS[field]} ({shares}), more than its "
            f"pools' {capacity} at their maximum size; allowed: quotas that sum to at most {capacity}, or "
            "allowOvercommit: true",
        )
