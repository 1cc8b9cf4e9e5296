"""Teams sharing a cluster: Tenant, TenantGateway, Notebook and the pure quota rules."""
