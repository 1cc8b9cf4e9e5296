"""The policy pack's entry point: `pulumi preview --policy-pack policy` runs this file.

The CLI runs it by path (`runpy.run_path("policy", run_name="__main__")`), with policy/ itself on sys.path; the
rules live in the package `policy`, so its parent directory is made importable first.
"""

import sys
from pathlib import Path


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from pulumi_policy import EnforcementLevel, PolicyPack

    from policy.rules import ALL_POLICIES

    # Constructing the pack starts the analyzer's gRPC server and serves until the CLI stops it.
    PolicyPack(name="gke-tpu-serving", enforcement_level=EnforcementLevel.MANDATORY, policies=ALL_POLICIES)


if __name__ == "__main__":
    main()
