"""Model version names cannot leave the registry (issue 12: an admin could activate `../../../…`)."""
from __future__ import annotations

import json

import pytest

from app.registry import (DEFAULT_VERSION, InvalidModelVersionName, ModelVersionNotFound, Registry,
                          validate_version_name)

BAD_NAMES = ["../../x", "..", ".", ".hidden", "a/b", "a\\b", "/etc", "v1\n", "v1\x1b[2J", "", "v 1",
             "x" * 129, "../registry/v1", "v1/../../x"]


@pytest.fixture
def registry(tmp_path):
    registry = Registry(root=tmp_path / "registry", default_dir=tmp_path / "default")
    for folder in (tmp_path / "default", tmp_path / "registry" / "v20260101-000000-good"):
        folder.mkdir(parents=True)
        (folder / "card.json").write_text(json.dumps({"version": folder.name}))
    # A real version outside the registry that a traversal would reach.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "card.json").write_text("{}")
    return registry


@pytest.mark.parametrize("name", BAD_NAMES)
def test_unsafe_names_are_refused_by_get_and_activate(registry, name):
    with pytest.raises(InvalidModelVersionName) as err:
        registry.get(name)
    assert "\n" not in str(err.value)
    with pytest.raises(ModelVersionNotFound):  # callers already catching this keep working
        registry.activate(name)
    assert registry.active_name() == DEFAULT_VERSION


def test_traversal_to_a_real_version_outside_the_registry_is_refused(registry):
    with pytest.raises(InvalidModelVersionName):
        registry.activate("../outside")
    assert not (registry.root / "ACTIVE").exists()


def test_a_tampered_active_file_is_refused(registry):
    registry.root.mkdir(parents=True, exist_ok=True)
    (registry.root / "ACTIVE").write_text("../outside\n")
    with pytest.raises(InvalidModelVersionName):
        registry.active()


def test_good_names_still_work(registry):
    for name in ("default", "v20260101-000000-good", "v1.2_rc-3"):
        assert validate_version_name(name) == name
    assert registry.activate("v20260101-000000-good").name == "v20260101-000000-good"
    assert registry.active().name == "v20260101-000000-good"
    version = registry.new_version("A very long tag " * 20)
    assert validate_version_name(version.name) == version.name


def test_folders_with_unsafe_names_are_not_listed(registry):
    hidden = registry.root / ".hidden"
    hidden.mkdir()
    (hidden / "card.json").write_text("{}")
    assert [v.name for v in registry.list()] == ["default", "v20260101-000000-good"]
