"""The Pulumi program's stack: config.py reads and validates the stack config, build.py registers the resources.

Modules, bottom up: naming and typed (pure), cluster_addons, model (the shared types and the Scenario interface),
placement and storage (what instances share), scenarios/ (one module per scenario, registered once), tenancy/
(model, parse, deploy), config, build. Imports only point down that list.
"""
