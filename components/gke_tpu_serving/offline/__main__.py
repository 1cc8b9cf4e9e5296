"""`python -m gke_tpu_serving.offline preview --stack STACK ...`: a `pulumi preview` without the CLI.

Exit status: 0 on success, 2 for bad config or input (the message alone on stderr) and for a plan that fails
the integrity checks (gke_tpu_serving.k8s.integrity: one line per violation on stderr, after the tree and the
files asked for), 1 for anything else (with its traceback), including an invoke no mock answers.
"""

import argparse
import asyncio
import gc
import io
import json
import sys
import traceback
from pathlib import Path

from ..catalog.prices import CONFIG_KEY, parse_prices
from .cost import pool_costs, render_cost
from .diff import diff_plans, render_diff
from .plan_checks import integrity_violations
from .render import render_tree, write_manifests
from .runner import input_error_message, load_stack_config, run_program


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gke_tpu_serving.offline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    preview = commands.add_parser("preview", help="run the program under mocks and print the resource tree")
    preview.add_argument("--stack", required=True, help="reads Pulumi.<STACK>.yaml")
    preview.add_argument("--project-dir", type=Path, default=Path.cwd(), help="holds Pulumi.yaml (default: .)")
    preview.add_argument("--json", type=Path, dest="json_file", metavar="FILE", help="write the plan as JSON")
    preview.add_argument("--manifests", type=Path, metavar="DIR", help="write Kubernetes objects as YAML")
    preview.add_argument("--diff", type=Path, metavar="OLD.json", help="compare with an earlier --json file")
    return parser


# A preview's heap grows to hundreds of thousands of objects that live to its end (the provider SDKs' classes and
# type hints, then Outputs, tasks and futures for every input; 600,000 in a 32-team preview): with the default first
# threshold (700) the collector scans the whole heap again each time it grows by a quarter, 40% of that preview's
# CPU time (issue 19). Ten thousand keeps young collections cheap and full ones rare; peak memory stays the same.
GC_THRESHOLDS = (10_000, 10, 10)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        # The tree glyphs must survive a C locale in CI.
        sys.stdout.reconfigure(encoding="utf-8")
    old = None
    if args.diff:
        try:
            old = json.loads(args.diff.read_text())
        except (OSError, ValueError) as exc:
            print(f"--diff {args.diff}: {exc}", file=sys.stderr)
            return 2
    try:
        result = run_program(args.project_dir, args.stack)
    except Exception as exc:
        message = input_error_message(exc)
        if message is None:
            traceback.print_exc()
            return 1
        print(message, file=sys.stderr)
        return 2

    document = result.to_json()
    if old is None:
        print(render_tree(result), end="")
    else:
        plan = diff_plans(old, document)
        print(render_tree(result, plan.actions(), deleted=plan.count("delete")), end="")
    # The program has validated the key (stacks/config.py); here it only prices the pools.
    raw_prices = load_stack_config(args.project_dir, args.stack).values.get(f"{result.project}:{CONFIG_KEY}")
    costs = pool_costs(document, parse_prices(json.loads(raw_prices)) if raw_prices else None)
    if costs:
        print("\n" + render_cost(costs), end="")
    if args.json_file:
        document["cost"] = [pool.to_json() for pool in costs]
        args.json_file.write_text(json.dumps(document, indent=2) + "\n")
    if args.manifests:
        written = write_manifests(result, args.manifests)
        print(f"\nWrote {len(written)} Kubernetes manifests to {args.manifests}")
    if old is not None:
        print(f"\nChanges since {args.diff}:")
        print(render_diff(old, document), end="")
    violations = integrity_violations(result)
    for violation in violations:
        print(f"plan integrity ({violation.rule}): {violation.message}", file=sys.stderr)
    return 2 if violations else 0


if __name__ == "__main__":
    # Here, not in main(): tests call main() in-process and keep their interpreter's collector as it is.
    gc.set_threshold(*GC_THRESHOLDS)
    status = main()
    # Closed while the interpreter is whole: the SDK's event loop, left to its finalizer at exit, once in a while
    # printed "Exception ignored in: <function BaseEventLoop.__del__ ...> ... Bad file descriptor" on stderr.
    asyncio.get_event_loop_policy().get_event_loop().close()
    sys.exit(status)
