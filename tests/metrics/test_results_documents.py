"""The results vocabulary: one kind and version per document, dataclasses that write the
JSON exactly as before, one validator that the report and ``check`` share."""

from __future__ import annotations

import copy
import json

import pytest

from diffrl_eval.dataset import load_dataset
from diffrl_eval.documents import (
    CHECK,
    METRICS,
    InvalidDocument,
    MetricsResult,
    VlaSeedsResult,
)
from diffrl_eval.errors import UserError
from diffrl_eval.metrics import compute_metrics
from diffrl_eval.metrics.check import Finding, Status, validate_metrics_result
from diffrl_eval.metrics.check_outcome import CheckOutcome
from reports.sources import validate_result


@pytest.fixture
def metrics(toy_dataset):
    return compute_metrics(load_dataset(toy_dataset))


def test_a_metrics_result_survives_from_json_and_to_json_byte_for_byte(metrics):
    metrics = {**metrics, "quality": {"non_finite_rows": 0}}  # a block beyond the named fields
    again = MetricsResult.from_json(json.loads(json.dumps(metrics)), where="#1").to_json()
    assert json.dumps(again) == json.dumps(metrics)
    assert list(again)[:2] == ["kind", "schema_version"]
    assert (again["kind"], again["schema_version"]) == (METRICS.name, METRICS.version)


def test_the_report_and_check_refuse_the_same_broken_summaries(metrics):
    for broken_key in ("no_op_fraction", "action_variance"):
        broken = copy.deepcopy(metrics)
        del next(iter(broken["per_suite"].values()))[broken_key]
        with pytest.raises(InvalidDocument, match=f"per_suite.*{broken_key}"):
            validate_result(broken, where="#1")
        with pytest.raises(UserError, match=f"per_suite.*{broken_key}"):
            validate_metrics_result(broken, where="baseline 'b.json'")


def test_a_check_outcome_is_written_with_its_kind_and_no_version():
    finding = Finding("overall", "success_rate", 0.5, 0.4, Status.REGRESSION, "-20.0%")
    written = CheckOutcome([finding], ["1 row(s) with NaN or inf"]).to_json("ds")
    assert list(written) == ["kind", "dataset", "passed", "fail_on", "errors", "warnings",
                             "findings"]
    assert written["kind"] == CHECK.name and written["passed"] is False
    assert written["findings"][0]["status"] == "regression"


def test_a_document_of_another_kind_is_refused_by_name():
    with pytest.raises(InvalidDocument, match="has kind 'diffrl-eval/metrics'; expected "
                                              "'diffrl-eval/vla-eval-seeds'"):
        VlaSeedsResult.from_json({"kind": METRICS.name, "schema_version": 1}, where="#2")
