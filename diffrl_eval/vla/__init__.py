"""Vision-language-action models as the core sees them: one contract, generic runners.

* :mod:`diffrl_eval.vla.interface` - the :class:`~diffrl_eval.vla.interface.VLA` contract
  (fit, predict, save/load, the observation it needs); implementations are plug-ins in the
  ``diffrl_eval.vlas`` entry-point group (the built-in one is ``vla.tiny_vla``).
* :mod:`diffrl_eval.vla.hparams` - the hparams file and its hash.
* :mod:`diffrl_eval.vla.training` - :func:`~diffrl_eval.vla.training.train_vla` (one seed)
  and :func:`~diffrl_eval.vla.training.train_vla_seeds` (one checkpoint per seed).
* :mod:`diffrl_eval.vla.checkpoint` - checkpoint directories and ``checkpoint.json``.
* :mod:`diffrl_eval.vla.evaluation` - :func:`~diffrl_eval.vla.evaluation.evaluate_checkpoint`
  on fixed initial states.
* :mod:`diffrl_eval.vla.aggregate` - success with Wilson intervals, multi-seed aggregates.
"""
