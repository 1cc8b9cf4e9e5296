"""Helpers shared by the test modules (importable as `helpers`: pytest puts tests/ on the path)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The project root: Pulumi.yaml, the stack files and the program."""


def program_with_stacks(directory: Path, stacks: dict[str, str]) -> Path:
    """A copy of the Pulumi program in `directory` with the given stack files (`{stack name: YAML text}`), for
    `run_program(directory, stack name)`."""
    import shutil

    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(ROOT / name, directory / name)
    shutil.copytree(ROOT / "stacks", directory / "stacks")
    for stack, text in stacks.items():
        (directory / f"Pulumi.{stack}.yaml").write_text(text)
    return directory
