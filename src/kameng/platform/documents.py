"""Decoding YAML and JSON documents so that no float ever reaches money.

YAML's float literals are read as ``Decimal`` from their original text, and its implicit
timestamps are left as text (the domain parses date-times itself and insists on an offset).
JSON numbers with a fraction are read as ``Decimal`` too.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DocumentError(ValueError):
    """A document that is not valid YAML or JSON; the message says where."""


class _ExactLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    pass


# YAML spells these .inf and .nan; Decimal does not read that spelling. As Decimal values they
# reach the domain, which answers "must be a finite amount" naming the field.
_SPECIAL_FLOATS = {".inf": "Infinity", "+.inf": "Infinity", "-.inf": "-Infinity", ".nan": "NaN"}


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = loader.construct_scalar(node).replace("_", "")
    try:
        return Decimal(_SPECIAL_FLOATS.get(text.lower(), text))
    except InvalidOperation:
        # YAML 1.1 also reads 1:30.5 (base 60) as a float; no amount is written that way.
        raise yaml.constructor.ConstructorError(
            None, None, f"not a decimal number: {text!r}", node.start_mark
        ) from None


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
# Copy the resolvers before removing timestamps, so the shared SafeLoader table is untouched.
_ExactLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str, source: str = "<input>") -> Any:
    try:
        return yaml.load(text, Loader=_ExactLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        place = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"
        problem = getattr(error, "problem", None) or str(error)
        raise DocumentError(f"{source}: not valid YAML at {place}: {problem}") from None
    except (ValueError, RecursionError) as error:
        # An integer of more than 4300 digits (Python's int-to-text limit), or nesting deeper
        # than the interpreter's recursion limit: a bad document, not a crash of the whole run.
        raise DocumentError(f"{source}: not usable YAML: {_shorten(error)}") from None


def load_json(text: str | bytes, source: str = "<input>") -> Any:
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as error:
        raise DocumentError(
            f"{source}: not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except UnicodeDecodeError:
        raise DocumentError(f"{source}: not UTF-8 text") from None
    except (ValueError, RecursionError) as error:
        # As for YAML: a 5,000-digit integer or 1,000 nested arrays raised these past the
        # JSONDecodeError handler, and the API answered 500 instead of {name, error}.
        raise DocumentError(f"{source}: not usable JSON: {_shorten(error)}") from None


def _shorten(error: BaseException) -> str:
    text = str(error)
    return text if len(text) <= 120 else f"{text[:117]}..."


def load_document(text: str, source: str) -> Any:
    """JSON for ``*.json``, YAML otherwise (YAML is a superset, but JSON errors read better)."""
    if source.endswith(".json"):
        return load_json(text, source)
    return load_yaml(text, source)
