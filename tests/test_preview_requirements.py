"""`make preview` installs requirements.txt alone (the Makefile's first stage, .venv/.preview-installed), not the
development tools: the offline preview must import nothing that only requirements-dev.txt brings."""

import json
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution

from helpers import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def _installed_by(requirement_lines: list[str]) -> set[str]:
    """The distributions that installing these requirement lines brings: their closure over `Requires-Dist` (extras
    left out, markers evaluated here), as canonical names; `-e .` is this project's package."""
    pending = ["gke-tpu-serving" if line == "-e ." else line for line in requirement_lines]
    found: set[str] = set()
    while pending:
        requirement = Requirement(pending.pop())
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        found.add(name)
        try:
            pending.extend(distribution(name).requires or [])
        except PackageNotFoundError:
            continue
    return found


# Imported when installed and skipped when not, so the preview runs without them: opentelemetry.sdk.resources (the
# Pulumi SDK's tracing) tries psutil.
OPTIONAL_IMPORTS = {"psutil"}


def test_the_preview_imports_only_what_requirements_txt_installs() -> None:
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    allowed = _installed_by([line for line in lines if line and not line.startswith("#")])
    # A fresh interpreter runs the dev stack, which uses every domain, and names the distributions that provide each
    # top-level module it loaded for it (several for a namespace package such as google).
    check = (
        "import json, sys; from importlib.metadata import packages_distributions; before = set(sys.modules); "
        "from gke_tpu_serving.offline import run_program; run_program(sys.argv[1], 'dev'); "
        "owners = packages_distributions(); tops = {m.partition('.')[0] for m in set(sys.modules) - before}; "
        "print(json.dumps(sorted({tuple(owners[t]) for t in tops if t in owners})))"
    )
    run = subprocess.run([sys.executable, "-c", check, str(ROOT)], check=True, capture_output=True, text=True)
    providers = [{canonicalize_name(name) for name in names} for names in json.loads(run.stdout)]
    assert {"pulumi", "pulumi-gcp", "pulumi-kubernetes", "gke-tpu-serving"} <= set().union(*providers)
    outside = {name for names in providers if not names & allowed for name in names}
    assert sorted(outside - OPTIONAL_IMPORTS) == []
