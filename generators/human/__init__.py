"""The ``human`` data source on the tabletop backend: a simulated teleoperator.

:class:`HumanGenerator` drives each task's env with scripted skills (one per kind of
goal predicate, :mod:`.skills`) through an operator model (:mod:`.operator`) that adds
reaction pauses, speed variation, overshoot and correction and hand tremor, and picks one
of several strategies per demonstration. Reports label the data
``simulated teleoperation``.
"""

from generators.human.generator import HumanConfig, HumanGenerator

__all__ = ["HumanConfig", "HumanGenerator"]
