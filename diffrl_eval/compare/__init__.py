"""`compare`: generate, measure, train, evaluate and report for several data sources."""

from diffrl_eval.compare.pipeline import CompareRun, execute, plan_compare
from diffrl_eval.compare.presets import PRESET_NAMES, Preset, get_preset

__all__ = ["PRESET_NAMES", "CompareRun", "Preset", "execute", "get_preset", "plan_compare"]
