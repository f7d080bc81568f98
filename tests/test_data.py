"""Dataset registry, derived splits, verification and loader errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from reprolib import data


def test_registry_has_every_staged_set_and_the_papers_splits(data_root):
    manifest = json.loads((data_root / "MANIFEST.json").read_text())
    for entry in manifest["datasets"]:
        assert entry["name"] in data.available()
    for derived in ("BSD300", "BSD200", "291", "BSD400", "Urban100-gray"):
        assert derived in data.available()


@pytest.mark.parametrize(
    "name,count", [("BSD300", 300), ("BSD200", 200), ("291", 291), ("BSD400", 400)]
)
def test_derived_split_sizes(data_root, name, count):
    assert len(data.files(name)) == count


def test_load_set5_rgb_and_set12_gray(data_root):
    set5 = data.load("Set5")
    assert [im.name for im in set5] == ["baby_GT", "bird_GT", "butterfly_GT", "head_GT", "woman_GT"]
    assert set5[0].pixels.shape == (512, 512, 3) and set5[0].pixels.dtype == np.uint8
    set12 = data.load("Set12", limit=2)
    assert len(set12) == 2 and set12[0].pixels.ndim == 2


def test_urban100_gray_is_single_channel(data_root):
    (im,) = data.load("Urban100-gray", limit=1, check=False)
    assert im.pixels.ndim == 2 and im.key == "Urban100/img_001_SRF_4_HR"


def test_verify_checks_pixel_hashes(data_root):
    assert data.verify("Set5") == 5


def test_unknown_set_lists_known_sets(data_root):
    with pytest.raises(data.DatasetError, match="unknown set 'Set6'.*Set5"):
        data.load("Set6")


def test_bad_limit(data_root):
    with pytest.raises(ValueError, match="limit"):
        data.load("Set5", limit=0)


@pytest.fixture
def fake_root(data_root, tmp_path, monkeypatch):
    """A data root holding the real manifest and a copy of Set5 only."""
    shutil.copy(data_root / "MANIFEST.json", tmp_path / "MANIFEST.json")
    shutil.copytree(data_root / "Set5", tmp_path / "Set5")
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    return tmp_path


def test_env_var_root_is_searched_first(fake_root):
    assert data.data_root() == fake_root
    assert len(data.load("Set5")) == 5


def test_missing_set_names_set_path_and_source(fake_root):
    with pytest.raises(data.DatasetError) as err:
        data.load("Set14")
    msg = str(err.value)
    assert "Set14" in msg and str(fake_root) in msg and "cszn/DnCNN" in msg


def test_corrupt_file_is_detected_and_nothing_is_returned(fake_root):
    victim = fake_root / "Set5" / "bird_GT.png"
    victim.write_bytes(victim.read_bytes()[:-10])
    with pytest.raises(data.DatasetError, match="corrupt.*bird_GT"):
        data.load("Set5")
    with pytest.raises(data.DatasetError):
        data.verify("Set5")


def test_no_root_anywhere(monkeypatch, tmp_path):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setattr(data, "REPO_ROOT", tmp_path / "repo")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(data.DatasetError, match="no dataset root found"):
        data.data_root()
