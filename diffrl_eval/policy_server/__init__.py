"""Policies on other machines: openpi's websocket policy protocol, both sides.

* :mod:`~diffrl_eval.policy_server.codec` - msgpack messages with numpy arrays as openpi's
  tagged maps (never pickle).
* :mod:`~diffrl_eval.policy_server.keys` - which observation travels under which key
  (LeRobot/openpi names by default) and where the reply's action chunk is.
* :mod:`~diffrl_eval.policy_server.client` - connect, read the metadata, ask for chunks;
  every failure one line naming the server.
* :mod:`~diffrl_eval.policy_server.remote_policy` - a server seen through the VLA
  contract, so the evaluation runner runs it unchanged.
* :mod:`~diffrl_eval.policy_server.evaluation` - ``vla eval --policy-server``.
* :mod:`~diffrl_eval.policy_server.server` - ``diffrl-eval serve``: this tool's checkpoints
  over the same protocol.
"""
