"""The built-in VLA plug-ins: :mod:`vla.tiny_vla`.

The VLA contract, training loop, evaluation runner, checkpoint format and results live in
the core (:mod:`diffrl_eval.vla`); this package only holds models that implement it, each
registered through the ``diffrl_eval.vlas`` entry-point group.
"""
