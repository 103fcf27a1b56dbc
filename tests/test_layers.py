"""The package's layers (core -> models -> training | inference -> analysis -> apps) as import-linter checks them,
with the contract in pyproject.toml."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"


def lint(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LINT], cwd=project, capture_output=True, text=True,
                          env={"PYTHONPATH": str(project / "src"), "PATH": "/usr/bin:/bin"})


def test_every_import_points_down_the_layers():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_upward_import_breaks_the_contract(tmp_path):
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    text = tmp_path / "src" / "imdb_sentiment" / "core" / "text.py"
    text.write_text(text.read_text() + "\nfrom imdb_sentiment.inference import io  # noqa\n")
    result = lint(tmp_path)
    assert result.returncode != 0 and "BROKEN" in result.stdout
    assert "imdb_sentiment.core.text -> imdb_sentiment.inference.io" in result.stdout
