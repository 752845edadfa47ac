"""Documentation that cannot drift: every setting and CLI command is in the README."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from photomapd.cli import build_parser
from photomapd.config import ENVIRONMENT_OVERRIDES, ModelConfig

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_model_setting_is_documented():
    for field in dataclasses.fields(ModelConfig):
        assert f"`model.{field.name}`" in README, field.name


def test_every_environment_variable_is_documented():
    for variable in ENVIRONMENT_OVERRIDES:
        assert variable in README, variable
    assert "PHOTOMAPD_DATA_DIR" in README and "INVOKEAI_ROOT" in README


def test_every_cli_command_is_documented():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name in commands:
        assert f"photomapd {name}" in README, name


def test_readme_first_screen_has_install_and_test_commands():
    first_screen = "\n".join(README.splitlines()[:40])
    assert "installer/install.sh" in first_screen
    assert "./scripts/test.sh" in first_screen


def test_every_module_is_in_the_architecture_map():
    """docs/architecture.md says where each job lives; a new module must say so too."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = sorted((REPO / "photomapd").rglob("*.py"))
    missing = [m.relative_to(REPO).as_posix() for m in modules]
    missing = [name for name in missing if f"`{name}`" not in text]
    assert not missing, f"add these modules to docs/architecture.md: {missing}"
