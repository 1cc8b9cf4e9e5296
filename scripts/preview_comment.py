"""A pull request's offline preview as a Markdown comment: every stack of the base and of the head checkout rendered
with `python -m gke_tpu_serving.offline preview --json`, and the head compared with the base through its `--diff`.

    python scripts/preview_comment.py --base BASE_DIR --head HEAD_DIR --out OUT_DIR [--head-ref SHA] [--base-ref SHA]

Each checkout renders with its own program and the Python of its own virtualenv (default: DIR/.venv/bin/python), so a
change to a component or a dependency is compared with what the base really renders. A stack missing on the base
counts as all added; one missing on the head, as removed. OUT_DIR gets comment.md (starting with MARKER, which the
comment workflow looks for), and per stack base/STACK.json, head/STACK.json and STACK.diff.

Exit status: 1 when a head stack does not render (comment.md says why), 0 otherwise.
"""

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

MARKER = "<!-- gke-tpu-serving:offline-preview -->"
# GitHub refuses comments over 65,536 characters; leave room for the comment workflow's own truncation note.
DEFAULT_MAX_CHARS = 60_000
# Pulumi stack names; anything else in a file name is not rendered (nor echoed into the comment as is).
_STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_SUMMARY = re.compile(
    r"^Resources: (\d+) added, (\d+) removed, (\d+) changed \((\d+) replaced, (\d+) update or replace\), "
    r"(\d+) unchanged; outputs: (\d+) changed$",
    re.MULTILINE,
)
_ACCELERATORS = re.compile(r"^Accelerators: (.*)$", re.MULTILINE)
_CHANGES_HEADER = re.compile(r"^Changes since .*:$", re.MULTILINE)
_SHA = re.compile(r"[0-9a-f]{7,40}")
_EMPTY_PREVIEW: dict[str, object] = {"resources": [], "outputs": {}}


@dataclass(frozen=True)
class DiffSummary:
    """The counts on the last line of the offline preview's `--diff`."""

    added: int
    removed: int
    changed: int
    unchanged: int
    outputs_changed: int
    replaced: int = 0
    """Of the changed resources, those the providers replace."""
    maybe_replaced: int = 0
    """Of the changed resources, those no provider table covers ("update or replace")."""
    accelerators: str = ""
    """The change in accelerators (and price, where known), e.g. `+64 chips at max`."""

    @property
    def any_change(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.outputs_changed)

    def verdict(self) -> str:
        """One line: the most destructive kind of change first."""
        parts = []
        if self.removed:
            parts.append(f"DELETES {self.removed}")
        if self.replaced:
            parts.append(f"REPLACEMENTS {self.replaced}")
        if self.maybe_replaced:
            parts.append(f"{self.maybe_replaced} update or replace")
        updates = self.changed - self.replaced - self.maybe_replaced
        if updates:
            parts.append(f"{updates} update{'s' if updates != 1 else ''}")
        if self.added:
            parts.append(f"{self.added} to create")
        if self.outputs_changed and not parts:
            parts.append("outputs only")
        text = ", ".join(parts) or "no change"
        if self.accelerators and self.any_change:
            text += f"; {self.accelerators}"
        return text


@dataclass
class StackReport:
    """One stack's result: its diff against the base, or why there is none."""

    stack: str
    summary: DiffSummary | None = None
    diff: str = ""
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def stack_names(checkout: Path) -> list[str]:
    """The stacks that have a `Pulumi.<stack>.yaml` in the checkout (an absent checkout has none)."""
    names = (path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in checkout.glob("Pulumi.*.yaml"))
    return sorted(name for name in names if _STACK_NAME.fullmatch(name))


def parse_diff(stdout: str) -> tuple[str, DiffSummary]:
    """The diff lines and their summary from the output of `preview --diff` (its resource tree comes first)."""
    parts = _CHANGES_HEADER.split(stdout)
    if len(parts) < 2:
        raise ValueError("the offline preview printed no 'Changes since' section")
    diff = parts[-1].strip("\n")
    found = list(_SUMMARY.finditer(diff))
    if not found:
        raise ValueError("the offline preview's diff has no 'Resources: ...' summary line")
    added, removed, changed, replaced, maybe, unchanged, outputs = (int(count) for count in found[-1].groups())
    accelerators = _ACCELERATORS.findall(diff)
    summary = DiffSummary(
        added, removed, changed, unchanged, outputs, replaced, maybe, accelerators[-1] if accelerators else ""
    )
    body = diff[: found[-1].start()].rstrip("\n")
    # The accelerators line goes into the verdict; the details keep the resources.
    return _ACCELERATORS.sub("", body).rstrip("\n"), summary


def _preview(python: Path, checkout: Path, stack: str, json_out: Path, diff_with: Path | None) -> str:
    command = [str(python), "-m", "gke_tpu_serving.offline", "preview", "--stack", stack, "--json", str(json_out)]
    if diff_with is not None:
        command += ["--diff", str(diff_with)]
    done = subprocess.run(command, cwd=checkout, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        # Exit status 2 is bad config (one line); anything else ends in a traceback, whose end says the most.
        message = done.stderr.strip() or done.stdout.strip()
        raise RuntimeError(f"exit status {done.returncode}: {message[-3000:]}")
    return done.stdout


def diff_stack(
    stack: str, *, head: Path, head_python: Path, base_json: Path, head_json: Path
) -> tuple[str, DiffSummary]:
    """Render the head's stack into head_json and diff it against an earlier preview (base_json) with `--diff`."""
    return parse_diff(_preview(head_python, head, stack, head_json, base_json))


def compare_stack(
    stack: str, *, base: Path, head: Path, base_python: Path, head_python: Path, out_dir: Path
) -> StackReport:
    """Render the stack on both sides (a side that lacks it renders nothing) and diff the head against the base."""
    report = StackReport(stack)
    base_json, head_json = out_dir / "base" / f"{stack}.json", out_dir / "head" / f"{stack}.json"
    base_json.parent.mkdir(parents=True, exist_ok=True)
    head_json.parent.mkdir(parents=True, exist_ok=True)
    if stack not in stack_names(base):
        report.notes.append("New stack: not on the base, so every resource counts as added.")
        base_json.write_text(json.dumps(_EMPTY_PREVIEW))
    else:
        try:
            _preview(base_python, base, stack, base_json, None)
        except (OSError, RuntimeError) as error:
            # Inline code, so the base's error text cannot turn into Markdown or HTML in the comment.
            reason = _one_line(str(error)).replace("`", "'")
            report.notes.append(f"The base did not render (`{reason}`); compared with an empty stack.")
            base_json.write_text(json.dumps(_EMPTY_PREVIEW))
    if stack not in stack_names(head):
        resources = json.loads(base_json.read_text()).get("resources", [])
        report.notes.append(
            "Stack file removed: these are the resources the base declares. Removing the file destroys nothing; "
            "`pulumi destroy` on the stack does."
        )
        report.summary = DiffSummary(0, len(resources), 0, 0, 0)
        report.diff = "\n".join(f"- {resource['urn']}" for resource in resources)
    else:
        try:
            report.diff, report.summary = diff_stack(
                stack, head=head, head_python=head_python, base_json=base_json, head_json=head_json
            )
        except (OSError, RuntimeError, ValueError) as error:
            report.error = str(error)
    (out_dir / f"{stack}.diff").write_text(report.error or report.diff + "\n")
    return report


def compare_all(*, base: Path, head: Path, base_python: Path, head_python: Path, out_dir: Path) -> list[StackReport]:
    """Every stack of either side, side by side (each render spends most of its time importing the Pulumi SDKs)."""
    stacks = sorted(set(stack_names(base)) | set(stack_names(head)))
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return list(
            pool.map(
                lambda stack: compare_stack(
                    stack, base=base, head=head, base_python=base_python, head_python=head_python, out_dir=out_dir
                ),
                stacks,
            )
        )


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else text


def _fenced(text: str, language: str = "") -> str:
    # A fence longer than any run of backticks inside, so rendered values cannot close it.
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _truncated(text: str, budget: int) -> str:
    if len(text) <= budget:
        return text
    kept: list[str] = []
    used = 0
    lines = text.splitlines()
    for line in lines:
        if used + len(line) + 1 > budget:
            break
        kept.append(line)
        used += len(line) + 1
    dropped = len(lines) - len(kept)
    kept.append(f"... {dropped} more lines: the whole diff is in this run's offline-preview artifact")
    return "\n".join(kept)


def _counts(summary: DiffSummary | None) -> str:
    if summary is None:
        return " | ".join(["-"] * 5)
    return f"{summary.added} | {summary.removed} | {summary.changed} | {summary.unchanged} | {summary.outputs_changed}"


@dataclass(frozen=True)
class _Section:
    """A stack's part of the comment: fixed text around a payload (diff or error) that may be truncated."""

    before: str
    payload: str
    language: str
    after: str

    def render(self, budget: int) -> str:
        if not self.payload:
            return self.before + self.after
        return self.before + _fenced(_truncated(self.payload, budget), self.language) + self.after


def _section(report: StackReport) -> _Section:
    before = f"\n### `{report.stack}`\n\n" + "".join(f"{note}\n\n" for note in report.notes)
    if report.error is not None:
        return _Section(before + "The head does not render:\n\n", report.error, "", "\n")
    summary = report.summary
    if summary is None or not summary.any_change:
        return _Section(before + "No changes.\n", "", "", "")
    title = (
        f"Diff: {summary.added} added, {summary.removed} removed, {summary.changed} changed "
        f"({summary.replaced} replaced), {summary.outputs_changed} outputs changed"
    )
    return _Section(before + f"<details><summary>{title}</summary>\n\n", report.diff, "diff", "\n\n</details>\n")


def comment_markdown(
    reports: Sequence[StackReport],
    *,
    head_ref: str | None = None,
    base_ref: str | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> str:
    """The comment: MARKER, a table of counts per stack, then each stack's diff folded in a <details>, capped so the
    whole comment stays within max_chars."""
    refs = ""
    if head_ref and base_ref and _SHA.fullmatch(head_ref) and _SHA.fullmatch(base_ref):
        refs = f" at `{head_ref[:7]}` merged into its base at `{base_ref[:7]}`, compared with that base,"
    lines = [
        MARKER,
        "## Offline preview",
        "",
    ]
    for report in reports:
        if report.error is not None:
            verdict = "DOES NOT RENDER"
        else:
            verdict = report.summary.verdict() if report.summary is not None else "no change"
        lines.append(f"- `{report.stack}`: {verdict}")
    lines += [
        "",
        f"The Pulumi program{refs} run under Pulumi's in-process mocks (no cloud, no credentials): the resources and "
        "inputs `pulumi preview` would register; values that providers compute are unknown offline.",
        "",
        "| Stack | Result | Added | Removed | Changed | Unchanged | Outputs changed |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for report in reports:
        if report.error is not None:
            result = "does not render"
        elif report.summary is not None and report.summary.any_change:
            result = "changes"
        else:
            result = "no changes"
        lines.append(f"| `{report.stack}` | {result} | {_counts(report.summary)} |")
    header = "\n".join(lines) + "\n"
    sections = [_section(report) for report in reports]
    # What the fixed text leaves goes to the diffs and errors, shared equally between the stacks (fences and the
    # truncation note take about 200 characters each).
    fixed = len(header) + sum(len(section.before) + len(section.after) for section in sections)
    share = max(500, (max_chars - fixed) // max(1, len(sections)) - 200)
    body = header + "".join(section.render(share) for section in sections)
    if len(body) > max_chars:
        body = body[: max_chars - 40] + "\n\n... (comment truncated)\n"
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, required=True, help="the base branch's checkout")
    parser.add_argument("--head", type=Path, required=True, help="the pull request's checkout")
    parser.add_argument("--out", type=Path, required=True, help="where comment.md and the previews go")
    parser.add_argument("--base-python", type=Path, help="default: BASE/.venv/bin/python")
    parser.add_argument("--head-python", type=Path, help="default: HEAD/.venv/bin/python")
    parser.add_argument("--head-ref", help="the head commit, shown in the comment")
    parser.add_argument("--base-ref", help="the base commit, shown in the comment")
    parser.add_argument("--max-chars", type=int, default=DEFAULT_MAX_CHARS, help="default: %(default)s")
    args = parser.parse_args(argv)
    base, head = args.base.resolve(), args.head.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    reports = compare_all(
        base=base,
        head=head,
        base_python=(args.base_python or base / ".venv" / "bin" / "python").absolute(),
        head_python=(args.head_python or head / ".venv" / "bin" / "python").absolute(),
        out_dir=args.out.resolve(),
    )
    body = comment_markdown(reports, head_ref=args.head_ref, base_ref=args.base_ref, max_chars=args.max_chars)
    (args.out / "comment.md").write_text(body)
    print(body)
    failed = [report.stack for report in reports if report.error is not None]
    if failed:
        print(f"The head does not render: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
