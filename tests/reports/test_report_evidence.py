"""The report as the paper's evidence for a run: Tables I and II, Figs. 6a, 6b, 7, no-ops,
generation cost, ablation and run metadata, from hand-made results that follow the schemas.
"""

from __future__ import annotations

import copy
import re

import pytest
from report_fixtures import (
    HPARAMS_HASH,
    PRESET_NOTE,
    ablation,
    generation_cost,
    metrics_result,
    paper_run,
    paper_vla_results,
    three_sources,
    vla_eval_result,
    vla_seed_aggregate,
    wilson,
)
from test_report import MALICIOUS, _markup, _scripts, _spec_blocks

from diffrl_eval.constants import SIMULATED_TELEOP_LABEL
from diffrl_eval.errors import UserError
from reports import build_report, render_page
from reports.ablation import ablation_chart
from reports.charts import figures
from reports.generation_cost import generation_cost_table
from reports.page import (
    DATASETS_TABLE_ID,
    GENERATION_COST_TABLE_ID,
    IN_DISTRIBUTION_TABLE_ID,
    NO_OP_TABLE_ID,
    OOD_TABLE_ID,
    PER_SOURCE_TABLE_ID,
    PER_TASK_TABLE_ID,
    PRESET_NOTE_ID,
    RUN_METADATA_ID,
    VLA_RUNS_TABLE_ID,
)
from reports.sources import name_sources
from reports.tables import MISSING, format_duration, format_success, no_op_table
from reports.vla_results import evaluation_runs, vla_rows
from reports.vla_tables import format_seed_summary, in_distribution_table, ood_table

EVERY_TABLE_ID = (
    RUN_METADATA_ID,
    IN_DISTRIBUTION_TABLE_ID,
    OOD_TABLE_ID,
    VLA_RUNS_TABLE_ID,
    GENERATION_COST_TABLE_ID,
    DATASETS_TABLE_ID,
    PER_SOURCE_TABLE_ID,
    NO_OP_TABLE_ID,
    PER_TASK_TABLE_ID,
)
EVERY_FIGURE_ID = (
    "figure-vla-in-distribution",  # Table I as a figure
    "figure-vla-ood",  # Table II as a figure
    "figure-success-rate",
    "figure-trajectory-length-suite",  # Fig. 6a per suite
    "figure-trajectory-length",  # Fig. 6a per task
    "figure-mean-squared-jerk",  # Fig. 6b
    "figure-log-dimensionless-jerk",  # Fig. 6b
    "figure-action-variance",  # Fig. 7
    "figure-ablation",
)


def _ids(page: str) -> list[str]:
    return re.findall(r'\sid="([^"]+)"', _markup(page))


def _table(page: str, element_id: str) -> str:
    match = re.search(rf'<table id="{element_id}"[^>]*>.*?</table>', page, flags=re.DOTALL)
    assert match, f"no table {element_id}"
    return match.group(0)


def _rows(table_html: str) -> list[list[str]]:
    """Cell texts (tags stripped) of each body row."""
    body = table_html.split("<tbody>", 1)[1]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body)
    ]


@pytest.fixture(scope="module")
def page() -> str:
    return render_page(three_sources(), metadata={"command": "diffrl-eval compare"}, **paper_run())


# --- every table and figure ----------------------------------------------------------------------


def test_the_page_has_every_table_and_figure_by_stable_id(page):
    ids = _ids(page)
    for element_id in (*EVERY_TABLE_ID, *EVERY_FIGURE_ID, PRESET_NOTE_ID):
        assert ids.count(element_id) == 1, element_id


def test_every_figure_has_a_spec_and_the_status_expects_them_all(page):
    specs = _spec_blocks(page)
    assert {f"spec-{fid.removeprefix('figure-')}" for fid in EVERY_FIGURE_ID} == set(specs)
    assert f'data-expected="{len(EVERY_FIGURE_ID)}"' in page


def test_tables_and_figures_carry_the_papers_numbering(page):
    for heading in ("Table I — ", "Table II — ", "Fig. 6a — Trajectory length per suite",
                    "Fig. 6a — Trajectory length per task", "Fig. 6b — Mean squared jerk",
                    "Fig. 6b — Log dimensionless jerk", "Fig. 7 — Action variance"):
        assert heading in page


def test_without_vla_results_there_are_no_vla_sections():
    page = render_page(three_sources())
    ids = _ids(page)
    assert IN_DISTRIBUTION_TABLE_ID not in ids and "figure-vla-ood" not in ids
    assert NO_OP_TABLE_ID in ids


def test_a_report_of_vla_results_alone_has_tables_one_and_two():
    page = render_page([], vla_results=paper_vla_results())
    ids = _ids(page)
    assert {IN_DISTRIBUTION_TABLE_ID, OOD_TABLE_ID, VLA_RUNS_TABLE_ID} <= set(ids)
    assert DATASETS_TABLE_ID not in ids
    assert "figure-vla-in-distribution" in ids


def test_a_protocol_without_runs_says_so():
    only_ood = [r for r in paper_vla_results() if r["protocol"] == "ood-zero-shot"]
    page = render_page(three_sources(), vla_results=only_ood)
    assert "No in-distribution evaluation is part of this report." in page
    assert OOD_TABLE_ID in _ids(page)


# --- Table I ---------------------------------------------------------------------------------------

SPATIAL = {"spatial": ["s0", "s1"]}


def _seeded(successes: list[tuple[int, int]], sources=("human",), **kwargs) -> list[dict]:
    return [
        vla_eval_result(list(sources), seed=seed, suites=SPATIAL,
                        successes_per_task={"s0": a, "s1": b}, **kwargs)
        for seed, (a, b) in enumerate(successes)
    ]


def test_a_multi_seed_cell_is_mean_and_std_over_seeds_with_the_pooled_wilson_interval():
    # Seeds succeed 6/20, 8/20, 7/20: rates 0.30, 0.40, 0.35; mean 0.35; population std
    # sqrt((0.05² + 0.05² + 0) / 3) = 0.0408; pooled 21/60, Wilson 95% [0.2417, 0.4764].
    runs = _seeded([(3, 3), (4, 4), (3, 4)])
    (row,) = vla_rows(evaluation_runs(runs), "in-distribution")
    cell = row.per_suite["spatial"]
    assert cell.seeds == (0, 1, 2) and cell.rates == (0.3, 0.4, 0.35)
    assert (cell.successes, cell.episodes) == (21, 60)
    assert cell.mean == pytest.approx(0.35) and cell.std == pytest.approx(0.0408248, abs=1e-6)
    assert (cell.ci_low, cell.ci_high) == pytest.approx(wilson(21, 60))
    assert format_seed_summary(cell) == "35.0 ± 4.1% (3 seeds); pooled 21/60, 95% CI 24.2–47.6%"


def test_a_single_seed_cell_is_the_rate_with_its_wilson_interval():
    (row,) = vla_rows(evaluation_runs(_seeded([(3, 4)])), "in-distribution")
    assert format_seed_summary(row.per_suite["spatial"]) == format_success(
        {"successes": 7, "episodes": 20, "rate": 0.35, "ci_low": wilson(7, 20)[0],
         "ci_high": wilson(7, 20)[1], "confidence": 0.95}
    )
    assert format_seed_summary(None) == MISSING


def test_an_aggregate_and_its_runs_given_again_count_each_run_once():
    runs = _seeded([(3, 3), (4, 4)])
    (row,) = vla_rows(evaluation_runs([vla_seed_aggregate(runs), *runs]), "in-distribution")
    assert len(row.runs) == 2 and row.per_suite["spatial"].episodes == 40


def test_table_one_has_a_row_per_source_a_column_per_suite_and_the_pooled_overall(page):
    rows = _rows(_table(page, IN_DISTRIBUTION_TABLE_ID))
    assert [row[0].replace(SIMULATED_TELEOP_LABEL, "").strip() for row in rows] == [
        "human", "gaussian-ppo", "diffusion-ppo"
    ]
    header = re.findall(r"<th>(.*?)</th>", _table(page, IN_DISTRIBUTION_TABLE_ID))
    assert header == ["training data", "spatial", "object", "goal", "all suites (pooled)",
                      "training seeds"]
    assert all("(3 seeds); pooled" in cell for row in rows for cell in row[1:5])
    assert [row[5] for row in rows] == ["0, 1, 2 (3 seeds)"] * 3


def test_table_one_overall_pools_every_suite_per_seed():
    # Seed 0: 5/20 on spatial and 9/10 on goal -> 14/30; seed 1: 7/20 and 6/10 -> 13/30.
    suites = {"spatial": ["s0", "s1"], "goal": ["g0"]}
    runs = [
        vla_eval_result(["human"], seed=0, suites=suites,
                        successes_per_task={"s0": 2, "s1": 3, "g0": 9}),
        vla_eval_result(["human"], seed=1, suites=suites,
                        successes_per_task={"s0": 4, "s1": 3, "g0": 6}),
    ]
    (row,) = vla_rows(evaluation_runs(runs), "in-distribution")
    assert row.overall.rates == (14 / 30, 13 / 30)
    assert (row.overall.successes, row.overall.episodes) == (27, 60)


def test_in_distribution_runs_per_suite_fill_one_row():
    # One checkpoint per suite (trained and evaluated on that suite) is the paper's layout.
    runs = [
        vla_eval_result(["human"], seed=0, suites={suite: [f"{suite}_0"]}, train_suites=[suite],
                        successes_per_task={f"{suite}_0": wins})
        for suite, wins in (("spatial", 7), ("goal", 4))
    ]
    table = in_distribution_table(vla_rows(evaluation_runs(runs), "in-distribution"))
    assert table.columns[1:3] == ("spatial", "goal")
    (row,) = table.rows
    assert row[1].text.startswith("70.0% (7/10)") and row[2].text.startswith("40.0% (4/10)")
    assert row[3].text.startswith("55.0% (11/20)")


# --- Table II --------------------------------------------------------------------------------------


def test_table_two_has_the_human_plus_rl_mix_row_last_with_its_training_suites(page):
    rows = _rows(_table(page, OOD_TABLE_ID))
    labels = [row[0].replace(SIMULATED_TELEOP_LABEL, "").strip() for row in rows]
    assert labels == ["human", "diffusion-ppo", "Human+RL mix: diffusion-ppo + human"]
    assert [row[1] for row in rows] == ["tabletop-90"] * 3
    header = re.findall(r"<th>(.*?)</th>", _table(page, OOD_TABLE_ID))
    assert header[2:5] == ["long", "goal", "object"]


def test_table_two_cells_match_the_results():
    results = paper_vla_results()
    mix = results[-1]
    assert mix["training"]["sources"] == ["diffusion-ppo", "human"]
    table = ood_table(vla_rows(evaluation_runs(results), "ood-zero-shot"))
    assert table.rows[-1][2].text == format_success(mix["per_suite"]["long"])
    assert table.rows[-1][5].text == format_success(mix["overall"])


def test_rows_trained_on_simulated_human_data_carry_the_badge(page):
    rows = _rows(_table(page, OOD_TABLE_ID))
    assert [SIMULATED_TELEOP_LABEL in row[0] for row in rows] == [True, False, True]


# --- one hyper-parameter set per table ----------------------------------------------------------------


def test_vla_results_with_different_hparams_in_one_table_are_refused():
    runs = _seeded([(3, 3)]) + _seeded([(4, 4)], sources=("diffusion-ppo",),
                                       hparams_hash="sha256:other")
    with pytest.raises(UserError) as raised:
        render_page(three_sources(), vla_results=runs)
    message = str(raised.value)
    assert "\n" not in message and "Table I" in message
    assert HPARAMS_HASH in message and "'sha256:other'" in message


def test_an_aggregate_whose_runs_disagree_on_hparams_is_refused():
    aggregate = vla_seed_aggregate(_seeded([(3, 3), (4, 4)]))
    aggregate["runs"][1]["hparams_hash"] = "sha256:other"
    with pytest.raises(UserError, match=r"runs\[1\] has hparams_hash 'sha256:other'"):
        render_page([], vla_results=[aggregate])


def test_tables_one_and_two_may_each_have_their_own_hparams():
    in_distribution = _seeded([(3, 3)])
    ood = [vla_eval_result(["human"], protocol="ood-zero-shot", hparams_hash="sha256:ood")]
    page = render_page([], vla_results=[*in_distribution, *ood])
    assert "sha256:ood" in page


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("hparams_hash",), "'hparams_hash'"),
        (("training", "sources"), "'training.sources'"),
        (("per_suite", "spatial", "ci_low"), "'per_suite.spatial.ci_low'"),
        (("overall",), "'overall'"),
    ],
)
def test_a_vla_result_missing_a_key_is_named_in_one_line(path, expected):
    (broken,) = _seeded([(3, 3)])
    container = broken
    for key in path[:-1]:
        container = container[key]
    del container[path[-1]]
    with pytest.raises(UserError) as raised:
        render_page([], vla_results=[broken])
    assert str(raised.value) == f"VLA result #1 is missing key {expected}"


def test_a_vla_result_of_an_unknown_protocol_or_kind_is_refused():
    (run,) = _seeded([(3, 3)])
    with pytest.raises(UserError, match="protocol 'few-shot'"):
        render_page([], vla_results=[{**run, "protocol": "few-shot"}])
    with pytest.raises(UserError, match="kind 'diffrl-eval/metrics'"):
        render_page([], vla_results=[three_sources()[0]])


def test_a_report_with_neither_metrics_nor_vla_results_is_refused():
    with pytest.raises(UserError, match="at least one"):
        render_page([], vla_results=[])


# --- data quality: Fig. 6a per suite, no-ops, one colour per source -------------------------------------


def test_datasets_of_one_source_on_several_suites_are_one_series_with_the_suite_on_the_axis():
    results = [
        metrics_result("human", suite="spatial", seed=1),
        metrics_result("human", suite="goal", seed=2),
        metrics_result("diffusion-ppo", suite="spatial", seed=3),
    ]
    sources = name_sources(results)
    assert [s.name for s in sources] == ["human (spatial)", "human (goal)", "diffusion-ppo"]
    assert [s.series for s in sources] == ["human", "human", "diffusion-ppo"]
    by_suite = next(f for f in figures(sources) if f.name == "trajectory-length-suite")
    rows = {(r["source"], r["suite"]): r for r in by_suite.spec["datasets"]["rows"]}
    assert set(rows) == {("human", "spatial"), ("human", "goal"), ("diffusion-ppo", "spatial")}
    expected = results[1]["per_suite"]["goal"]["trajectory_length"]
    assert rows[("human", "goal")]["mean"] == expected["mean"]
    assert rows[("human", "goal")]["high"] == pytest.approx(expected["mean"] + expected["std"])


def test_the_no_op_table_counts_per_dataset():
    result = metrics_result("human", seed=4)
    (row,) = no_op_table(name_sources([result])).rows
    count = sum(e["no_op_count"] for e in result["episodes"])
    steps = sum(e["length"] for e in result["episodes"])
    assert row[4].text == f"{count:,}" and row[3].text == f"{steps:,}"
    assert row[5].text == f"{100 * count / steps:.2f}%"
    assert row[6].text == f"{count / len(result['episodes']):.2f}"


def test_a_source_has_the_same_colour_in_data_and_vla_figures(page):
    specs = _spec_blocks(page)
    quality = specs["spec-success-rate"]["layer"][0]["encoding"]["color"]["scale"]
    vla = specs["spec-vla-ood"]["layer"][0]["encoding"]["color"]["scale"]
    assert quality == vla
    assert quality["domain"][:3] == ["human", "gaussian-ppo", "diffusion-ppo"]
    assert "diffusion-ppo + human" in quality["domain"]
    # ...but each legend lists only what its figure draws.
    legend = specs["spec-success-rate"]["layer"][0]["encoding"]["color"]["legend"]
    assert legend["values"] == ["human", "gaussian-ppo", "diffusion-ppo"]


# --- generation cost, ablation, preset, metadata ------------------------------------------------------


def test_generation_cost_table_totals_generation_and_expert_training():
    table = generation_cost_table(generation_cost(), simulated={"human"})
    human, gaussian, _ = table.rows
    assert human[0].simulated_badge and not gaussian[0].simulated_badge
    assert [cell.text for cell in human[1:]] == [
        "36", "3,600", "41.5 s", MISSING, MISSING, "3,600", "41.5 s", "100"
    ]
    # 3,000 + 1,200,000 steps in 30 s + 5,400 s, over 36 episodes.
    assert [cell.text for cell in gaussian[4:]] == [
        "1,200,000", "1 h 30 min", "1,203,000", "1 h 30 min", "33,417"
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.04, "0.0 s"), (59.94, "59.9 s"), (61, "1 min 01 s"), (3599.4, "59 min 59 s"),
     (3660, "1 h 01 min"), (None, MISSING)],
)
def test_durations_read_in_the_largest_sensible_unit(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"episodes": 2.5}, "episodes must be a non-negative integer"),
        ({"wall_seconds": -1.0}, "wall_seconds must be a non-negative number"),
        ({"expert_env_steps": "many"}, "expert_env_steps must be a non-negative integer"),
    ],
)
def test_malformed_generation_cost_is_refused(change, fragment):
    cost = generation_cost()
    cost["human"].update(change)
    with pytest.raises(UserError, match=fragment):
        render_page(three_sources(), generation_cost=cost)
    del cost["human"]["episodes"]
    with pytest.raises(UserError, match="generation_cost\\['human'\\] is missing key 'episodes'"):
        generation_cost_table(cost)


def test_ablation_chart_has_one_point_per_variant_and_step():
    spec = ablation_chart(ablation())
    rows = spec["datasets"]["rows"]
    assert len(rows) == 3 * 5
    assert {r["variant"] for r in rows} == {"full method", "DDPM 100 steps", "constant learning rate"}
    assert spec["encoding"]["color"]["scale"]["scheme"] != "tableau10"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda a: a["curves"][0]["env_steps"].pop(), "lists of one length"),
        (lambda a: a["curves"][1].__setitem__("success_rate", [0, 0, 2, 0, 0]), "0 <= success_rate <= 1"),
        (lambda a: a["curves"][1].__setitem__("variant", "full method"), "appears twice"),
        (lambda a: a.pop("task"), "needs 'task'"),
    ],
)
def test_a_malformed_ablation_is_refused(change, fragment):
    broken = ablation()
    change(broken)
    with pytest.raises(UserError, match=fragment):
        render_page(three_sources(), ablation=broken)


def test_the_preset_note_is_shown_once_at_the_top(page):
    assert f'id="{PRESET_NOTE_ID}"' in page
    assert page.index(PRESET_NOTE) < page.index('id="table-run-metadata"')
    assert page.count(PRESET_NOTE) == 1


def test_run_metadata_names_versions_seeds_and_the_hparams_hash(page):
    metadata = dict(_rows(_table(page, RUN_METADATA_ID)))
    assert metadata["diffrl-eval version"]
    assert metadata["VLA hparams hash"] == HPARAMS_HASH
    assert metadata["VLA training seeds"] == "0, 1, 2 (3 seeds)"
    assert metadata["VLA evaluation seeds"] == "1000"
    assert "tool versions of the results" not in metadata  # the one version, shown once
    assert metadata["command"] == "diffrl-eval compare"


def test_the_runs_table_lists_every_evaluation_with_its_checkpoint(page):
    rows = _rows(_table(page, VLA_RUNS_TABLE_ID))
    assert len(rows) == 3 * 3 + 3
    checkpoints = {run["checkpoint_hash"] for run in evaluation_runs(paper_vla_results())}
    assert {row[8] for row in rows} == checkpoints


def test_build_report_writes_the_full_evidence(tmp_path):
    out = build_report(three_sources(), tmp_path / "r.html", **paper_run())
    ids = _ids(out.read_text(encoding="utf-8"))
    assert all(element_id in ids for element_id in (*EVERY_TABLE_ID, *EVERY_FIGURE_ID))


# --- hostile labels in the new inputs -----------------------------------------------------------------


def test_untrusted_strings_in_vla_results_cost_ablation_and_preset_are_escaped():
    vla = copy.deepcopy(paper_vla_results())
    ood_mix = vla[-1]
    ood_mix["training"]["sources"] = ["human", MALICIOUS]
    ood_mix["training"]["train_suites"] = [MALICIOUS]
    ood_mix["per_suite"][MALICIOUS] = ood_mix["per_suite"].pop("long")
    ood_mix["vla"] = MALICIOUS
    ood_mix["checkpoint_hash"] = '"><img src=x onerror=alert(1)>'
    cost = generation_cost()
    cost[MALICIOUS] = cost.pop("gaussian-ppo")
    hostile_ablation = ablation()
    hostile_ablation["task"] = MALICIOUS
    hostile_ablation["curves"][0]["variant"] = "</script><script>alert(3)</script>"
    page = render_page(
        three_sources(),
        vla_results=vla,
        generation_cost=cost,
        ablation=hostile_ablation,
        preset_note=f"{MALICIOUS} <!-- <script>",
    )
    assert "<script>alert" not in page and "alert(1)</script>" not in page
    assert "<img" not in _markup(page)
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 5
    specs = _spec_blocks(page)
    assert len(_scripts(page)) == 3 + len(specs)
    assert all("<" not in text for attrs, text in _scripts(page)
               if attrs.get("type") == "application/json")
    # The hostile names survive as data inside the specs.
    vla_rows_data = specs["spec-vla-ood"]["datasets"]["rows"]
    assert any(MALICIOUS in row["training data"] for row in vla_rows_data)
    variants = {row["variant"] for row in specs["spec-ablation"]["datasets"]["rows"]}
    assert "</script><script>alert(3)</script>" in variants


def test_aggregates_made_by_the_vla_package_fill_table_one():
    from diffrl_eval.vla.aggregate import aggregate_seeds

    aggregate = aggregate_seeds(_seeded([(3, 3), (4, 4), (3, 4)]))
    (row,) = vla_rows(evaluation_runs([aggregate]), "in-distribution")
    assert format_seed_summary(row.per_suite["spatial"]).startswith("35.0 ± 4.1% (3 seeds)")
