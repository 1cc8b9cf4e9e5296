"""Teams sharing a cluster: one Tenant per `tenants` entry, their Ray clusters and notebooks, and one authenticated
gateway per cluster.

`parse()` checks, before any resource is registered, that every deployment naming a tenant stays in the tenant's
namespace and inside its quota (the team's RayCluster at its largest included), that the teams' TPU groups fit in
their pools, and that the tenants' accelerator quotas fit in their cluster's pools (so one team cannot starve another
of TPU chips) unless `tenancy.allowOvercommit` says otherwise.
"""
