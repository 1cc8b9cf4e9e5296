"""The offline runner reads project and stack files through libyaml where PyYAML has it (for speed, issue 19):
the documents must be exactly those PyYAML's pure-Python safe loader reads, and bad YAML still a ProjectError."""

from pathlib import Path

import pytest
import yaml

from gke_tpu_serving.offline import ProjectError
from gke_tpu_serving.offline.runner import _read_yaml

ROOT = Path(__file__).resolve().parent.parent
PROJECT_FILES = sorted(ROOT.glob("Pulumi*.yaml"))


def test_every_project_and_stack_file_is_checked() -> None:
    assert ROOT / "Pulumi.yaml" in PROJECT_FILES and len(PROJECT_FILES) > 2


@pytest.mark.parametrize("path", PROJECT_FILES, ids=lambda path: path.name)
def test_documents_equal_the_pure_python_safe_loaders(path: Path) -> None:
    assert _read_yaml(path) == yaml.load(path.read_text(), Loader=yaml.SafeLoader)


def test_invalid_yaml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text("config:\n  a: [1,\n")
    with pytest.raises(ProjectError) as raised:
        _read_yaml(path)
    message = str(raised.value)
    assert message.startswith(f"{path} is not valid YAML: while parsing a flow node\n")
    assert message.endswith('in "<unicode string>", line 3, column 1')
