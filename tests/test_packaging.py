"""The Python versions Earshot says it supports: pip refuses an install outside `requires-python`, so an upper
bound there turns away the Python a fresh machine brings (Debian 13 and current macOS: 3.13, soon 3.14)."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
SUPPORTED = ["3.11", "3.12", "3.13", "3.14"]
"""The oldest Python supported up to the newest a fresh machine brings today."""


def test_pip_installs_on_every_supported_python_and_the_running_one() -> None:
    allowed = SpecifierSet(PROJECT["requires-python"])
    assert [v for v in SUPPORTED if f"{v}.0" not in allowed] == []
    assert "3.10.13" not in allowed  # the floor is real: 3.10 lacks datetime.UTC and asyncio.timeout
    assert "{}.{}.{}".format(*sys.version_info[:3]) in allowed


def test_the_classifiers_and_the_readme_name_the_same_versions() -> None:
    prefix = "Programming Language :: Python :: "
    listed = [c.removeprefix(prefix) for c in PROJECT["classifiers"] if c.startswith(prefix + "3.")]
    assert listed == SUPPORTED
    quick_start = (ROOT / "README.md").read_text(encoding="utf-8").split("## Quick start", 1)[1].split("```", 1)[0]
    assert f"Python {SUPPORTED[0]} or newer" in quick_start
