"""How GKE obtains a node: the provisioning models a node pool (or a ComputeClass priority) can ask for. Pure and
stdlib-only: the cluster plan checks a pool's choice against it, the cost estimate prices by it.

Flex-start VMs run for at most seven days: cloud.google.com/kubernetes-engine/docs/concepts/dws and
cloud.google.com/compute/docs/instances/about-flex-start-vms (read 2026-12-07)."""

from enum import Enum

# Flex-start VMs run for at most seven days (see the module docstring).
MAX_RUN_DURATION_SECONDS = 7 * 24 * 3600


class Obtainability(Enum):
    """How a pool's nodes are obtained."""

    ON_DEMAND = "on-demand"
    SPOT = "spot"
    RESERVATION = "reservation"
    FLEX_START = "flex-start"
    QUEUED_PROVISIONING = "queued-provisioning"

    @property
    def nodes_come_and_go(self) -> bool:
        """Whether GKE creates the nodes only for pending pods (or ProvisioningRequests) and removes them: the pool must
        autoscale from zero and GKE must not repair its nodes."""
        return self in (Obtainability.FLEX_START, Obtainability.QUEUED_PROVISIONING)
