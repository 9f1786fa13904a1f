"""`vla eval --policy-server` and `serve`: a checkpoint served on 127.0.0.1 evaluates to
the same result as in this process; every way a server can fail is one line naming it,
with exit code 2 (bad input) or 3 (the server stopped answering), and nothing written.

The checkpoint is the tiny-vla of ``tests/test_vla_eval_executor.py`` (a diffusion head, so
the per-decision noise seeds matter). A served model computes one row per request, so the
in-process reference runs with ``--envs 1``: with several rows in a batch the last bits of
a prediction may change (see :mod:`vla.evaluation`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import msgpack
import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli

from diffrl_eval.errors import UserError
from diffrl_eval.policy_server.client import PolicyClient
from diffrl_eval.policy_server.codec import packb
from diffrl_eval.policy_server.server import NOISE_SEED_KEY, PolicyServer
from tests.vla.policy_server_fixtures import CHUNK, ScriptedServer, free_port, send_chunk
from tests.vla.test_vla_eval_executor import TASKS, ckpt  # noqa: F401 (a fixture)

ROOT = Path(__file__).resolve().parents[2]
# fields that say where and how fast the result was computed, not what it is
WHERE_AND_WHEN = ("checkpoint", "wall_seconds", "policy_server")
CHUNK_FRAME = packb({"actions": CHUNK})
server_stop = threading.Event()  # set when a test is done with its stalling server


def eval_args(*extra, tasks=TASKS, episodes=3) -> list:
    args = ["vla", "eval", "--suite", "tabletop-spatial", "--episodes-per-task", episodes,
            "--seed", "5"]
    for task in tasks:
        args += ["--task", task]
    return [*args, *extra]


@pytest.fixture(scope="module")
def served(ckpt):  # noqa: F811 (the imported fixture)
    with PolicyServer(ckpt, port=0) as server:
        yield server


def test_a_served_checkpoint_evaluates_to_the_in_process_result(ckpt, served, tmp_path,  # noqa: F811
                                                                 capsys):
    local, remote = tmp_path / "local.json", tmp_path / "remote.json"
    code, _, err = run_cli(eval_args("--ckpt", ckpt, "--envs", "1", "--json", local), capsys)
    assert code == 0, err
    code, stdout, err = run_cli(eval_args("--policy-server", served.uri, "--envs", "3",
                                          "--json", remote, "--record", "1"), capsys)
    assert code == 0, err
    expected, got = json.loads(local.read_text()), json.loads(remote.read_text())
    for task in TASKS:
        assert got["per_task"][task]["actions_sha256"] == expected["per_task"][task]["actions_sha256"]
        assert got["per_task"][task]["episode_successes"] == expected["per_task"][task]["episode_successes"]
        recording = got["per_task"][task].pop("recordings")
        assert [r["episode"] for r in recording] == [0]
        assert (tmp_path / recording[0]["path"]).stat().st_size > 0
    # everything else is the same too: provenance, intervals, protocol, steps
    assert {k: v for k, v in got.items() if k not in WHERE_AND_WHEN} == \
        {k: v for k, v in expected.items() if k not in WHERE_AND_WHEN}
    assert got["checkpoint"] == served.uri
    server = got["policy_server"]
    assert server["uri"] == served.uri and server["action_horizon"] == 4
    assert server["requests"] > 0 and server["metadata"]["vla"] == "tiny-vla"
    assert "wrote 2 rollout videos" in stdout


def test_the_metadata_declares_what_the_model_reads_and_returns(served, ckpt):  # noqa: F811
    with PolicyClient(served.uri) as client:
        meta = client.metadata
    info = json.loads((Path(ckpt) / "checkpoint.json").read_text())
    assert meta["vla"] == "tiny-vla" and meta["backend"] == "tabletop"
    assert meta["hparams_hash"] == info["hparams_hash"]
    assert meta["checkpoint_hash"] == info["content_hash"]
    # a state-only tiny-vla reads proprioception, the gripper position and object poses
    assert sorted(meta["observation_keys"]) == [
        "observation/eef_pos", "observation/object_poses", "observation/state"]
    assert meta["observation_shapes"]["observation/state"] == {"shape": [8], "dtype": "float32"}
    assert meta["observation_shapes"]["observation/object_poses"]["shape"] == [28]  # 4 objects
    assert (meta["action_dim"], meta["action_horizon"], meta["executed_steps"]) == (7, 4, 4)
    assert meta["prompt_key"] == "prompt" and meta["action_key"] == "actions"
    assert meta["noise_seed_key"] == NOISE_SEED_KEY


def test_the_same_request_gives_the_same_chunk_and_a_bad_one_an_error(served):
    from diffrl_eval.envs.base import get_backend

    env = get_backend("tabletop").make_env(TASKS[0])
    observation, _ = env.reset(seed=3)
    env.close()
    request = {f"observation/{k}": v for k, v in observation.items()}
    request.update({"prompt": "put it there", NOISE_SEED_KEY: 2**64 - 5})
    with PolicyClient(served.uri) as client:
        first, second = client.infer(request), client.infer(request)
        assert first["actions"].shape == (4, 7)
        np.testing.assert_array_equal(first["actions"], second["actions"])
        assert first["server_timing"]["infer_ms"] >= 0
        del request["observation/object_poses"]
        with pytest.raises(UserError, match="answered with an error instead of the reply to "
                                            "request 3: error: the request has no "
                                            "'observation/object_poses'"):
            client.infer(request)


def test_a_request_the_model_fails_on_is_answered_with_one_error_line(served):
    request = {"observation/state": np.zeros(5, np.float32),  # the model reads 8
               "observation/eef_pos": np.zeros(3, np.float32),
               "observation/object_poses": np.zeros(28, np.float32), "prompt": "go"}
    with PolicyClient(served.uri) as client:
        with pytest.raises(UserError, match="answered with an error instead of the reply to "
                                            "request 1: error: the model failed on this "
                                            "request: ") as error:
            client.infer(request)
    assert "\n" not in str(error.value)


def test_a_key_mapping_that_hides_what_the_server_reads_is_refused_first(served, tmp_path,
                                                                          capsys):
    out = tmp_path / "eval.json"
    code, _, err = run_cli(eval_args("--policy-server", served.uri, "--policy-keys",
                                     "eef_pos=", "--json", out), capsys)
    assert_one_line_error(code, err, served.uri, "reads observation/eef_pos", "--policy-keys")
    assert not out.exists()


def test_client_and_server_share_a_renaming_key_mapping(ckpt, tmp_path, capsys):  # noqa: F811
    mapping = tmp_path / "keys.toml"
    mapping.write_text('[policy_keys]\nstate = "obs.state"\nobject_poses = "obs.objects"\n'
                       'instruction = "task"\nactions = "action"\n')
    from diffrl_eval.policy_server.keys import parse_key_mapping

    with PolicyServer(ckpt, port=0, keys=parse_key_mapping(str(mapping))) as server:
        assert sorted(server.metadata["observation_keys"]) == [
            "obs.objects", "obs.state", "observation/eef_pos"]
        assert (server.metadata["prompt_key"], server.metadata["action_key"]) == ("task", "action")
        out = tmp_path / "eval.json"
        code, _, err = run_cli(eval_args("--policy-server", server.uri, "--policy-keys", mapping,
                                         "--json", out, tasks=TASKS[:1], episodes=1), capsys)
        assert code == 0, err
        assert json.loads(out.read_text())["policy_server"]["key_mapping"]["state"] == "obs.state"
        # without the mapping the client sends what the server does not read: refused first
        code, _, err = run_cli(eval_args("--policy-server", server.uri, tasks=TASKS[:1],
                                         episodes=1), capsys)
    assert_one_line_error(code, err, "reads obs.state, obs.objects", "--policy-keys")


def test_a_server_that_declares_nothing_gives_a_result_the_report_reads(tmp_path, capsys):
    out, page = tmp_path / "eval.json", tmp_path / "report.html"
    with ScriptedServer(send_chunk(), {}) as server:
        code, _, err = run_cli(eval_args("--policy-server", server.uri, "--image-size", "0",
                                         "--sources", "human", "--json", out,
                                         tasks=TASKS[:1], episodes=1), capsys)
    assert code == 0, err
    result = json.loads(out.read_text())
    assert (result["vla"], result["checkpoint"], result["hparams_hash"]) == (
        "policy-server", server.uri, None)
    assert result["training"] == {"seed": 0, "datasets": [], "sources": ["human"],
                                  "train_suites": []}
    assert result["protocol"] == "in-distribution"
    # 4 actions per request until the step limit: every request is counted
    assert result["policy_server"]["requests"] == len(server.requests) > 0
    assert result["env_steps"] == 4 * len(server.requests)
    code, _, err = run_cli(["report", out, "-o", page], capsys)
    assert code == 0, err
    assert "policy-server" in page.read_text()


class _Declares:
    """A connected client stand-in: only its metadata matters to these checks."""

    uri = "ws://stand-in:1"

    def __init__(self, metadata):
        self.metadata = metadata


def test_a_server_that_declares_nothing_gets_both_cameras_at_224_and_whole_chunks():
    from diffrl_eval.policy_server.keys import KeyMapping
    from diffrl_eval.policy_server.remote_policy import RemotePolicy

    policy = RemotePolicy(_Declares({}), KeyMapping(), action_dim=7)
    assert policy.env_options() == {"images": True, "image_size": 224}
    assert policy.noise_seed_key is None
    policy._checked_chunk({"actions": np.zeros((10, 7), np.float32)})
    assert policy.executed_steps == 10
    declared = RemotePolicy(_Declares({"env_options": {}, "executed_steps": 5}), KeyMapping(),
                            action_dim=7)
    assert declared.env_options() == {} and declared.executed_steps == 5
    given = RemotePolicy(_Declares({"executed_steps": 5}), KeyMapping(), action_dim=7,
                         executed_steps=2, env_options={"images": True, "image_size": 96})
    assert given.executed_steps == 2 and given.env_options()["image_size"] == 96


# --- every way a server can fail ------------------------------------------------------------
def _reply_raw(frame):
    def reply(connection, number, request):  # noqa: ARG001
        connection.send(frame)
    return reply


def _stall_from(request_number):
    def reply(connection, number, request):  # noqa: ARG001
        if number >= request_number:
            server_stop.wait(30)
        connection.send(CHUNK_FRAME)
    return reply


def _drop_at(request_number):
    def reply(connection, number, request):  # noqa: ARG001
        if number >= request_number:
            connection.close()
            return
        connection.send(CHUNK_FRAME)
    return reply


OBJECT_ARRAY = msgpack.packb({"actions": {b"__ndarray__": True, b"data": b"\0" * 8,
                                          b"dtype": "|O", b"shape": [1]}})

FAILURES = {
    # name: (reply, metadata, extra flags, exit code, fragments of the one line)
    "wrong action dim": (send_chunk(np.zeros((4, 6), np.float32)), {}, [], 2,
                         ["shape (4, 6)", "(Ta, 7)"]),
    "one action, not a chunk": (send_chunk(np.zeros(7, np.float32)), {}, [], 2,
                                ["shape (7,)"]),
    "no actions key": (send_chunk(CHUNK, key="action"), {}, [], 2,
                       ["replied without 'actions'", "action"]),
    "actions as text": (send_chunk("move left"), {}, [], 2, ["expected a numeric array"]),
    "non-finite actions": (send_chunk(np.full((4, 7), np.nan, np.float32)), {}, [], 2,
                           ["non-finite"]),
    "object array": (_reply_raw(OBJECT_ARRAY), {}, [], 2, ["malformed", "dtype object"]),
    "not msgpack": (_reply_raw(b"\xc1\xc1"), {}, [], 2, ["malformed", "not a msgpack"]),
    "not a map": (_reply_raw(packb([1, 2])), {}, [], 2, ["sent a list"]),
    "error text": (_reply_raw("Traceback (most recent call last):\n  ...\nValueError: boom"),
                   {}, [], 2, ["answered with an error", "ValueError: boom"]),
    "chunk shorter than executed steps": (send_chunk(), {"executed_steps": 8}, [], 2,
                                          ["fewer than the 8 executed"]),
    "no metadata": (send_chunk(), None, ["--connect-timeout", "0.5"], 2,
                    ["metadata did not come within 0.5 s (--connect-timeout)"]),
    "stalls mid-run": (_stall_from(3), {}, ["--reply-timeout", "0.5"], 3,
                       ["the reply to request 3 did not come within 0.5 s", "no result"]),
    "drops mid-run": (_drop_at(5), {}, [], 3,
                      ["dropped the connection", "request 5", "no result"]),
}


@pytest.mark.parametrize("name", list(FAILURES))
def test_a_failing_server_is_one_line_naming_it_and_nothing_is_written(name, tmp_path, capsys):
    reply, metadata, extra, exit_code, fragments = FAILURES[name]
    out = tmp_path / "out"
    out.mkdir()
    server_stop.clear()
    with ScriptedServer(reply, metadata) as server:
        code, _, err = run_cli(eval_args("--policy-server", server.uri, "--image-size", "0",
                                         "--json", out / "eval.json", "--record", "1",
                                         *extra, tasks=TASKS[:1], episodes=2), capsys)
        server_stop.set()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == exit_code and len(lines) == 1, err
    assert lines[0].startswith(f"error: policy server {server.uri}")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in err.split("error:", 1)[0]
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("address, fragments", [
    (None, ["is unreachable"]),
    ("http://127.0.0.1:1", ["expects a websocket address ws://HOST:PORT"]),
    ("ws://", ["expects a websocket address"]),
])
def test_an_unreachable_or_malformed_address_is_bad_input(address, fragments, tmp_path, capsys):
    address = address or f"ws://127.0.0.1:{free_port()}"
    code, _, err = run_cli(eval_args("--policy-server", address, "--json",
                                     tmp_path / "eval.json"), capsys)
    assert_one_line_error(code, err, *fragments)
    assert list(tmp_path.iterdir()) == []


def test_an_http_server_that_does_not_upgrade_is_unreachable_as_a_policy_server(tmp_path,
                                                                                  capsys):
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # noqa: ARG002 - stderr is what the test reads
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        uri = f"ws://127.0.0.1:{httpd.server_address[1]}"
        code, _, err = run_cli(eval_args("--policy-server", uri), capsys)
    finally:
        httpd.shutdown()
    assert_one_line_error(code, err, f"policy server {uri} is unreachable")


@pytest.mark.parametrize("extra, fragments", [
    (["--ckpt", "x"], ["give --ckpt", "or --policy-server"]),
    (["--executor", "ray"], ["drop --executor"]),
    (["--executed-steps", "0"], ["--executed-steps must be a positive integer"]),
    (["--reply-timeout", "0"], ["--reply-timeout must be a positive number"]),
    (["--protocol", "zero-shot"], ["unknown protocol"]),
])
def test_bad_policy_server_options_are_refused_before_connecting(extra, fragments, capsys):
    code, _, err = run_cli(eval_args("--policy-server", f"ws://127.0.0.1:{free_port()}",
                                     *extra), capsys)
    assert_one_line_error(code, err, *fragments)


def test_neither_a_checkpoint_nor_a_server_is_bad_input(capsys):
    code, _, err = run_cli(eval_args(), capsys)
    assert_one_line_error(code, err, "give --ckpt", "or --policy-server")


# --- the serve command ------------------------------------------------------------------------
def test_serve_answers_a_client_and_stops_cleanly_on_ctrl_c(ckpt):  # noqa: F811
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "diffrl_eval", "serve", "--ckpt",
                                str(ckpt), "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        line = process.stdout.readline()
        assert "serving tiny-vla checkpoint" in line, process.stderr.read()
        uri = next(word for word in line.split() if word.startswith("ws://"))
        with PolicyClient(uri) as client:
            assert client.metadata["action_horizon"] == 4
            assert client.metadata["observation_keys"]
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped" in out


@pytest.mark.parametrize("extra, fragments", [
    (["--ckpt", "no-such-checkpoint"], ["checkpoint not found"]),
    (["--ckpt", "x", "--port", "70000"], ["--port must be in 0..65535"]),
])
def test_serve_refuses_bad_input_in_one_line(extra, fragments, capsys):
    code, _, err = run_cli(["serve", *extra], capsys)
    assert_one_line_error(code, err, *fragments)


def test_serve_on_a_port_in_use_is_one_line(served, ckpt, capsys):  # noqa: F811
    code, _, err = run_cli(["serve", "--ckpt", ckpt, "--port", served.port], capsys)
    assert_one_line_error(code, err, f"cannot serve on 127.0.0.1:{served.port}")
