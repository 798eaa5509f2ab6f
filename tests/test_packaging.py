"""What an installed harness carries: every suite folder and the report templates, with no list to maintain."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_ships_every_suite_folder_and_the_report_assets(tmp_path: Path) -> None:
    """Issue: a new suite folder needed an edit to pyproject.toml; setup.py finds them now."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    folders = [p.name for p in (ROOT / "suites").iterdir() if (p / "__init__.py").is_file()]
    assert folders
    for folder in folders:
        for module in (ROOT / "suites" / folder).glob("*.py"):
            assert f"conformance_suites/{folder}/{module.name}" in names
    assert {"conformance_suites/pytest.ini", "conformance/reporting/results.schema.json"} <= names
    assert "conformance/data/requirements.toml" in names
    assert any(n.startswith("conformance/reporting/templates/") for n in names)
