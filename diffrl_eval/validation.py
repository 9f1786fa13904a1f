"""Semantic validation of values read from users and files.

Two ideas, used by every reader and every option parser:

* **finite numbers**: JSON has no NaN or Infinity, and Python's ``json`` module accepts
  them anyway. :func:`loads_json` refuses them (and names the line), :func:`require_finite`
  refuses a non-finite number anywhere in a nested value (and names its key path), and
  :func:`dumps_json` never writes one.
* **versioned documents**: :func:`read_versioned_json` is the one reader of a JSON file
  that names its kind and layout version (results, checkpoints, manifests; the kinds are
  in :mod:`diffrl_eval.documents`), each failure one line in the reader's wording.
* **typed settings**: a dataclass config's values are checked against its field types
  (float, int, bool, str, ``Literal`` choices, ``X | None``, tuples, nested objects) with the
  key named in the one-line error, before the dataclass sees them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffrl_eval.errors import UserError

_NON_FINITE = ("NaN", "Infinity", "-Infinity")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def loads_json(text: str, where: str) -> Any:
    """Parse JSON text, refusing NaN and Infinity; a one-line :class:`UserError` names
    ``where`` and the line."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise UserError(f"{where} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except ValueError as exc:
        raise UserError(f"{where} is not valid JSON ({exc}; numbers must be finite)") from None


def read_json(path: Path, where: str | None = None) -> Any:
    """Read and parse the JSON file ``path`` (see :func:`loads_json`)."""
    path = Path(path)
    where = where or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{where} not found") from None
    except IsADirectoryError:
        raise UserError(f"{where} is a directory, not a JSON file") from None
    except UnicodeDecodeError:
        raise UserError(f"{where} is not valid JSON (not UTF-8 text)") from None
    return loads_json(text, where)


@dataclass(frozen=True)
class JsonMessages:
    """How a reader words each way a JSON document file can be wrong, one line each.

    Templates of ``str.format`` with ``path`` (the file), ``directory`` (its folder),
    ``kind`` (the kind expected), ``found`` (the version found), ``version`` (the version
    written), ``versions`` (those read, comma-separated) and ``keys`` (the missing keys,
    comma-separated).
    """

    missing: str
    unreadable: str  # the prefix of a parse error: "<unreadable> is not valid JSON (...)"
    wrong_kind: str  # not a JSON object, or another kind
    wrong_version: str
    missing_keys: str

    @classmethod
    def checkpoint(cls, what: str, corrupt: str, noun: str, version_label: str
                   ) -> JsonMessages:
        """The wording of a checkpoint's files: ``not a WHAT: PATH is missing``,
        ``CORRUPT PATH: ...``, ``checkpoint PATH has VERSION_LABEL x; this version reads N``."""
        return cls(missing=f"not a {what}: {{path}} is missing",
                   unreadable=f"{corrupt} {{path}}:",
                   wrong_kind=f"{corrupt} {{path}}: not a {{kind}} {noun}",
                   wrong_version=f"checkpoint {{path}} has {version_label} {{found!r}}; "
                                 "this version reads {version}",
                   missing_keys=f"{corrupt} {{path}}: missing key(s) {{keys}}")


def read_versioned_json(path: Path, document: Any, messages: JsonMessages, *,
                        required: Sequence[str] = (), error: type[UserError] = UserError
                        ) -> dict[str, Any]:
    """The JSON object in ``path`` that is a ``document`` (a
    :class:`~diffrl_eval.documents.DocumentKind`: its kind and version) holding every key
    of ``required``; each way it can fail is one ``error`` line worded by ``messages``.

    Checked in order: the file exists, it is JSON (numbers finite), an object of the
    document's kind, of its version (when it names one), with the required keys (a
    version key that is absent and required counts as a missing key).
    """
    path = Path(path)

    def fail(template: str, **values: Any) -> UserError:
        return error(template.format(path=path, directory=path.parent, kind=document.name,
                                     version=document.version,
                                     versions=", ".join(map(str, document.versions)), **values))

    if not path.is_file():
        raise fail(messages.missing)
    try:
        value = read_json(path, messages.unreadable.format(path=path, directory=path.parent))
    except UserError as exc:
        raise error(str(exc)) from None
    if not document.is_kind_of(value):
        raise fail(messages.wrong_kind)
    version_key = document.version_key
    absent_and_required = version_key not in value and version_key in required
    if not document.reads_version_of(value) and not absent_and_required:
        raise fail(messages.wrong_version, found=value.get(version_key))
    missing = [key for key in required if key not in value]
    if missing:
        raise fail(messages.missing_keys, keys=", ".join(missing))
    return value


def non_finite_path(value: Any, path: str = "") -> str | None:
    """The key path of the first non-finite number in ``value``, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else (path or "the value")
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = non_finite_path(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = non_finite_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def require_finite(value: Any, where: str) -> Any:
    """``value`` unchanged when every number in it is finite, else a one-line error."""
    found = non_finite_path(value)
    if found is not None:
        raise UserError(f"{where}: {found} is not a finite number")
    return value


def dumps_json(value: Any, *, where: str = "the result", **kwargs: Any) -> str:
    """JSON text of ``value``; a NaN or inf in it is refused rather than written."""
    require_finite(value, where)
    return json.dumps(value, allow_nan=False, **kwargs)


# -- typed settings --------------------------------------------------------------------
def _type_name(kind: Any) -> str:
    origin = typing.get_origin(kind)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(kind))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(kind))
    if origin is tuple:
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_plural(args[0])}"
        return f"a list of {len(args)} {_plural(args[0])}" if args else "a list"
    if origin in (dict, Mapping) or kind is dict:
        return "an object"
    return {float: "a number", int: "an integer", bool: "true or false", str: "text",
            type(None): "null"}.get(kind, getattr(kind, "__name__", str(kind)))


def _plural(kind: Any) -> str:
    return {float: "numbers", int: "integers", bool: "booleans", str: "texts"}.get(kind, "values")


def _fits(value: Any, kind: Any) -> bool:
    origin = typing.get_origin(kind)
    if kind is Any:
        return True
    if origin is typing.Literal:
        return value in typing.get_args(kind) and type(value) in {type(a) for a in typing.get_args(kind)}
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arm) for arm in typing.get_args(kind))
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value))
    if kind is str:
        return isinstance(value, str)
    if origin is tuple:
        args = typing.get_args(kind)
        if not isinstance(value, (list, tuple)):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_fits(item, args[0]) for item in value)
        return len(value) == len(args) and all(_fits(v, a) for v, a in zip(value, args))
    if origin is list:
        (inner,) = typing.get_args(kind) or (Any,)
        return isinstance(value, (list, tuple)) and all(_fits(item, inner) for item in value)
    if origin in (dict, Mapping) or kind is dict:
        return isinstance(value, Mapping)  # its entries are checked where they are read
    return True  # a type this check does not know: the dataclass validates it


def check_setting_types(config_cls: type, values: Mapping[str, Any], where: str) -> None:
    """Check ``values`` against the field types of the dataclass ``config_cls``.

    A value of the wrong type, a non-finite number or a ``Literal`` value outside its
    choices is a one-line :class:`UserError` naming ``where``, the key and what it must be.
    Unknown keys are left to the caller (it names the valid ones).
    """
    hints = typing.get_type_hints(config_cls)
    names = {field.name for field in dataclasses.fields(config_cls)}
    for key, value in values.items():
        if key not in names or key not in hints:
            continue
        if not _fits(value, hints[key]):
            shown = json.dumps(value) if _jsonable(value) else repr(value)
            raise UserError(f"{where}: {key} must be {_type_name(hints[key])}, got {shown}")


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True
