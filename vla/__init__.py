"""Vision-language-action models: fine-tuning on datasets and evaluation on suites.

* :mod:`vla.interface` - the :class:`~vla.interface.VLA` contract (fit, predict, save/load),
  registered through the ``diffrl_eval.vlas`` entry point.
* :mod:`vla.tiny_vla` - the built-in ``tiny-vla``.
* :mod:`vla.hparams` - presets, the hparams file and its hash.
* :mod:`vla.training` - :func:`~vla.training.train_vla` (one seed) and
  :func:`~vla.training.train_vla_seeds` (one checkpoint per seed).
* :mod:`vla.evaluation` - :func:`~vla.evaluation.evaluate_checkpoint` on fixed initial
  states, :func:`~vla.evaluation.aggregate_seeds`.
"""
