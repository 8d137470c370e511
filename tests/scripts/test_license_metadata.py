"""pyproject.toml's licence in the one form both setuptools generations accept.

Current setuptools (pip's build environment) warns about `project.license` as a table and
wants an SPDX string; Debian 12's setuptools 66 (scripts/build-deb.sh) rejects the string. The
form both take: no `license` key, the text in LICENSE (picked up as License-File), the same
text as packaging/debian/copyright's.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEBIAN_PYTHON = Path("/usr/bin/python3")


def test_no_deprecated_license_table() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "license" not in project  # neither the table (deprecated) nor SPDX (Debian 12)


def test_license_file_is_the_debian_copyright_text() -> None:
    copyright_text = (REPO / "packaging" / "debian" / "copyright").read_text()
    stanza = copyright_text.rsplit("License: ISC\n", 1)[1]
    expected = ["" if line == " ." else line.removeprefix(" ")
                for line in stanza.strip().splitlines()]
    license_text = (REPO / "LICENSE").read_text()
    assert license_text.startswith("ISC License\n")
    assert license_text.strip().splitlines()[-len(expected):] == expected


def test_debian_setuptools_reads_the_metadata(tmp_path: Path) -> None:
    """Debian's own python3 (the one dpkg-buildpackage uses) prepares the metadata with a
    License-File and without a licence warning."""
    probe = "import setuptools" if DEBIAN_PYTHON.exists() else None
    if probe is None or subprocess.run([str(DEBIAN_PYTHON), "-c", probe],
                                       capture_output=True, check=False).returncode:
        pytest.skip("needs Debian's python3-setuptools (scripts/setup.sh installs it)")
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, src / name)
    (src / "carpd").mkdir()
    (src / "carpd" / "__init__.py").write_text("")
    out = tmp_path / "meta"
    out.mkdir()
    proc = subprocess.run(
        [str(DEBIAN_PYTHON), "-c",
         "import sys, setuptools.build_meta as b; "
         "print(b.prepare_metadata_for_build_wheel(sys.argv[1]))", str(out)],
        cwd=src, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "license" not in proc.stderr.lower(), proc.stderr[-2000:]
    metadata = next(out.glob("*.dist-info")).joinpath("METADATA").read_text()
    assert "License-File: LICENSE" in metadata
