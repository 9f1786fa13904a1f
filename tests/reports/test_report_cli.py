"""`diffrl-eval report`: metrics and VLA evaluation files, told apart by their kind."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli
from report_fixtures import paper_vla_results, three_sources

from reports.page import IN_DISTRIBUTION_TABLE_ID, OOD_TABLE_ID, PER_SOURCE_TABLE_ID


def _write(directory, name, value):
    path = directory / name
    path.write_text(json.dumps(value))
    return path


def test_report_takes_metrics_and_vla_evaluation_files_together(tmp_path, capsys):
    metrics = [_write(tmp_path, f"m{i}.json", r) for i, r in enumerate(three_sources())]
    vla = [_write(tmp_path, f"v{i}.json", r) for i, r in enumerate(paper_vla_results())]
    out = tmp_path / "report.html"
    code, stdout, err = run_cli(["report", *vla[:2], *metrics, *vla[2:], "--out", out], capsys)
    assert code == 0, err
    page = out.read_text(encoding="utf-8")
    for element_id in (IN_DISTRIBUTION_TABLE_ID, OOD_TABLE_ID, PER_SOURCE_TABLE_ID):
        assert f'id="{element_id}"' in page


def test_report_of_vla_evaluations_alone(tmp_path, capsys):
    vla = [_write(tmp_path, f"v{i}.json", r) for i, r in enumerate(paper_vla_results())]
    out = tmp_path / "report.html"
    code, _, err = run_cli(["report", *vla, "--out", out], capsys)
    assert code == 0, err
    page = out.read_text(encoding="utf-8")
    assert f'id="{OOD_TABLE_ID}"' in page and f'id="{PER_SOURCE_TABLE_ID}"' not in page


def test_report_names_the_file_of_an_unknown_kind(tmp_path, capsys):
    other = _write(tmp_path, "other.json", {"kind": "diffrl-eval/something", "schema_version": 1})
    code, _, err = run_cli(["report", other, "--out", tmp_path / "r.html"], capsys)
    assert code == 2
    line = err.strip()
    assert "\n" not in line and "other.json" in line and "'diffrl-eval/something'" in line
    assert "diffrl-eval/vla-eval" in line
    assert not (tmp_path / "r.html").exists()


def test_vla_evaluations_with_different_hparams_are_refused_by_the_report(tmp_path, capsys):
    results = paper_vla_results()
    results[0]["runs"][0]["hparams_hash"] = results[0]["hparams_hash"] = "sha256:other"
    for run in results[0]["runs"]:
        run["hparams_hash"] = "sha256:other"
    vla = [_write(tmp_path, f"v{i}.json", r) for i, r in enumerate(results)]
    code, _, err = run_cli(["report", *vla, "--out", tmp_path / "r.html"], capsys)
    assert code == 2 and "different hyper-parameters" in err
    assert not (tmp_path / "r.html").exists()


def test_two_reports_of_the_same_results_are_byte_identical_with_source_date_epoch(
        tmp_path, capsys, monkeypatch):
    metrics = [_write(tmp_path, f"m{i}.json", r) for i, r in enumerate(three_sources())]
    vla = [_write(tmp_path, f"v{i}.json", r) for i, r in enumerate(paper_vla_results())]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    pages = []
    for name in ("a.html", "b.html"):
        code, _, err = run_cli(["report", *metrics, *vla, "--out", tmp_path / name], capsys)
        assert code == 0, err
        pages.append((tmp_path / name).read_bytes())
    assert pages[0] == pages[1]
    assert b"2026-01-01T00:00:00+00:00" in pages[0]


@pytest.mark.parametrize("epoch", ["soon", "1.5e9", "99999999999999999999"])
def test_a_malformed_source_date_epoch_is_one_line_and_writes_nothing(
        tmp_path, capsys, monkeypatch, epoch):
    metrics = [_write(tmp_path, f"m{i}.json", r) for i, r in enumerate(three_sources())]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    code, _, err = run_cli(["report", *metrics, "--out", tmp_path / "r.html"], capsys)
    assert code == 2 and err.count("\n") == 1 and "SOURCE_DATE_EPOCH" in err
    assert not (tmp_path / "r.html").exists()
