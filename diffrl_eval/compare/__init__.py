"""`compare`: generate, measure, train, evaluate and report for several data sources.

By role: :mod:`.presets` (what a run covers), :mod:`.plan` (its settings and ordered
stages), :mod:`.stages` (resumable stage storage), :mod:`.producers` (what each stage
produces), :mod:`.human_selection` (the human data taken from ``--demos-from``),
:mod:`.cost` (the estimate and the measured generation cost), :mod:`.orchestration`
(walking the plan), :mod:`.outputs` (results, report, ``run.json``), :mod:`.verdict` and
:mod:`.intervals` (the statistics of the answer).
"""

from diffrl_eval.compare.orchestration import execute
from diffrl_eval.compare.plan import CompareRun, build_plan, plan_compare
from diffrl_eval.compare.presets import PRESET_NAMES, Preset, get_preset

__all__ = ["PRESET_NAMES", "CompareRun", "Preset", "build_plan", "execute", "get_preset",
           "plan_compare"]
