"""Data sources behind the generator interface (:mod:`diffrl_eval.generator`)."""
