"""What `check` concludes, as data: findings, warnings, the exit status and its JSON form.

Errors are regressions (see :mod:`diffrl_eval.metrics.check`). Warnings are metrics that
got worse within their tolerance, and the data-quality problems of the metrics' ``quality``
block (rows with NaN or inf, non-increasing timestamps, dropped frames, constant action
dims, near-duplicate episodes). ``--fail-on error`` (the default) fails on errors only,
``--fail-on warn`` on warnings too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from diffrl_eval.documents import CheckResult
from diffrl_eval.errors import unknown_choice
from diffrl_eval.metrics.check import Finding, Status

FAIL_ON = ("error", "warn")
EXIT_PASSED = 0
EXIT_FAILED = 1


def quality_warnings(result: Mapping[str, Any]) -> list[str]:
    """The data-quality problems a metrics result records, one sentence each."""
    quality = result.get("quality") or {}
    warnings = []
    if quality.get("non_finite_rows"):
        warnings.append(f"{quality['non_finite_rows']} row(s) with NaN or inf")
    stamps = quality.get("timestamps") or {}
    if stamps.get("non_increasing"):
        warnings.append(f"{stamps['non_increasing']} non-increasing timestamp(s)")
    if stamps.get("dropped_frames"):
        warnings.append(f"{stamps['dropped_frames']} dropped-frame gap(s) ({stamps.get('rule')})")
    if quality.get("zero_variance_dims"):
        warnings.append(f"constant action dim(s) {quality['zero_variance_dims']}")
    pairs = (quality.get("near_duplicates") or {}).get("pairs") or []
    if pairs:
        warnings.append(f"{len(pairs)} near-duplicate episode pair(s)")
    return warnings


@dataclass(frozen=True)
class CheckOutcome:
    findings: Sequence[Finding]
    warnings: Sequence[str]
    fail_on: str = "error"

    def __post_init__(self) -> None:
        if self.fail_on not in FAIL_ON:
            raise unknown_choice("--fail-on level", self.fail_on, FAIL_ON)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.status is Status.REGRESSION]

    @property
    def all_warnings(self) -> list[str]:
        worse = [f"{f.scope} {f.metric}: {f.detail}" for f in self.findings
                 if f.status is Status.WORSE_WITHIN_TOLERANCE]
        return worse + list(self.warnings)

    @property
    def failed(self) -> bool:
        return bool(self.errors) or (self.fail_on == "warn" and bool(self.all_warnings))

    @property
    def exit_code(self) -> int:
        return EXIT_FAILED if self.failed else EXIT_PASSED

    def result(self, dataset: str) -> CheckResult:
        """The ``diffrl-eval/check`` document of this outcome for ``dataset``."""
        return CheckResult(
            dataset=dataset,
            passed=not self.failed,
            fail_on=self.fail_on,
            errors=len(self.errors),
            warnings=self.all_warnings,
            findings=[{"scope": f.scope, "metric": f.metric, "reference": f.reference,
                       "value": f.value, "status": f.status.value, "detail": f.detail}
                      for f in self.findings],
        )

    def to_json(self, dataset: str) -> dict[str, Any]:
        return self.result(dataset).to_json()
