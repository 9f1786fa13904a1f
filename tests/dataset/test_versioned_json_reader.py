"""The one reader of versioned JSON files: each way a file is wrong is one line in its
reader's words."""

from __future__ import annotations

import json

import pytest

from diffrl_eval.documents import DocumentKind
from diffrl_eval.errors import DatasetError, UserError
from diffrl_eval.validation import JsonMessages, read_versioned_json

THING = DocumentKind("thing", 2)
MESSAGES = JsonMessages.checkpoint("thing checkpoint", "corrupt thing", "file", "schema_version")


def write(tmp_path, value) -> object:
    path = tmp_path / "thing.json"
    path.write_text(json.dumps(value))
    return path


def test_a_document_of_its_kind_and_version_is_returned_as_written(tmp_path):
    value = {"kind": "thing", "schema_version": 2, "a": [1, 2]}
    assert read_versioned_json(write(tmp_path, value), THING, MESSAGES, required=("a",)) == value


@pytest.mark.parametrize("value, message", [
    ([1], "corrupt thing {path}: not a thing file"),
    ({"kind": "other", "schema_version": 2}, "corrupt thing {path}: not a thing file"),
    ({"kind": "thing", "schema_version": 3}, "checkpoint {path} has schema_version 3; this "
                                             "version reads 2"),
    # a version it does not read is named before the keys a later version may have renamed
    ({"kind": "thing", "schema_version": 3, "b": 1}, "checkpoint {path} has schema_version "
                                                     "3; this version reads 2"),
    ({"kind": "thing", "schema_version": 2}, "corrupt thing {path}: missing key(s) a"),
])
def test_each_way_a_document_is_wrong_is_one_line_in_the_readers_words(tmp_path, value, message):
    path = write(tmp_path, value)
    with pytest.raises(UserError) as raised:
        read_versioned_json(path, THING, MESSAGES, required=("a",))
    assert str(raised.value) == message.format(path=path)


def test_a_missing_or_unparsable_file_is_named_and_the_error_type_is_the_readers(tmp_path):
    with pytest.raises(DatasetError, match="not a thing checkpoint: .*thing.json is missing"):
        read_versioned_json(tmp_path / "thing.json", THING, MESSAGES, error=DatasetError)
    (tmp_path / "thing.json").write_text('{"kind": "thing",\n "schema_version": NaN}')
    with pytest.raises(DatasetError, match=r"corrupt thing .*thing.json: is not valid JSON"):
        read_versioned_json(tmp_path / "thing.json", THING, MESSAGES, error=DatasetError)


def test_an_absent_version_that_is_required_counts_as_a_missing_key(tmp_path):
    path = write(tmp_path, {"kind": "thing"})
    with pytest.raises(UserError, match=r"missing key\(s\) schema_version, a"):
        read_versioned_json(path, THING, MESSAGES, required=("schema_version", "a"))


def test_a_reader_of_several_versions_accepts_each_and_names_them_when_refusing(tmp_path):
    info = DocumentKind(None, "v3.0", version_key="codebase_version", readable=("v2.1", "v3.0"))
    messages = JsonMessages(missing="{path}: missing", unreadable="{path}:",
                            wrong_kind="{path}: not an object",
                            wrong_version="codebase_version {found!r} (readable: {versions})",
                            missing_keys="")
    for version in ("v2.1", "v3.0"):
        value = {"codebase_version": version}
        assert read_versioned_json(write(tmp_path, value), info, messages) == value
    with pytest.raises(UserError) as raised:
        read_versioned_json(write(tmp_path, {"codebase_version": "v1.6"}), info, messages)
    assert str(raised.value) == "codebase_version 'v1.6' (readable: v2.1, v3.0)"
