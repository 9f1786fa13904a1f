"""Report building: tables, altair charts, the self-contained HTML page.

Reports read results (metrics and VLA evaluation JSON dicts, generation costs, ablation
curves), never models or environments; the core never imports this package (the CLI
finds ``build_report`` through the ``diffrl_eval.reports`` entry point
``html = "reports.page:build_report"``).
"""

from reports.page import build_report, render_page
from reports.sources import read_result

__all__ = ["build_report", "read_result", "render_page"]
