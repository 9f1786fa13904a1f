"""Policy-server messages: arrays of every allowed dtype and shape survive the round trip
in openpi's msgpack-numpy layout, and nothing that could build objects is accepted."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest

from diffrl_eval.errors import UserError
from diffrl_eval.policy_server.codec import MessageError, packb, unpackb
from diffrl_eval.policy_server.keys import KeyMapping, parse_key_mapping

ARRAYS = [
    np.array(True),
    np.arange(12, dtype=np.int8).reshape(3, 4) - 6,
    np.arange(5, dtype=np.uint16),
    np.array([-(2**62), 2**62], dtype=np.int64),
    np.array([2**64 - 1], dtype=np.uint64),
    np.linspace(-1, 1, 6, dtype=np.float16).reshape(2, 3),
    np.random.default_rng(0).normal(size=(2, 4, 7)).astype(np.float32),
    np.random.default_rng(1).normal(size=(3,)).astype(">f8"),  # big-endian stays big-endian
    np.zeros((0, 7), dtype=np.float32),
    np.random.default_rng(2).integers(0, 256, size=(8, 8, 3), dtype=np.uint8),
    np.array(["pick", "place"]),
    np.array([b"ab", b"c"]),
]


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype.str}{a.shape}")
def test_an_array_comes_back_with_its_dtype_shape_and_values(array):
    back = unpackb(packb({"x": array, "nested": [{"y": array}]}))
    for value in (back["x"], back["nested"][0]["y"]):
        assert value.dtype == array.dtype and value.shape == array.shape
        np.testing.assert_array_equal(value, array)
        assert value.flags.writeable


def test_a_non_contiguous_array_is_sent_in_c_order():
    array = np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2]
    np.testing.assert_array_equal(unpackb(packb(array)), array)


def test_numpy_scalars_and_plain_values_survive():
    message = {"seed": np.uint64(2**64 - 1), "f": np.float32(0.25), "prompt": "open it",
               "n": 3, "flag": np.bool_(True), "list": [1, "a", None]}
    back = unpackb(packb(message))
    assert back["seed"] == 2**64 - 1 and back["seed"].dtype == np.uint64
    assert back["f"] == np.float32(0.25) and back["f"].dtype == np.float32
    assert back["prompt"] == "open it" and back["n"] == 3 and back["list"] == [1, "a", None]
    assert bool(back["flag"]) is True


def test_the_wire_layout_is_openpis_tagged_map():
    """Built by hand, as openpi's msgpack_numpy.pack_array lays an array out."""
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    by_hand = msgpack.packb({"actions": {b"__ndarray__": True, b"data": array.tobytes(),
                                         b"dtype": "<f4", b"shape": (2, 3)}})
    np.testing.assert_array_equal(unpackb(by_hand)["actions"], array)
    assert msgpack.unpackb(packb({"actions": array}))["actions"] == {
        b"__ndarray__": True, b"data": array.tobytes(), b"dtype": "<f4", b"shape": [2, 3]}


@pytest.mark.parametrize("value", [
    np.array([object(), 1], dtype=object),
    np.array([1 + 2j]),
    np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]),
    np.complex64(1j),
    {1, 2},
])
def test_objects_complex_and_structured_arrays_are_refused_when_sending(value):
    with pytest.raises(MessageError):
        packb({"x": value})


def _tagged(dtype: str, data: bytes, shape) -> bytes:
    return msgpack.packb({b"__ndarray__": True, b"data": data, b"dtype": dtype,
                          b"shape": shape})


@pytest.mark.parametrize("frame, fragment", [
    (_tagged("|O", b"\0" * 16, [2]), "dtype object"),
    (_tagged("<c8", b"\0" * 8, [1]), "dtype complex64"),
    (_tagged("|V8", b"\0" * 8, [1]), "dtype |V8"),
    (_tagged("<f4", b"\0" * 12, [2, 2]), "needs 16 bytes, the message holds 12"),
    (_tagged("<f4", b"\0" * 8, [-2]), "list of sizes"),
    (_tagged("not-a-dtype", b"", [0]), "unknown array dtype"),
    (msgpack.packb({b"__npgeneric__": True, b"data": 1, b"dtype": "|O"}), "dtype object"),
    (b"\xc1", "not a msgpack message"),
    (msgpack.packb({"a": 1}) + b"\x01", "not a msgpack message"),
])
def test_a_hostile_or_broken_message_is_refused_when_receiving(frame, fragment):
    with pytest.raises(MessageError, match=None) as error:
        unpackb(frame)
    assert fragment in str(error.value)


def test_the_default_key_mapping_uses_openpi_names_and_prefixes_the_rest():
    observation = {"agentview_image": np.zeros((2, 2, 3), np.uint8),
                   "wrist_image": np.ones((2, 2, 3), np.uint8),
                   "state": np.arange(8, dtype=np.float32),
                   "object_poses": np.zeros(7, np.float32)}
    request = KeyMapping().request(observation, "put the cube on the plate")
    assert sorted(request) == ["observation/image", "observation/object_poses",
                               "observation/state", "observation/wrist_image", "prompt"]
    assert request["prompt"] == "put the cube on the plate"
    back, instruction = KeyMapping().observation(request, ["state", "agentview_image"])
    assert instruction == "put the cube on the plate"
    np.testing.assert_array_equal(back["state"], observation["state"])


def test_a_mapping_renames_and_drops_keys_inline_or_from_toml(tmp_path):
    inline = parse_key_mapping("state=obs/state, object_poses=, instruction=task,actions=act")
    toml = tmp_path / "keys.toml"
    toml.write_text('[policy_keys]\nstate = "obs/state"\nobject_poses = ""\n'
                    'instruction = "task"\nactions = "act"\n')
    for mapping in (inline, parse_key_mapping(str(toml))):
        request = mapping.request({"state": np.zeros(8), "object_poses": np.zeros(7)}, "go")
        assert sorted(request) == ["obs/state", "task"]
        assert mapping.action_key == "act"


@pytest.mark.parametrize("text, fragment", [
    ("state", "NAME=WIRE_KEY pairs"),
    ("=x", "NAME=WIRE_KEY pairs"),
    ("actions=", "'actions' needs a wire key"),
    ("eef_pos=observation/state", "both map to 'observation/state'"),
    ("missing.toml", "no such file"),
])
def test_a_bad_mapping_is_a_one_line_user_error(text, fragment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=None) as error:
        parse_key_mapping(text)
    assert fragment in str(error.value)


def test_a_toml_mapping_that_is_not_a_table_of_strings_is_refused(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[policy_keys]\nstate = 3\n")
    with pytest.raises(UserError, match="table of"):
        parse_key_mapping(str(bad))
    broken = tmp_path / "broken.toml"
    broken.write_text("[policy_keys\n")
    with pytest.raises(UserError, match="not valid TOML"):
        parse_key_mapping(str(broken))
