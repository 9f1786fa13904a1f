"""tiny-vla, the built-in VLA plug-in: a compact model that trains on a CPU.

* :mod:`vla.tiny_vla.model` - :class:`TinyVLA`, registered as ``tiny-vla`` in the
  ``diffrl_eval.vlas`` entry-point group.
* :mod:`vla.tiny_vla.hparams` - its settings and presets (quick, full).
* :mod:`vla.tiny_vla.observation`, :mod:`vla.tiny_vla.samples` - what it reads from
  an observation, and datasets cut into its training samples.
* :mod:`vla.tiny_vla.language`, :mod:`vla.tiny_vla.vision`, :mod:`vla.tiny_vla.trunk`,
  :mod:`vla.tiny_vla.heads` - the network's parts.
"""

from vla.tiny_vla.model import TinyVLA

__all__ = ["TinyVLA"]
