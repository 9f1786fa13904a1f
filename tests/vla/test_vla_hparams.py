"""VLA hyper-parameters: presets, the hparams file, and the hash that keeps comparisons fair."""

from __future__ import annotations

import hashlib
import json

import pytest

from diffrl_eval.errors import UserError
from vla.tiny_vla.hparams import default_hparams, hparams_hash, load_hparams, resolve_hparams


def test_presets_are_complete_and_the_quick_one_is_smaller():
    full, quick = default_hparams("full"), default_hparams("quick")
    assert set(full) == set(quick)
    assert quick["train_steps"] < full["train_steps"]
    assert quick["hidden_dim"] < full["hidden_dim"]
    assert full["head"] == "l1" and full["language"] is True


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(UserError, match="unknown hparams preset 'huge'.*full, quick"):
        default_hparams("huge")


def test_a_partial_file_is_completed_from_its_preset(tmp_path):
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"preset": "quick", "train_steps": 7, "language": False}))
    loaded = load_hparams(path)
    expected = {**default_hparams("quick"), "train_steps": 7, "language": False}
    assert loaded == expected
    assert "preset" not in loaded


def test_the_hash_is_sha256_of_the_canonical_json():
    values = {"b": [1, 2], "a": 0.5}
    canonical = b'{"a":0.5,"b":[1,2]}'
    assert hparams_hash(values) == "sha256:" + hashlib.sha256(canonical).hexdigest()


def test_the_hash_ignores_key_order_and_changes_with_any_value():
    base = default_hparams("full")
    reordered = dict(reversed(list(base.items())))
    assert hparams_hash(reordered) == hparams_hash(base)
    for key, value in (("train_steps", base["train_steps"] + 1), ("language", False),
                       ("learning_rate", base["learning_rate"] * 2)):
        assert hparams_hash({**base, key: value}) != hparams_hash(base)


def test_a_file_and_the_equivalent_complete_dictionary_hash_the_same(tmp_path):
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"train_steps": 5}))
    assert hparams_hash(load_hparams(path)) == hparams_hash(resolve_hparams({"train_steps": 5}))


@pytest.mark.parametrize(("content", "message"), [
    ('{"train_steps": 5, "bogus": 1}', "unknown key.*bogus"),
    ('{"executed_steps": 9, "chunk_size": 8}', "executed_steps must be in"),
    ('{"head": "gaussian"}', "head must be one of l1, diffusion"),
    ('{"observation": "lidar"}', "observation must be one of"),
    ("[1, 2]", "holds a JSON object"),
    ("{not json", "not valid JSON"),
])
def test_nonsense_hparams_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "h.json"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        load_hparams(path)


def test_a_missing_hparams_file_is_refused(tmp_path):
    with pytest.raises(UserError, match="hparams file not found"):
        load_hparams(tmp_path / "nope.json")
