"""The Teams app package (`earshot teams-package`): manifest.json with the bot's id filled in, plus two icons,
zipped flat as Teams expects for sideloading or the admin center."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

APP_DIR = Path(__file__).with_name("app")
FILES = ("manifest.json", "color.png", "outline.png")
PLACEHOLDER = "{{MicrosoftAppId}}"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class PackageError(ValueError):
    """Why the package can't be built, worded for the person running the command."""


def manifest(app_id: str, version: str | None = None) -> dict[str, object]:
    if not _GUID.match(app_id):
        raise PackageError("MicrosoftAppId must be the Azure Bot's app id (a GUID such as "
                           "2d4b1c3a-9f5e-4f7a-8c1e-6a2b3c4d5e6f); set it in the environment or .env")
    data = json.loads((APP_DIR / "manifest.json").read_text(encoding="utf-8").replace(PLACEHOLDER, app_id))
    if version is not None:
        data["version"] = version
    return data  # type: ignore[no-any-return]


def build_package(app_id: str, output: Path, version: str | None = None) -> Path:
    """Write the zip to `output` (a directory gets `earshot-teams.zip`) and return its path."""
    target = output / "earshot-teams.zip" if output.is_dir() else output
    data = manifest(app_id, version)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(data, indent=2, ensure_ascii=False))
        for name in FILES[1:]:
            archive.write(APP_DIR / name, arcname=name)
    return target
