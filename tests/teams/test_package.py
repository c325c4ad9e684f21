"""The Teams app package: manifest with the bot's id and commands, two icons of the right sizes, zipped flat."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from adapters.teams.package import PackageError, build_package

APP_ID = "2d4b1c3a-9f5e-4f7a-8c1e-6a2b3c4d5e6f"


def test_the_package_holds_a_filled_in_manifest_and_both_icons(tmp_path: Path) -> None:
    path = build_package(APP_ID, tmp_path, version="1.2.3")
    assert path == tmp_path / "earshot-teams.zip"
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        color = Image.open(io.BytesIO(archive.read("color.png")))
        outline = Image.open(io.BytesIO(archive.read("outline.png")))
    assert manifest["id"] == APP_ID and manifest["version"] == "1.2.3"
    assert "{{" not in json.dumps(manifest)
    (bot,) = manifest["bots"]
    assert bot["botId"] == APP_ID and sorted(bot["scopes"]) == ["groupChat", "personal", "team"]
    assert bot["supportsFiles"]  # else Teams shows no file-consent card (pulse exports)
    commands = [c["title"] for c in bot["commandLists"][0]["commands"]]
    assert commands == ["pulse", "station", "digest", "earshot"]
    assert all(c["description"] for c in bot["commandLists"][0]["commands"])
    assert color.size == (192, 192) and outline.size == (32, 32)
    alpha = outline.convert("RGBA").getchannel("A").getextrema()
    assert alpha == (0, 255)  # the outline icon is white on transparent, as Teams requires


@pytest.mark.parametrize("app_id", ["", "not-a-guid"])
def test_a_package_needs_the_real_app_id(tmp_path: Path, app_id: str) -> None:
    with pytest.raises(PackageError, match="MicrosoftAppId"):
        build_package(app_id, tmp_path / "x.zip")
