"""``python -m diffrl_eval`` is the same as the ``diffrl-eval`` command."""

from diffrl_eval.cli import main

main()
