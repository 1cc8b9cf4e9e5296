"""Helpers shared by the test modules (importable as `helpers`: pytest puts tests/ on the path)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The project root: Pulumi.yaml, the stack files and the program."""
