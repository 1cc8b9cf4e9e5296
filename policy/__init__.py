"""The gke-tpu-serving policy pack: CrossGuard rules for the resources this project's stacks create.

`policy.rules.ALL_POLICIES` lists every policy; `policy/__main__.py` (the pack's entry point under the Pulumi CLI) is
the only place that builds the `PolicyPack`, because constructing one starts the analyzer server and blocks.
`policy.adapter.violations` runs the same policies over an offline preview, for tests.
"""
