"""The text of a JSON column's value, on both backends.

Every request that writes a ticket, a message, an outbox row or a journal entry encodes a dozen
JSON values (a quote, messages in two languages, payloads). With the standard library's
``json.dumps`` those encodings were about 5 % of a refund request's step (docs/performance.md);
orjson encodes the same values in a tenth of the time. The engines use :func:`json_text` for every
JSON column (``make_engine``), and the step's one statement for its own (``step_end``), so a
column's text is made one way whichever path writes it.

What is stored is the same JSON value ``json.dumps`` gave, read back equal; only its spelling is
shorter: no spaces after separators, and characters beyond ASCII written as themselves (UTF-8)
instead of ``\\uXXXX`` escapes. Values orjson does not take as ``json.dumps`` would are handed to
``json.dumps`` itself, so they are written or refused exactly as before:

- integers beyond 64 bits, and strings holding a lone surrogate (orjson refuses both);
- dates, times and dataclasses (orjson would encode them; ``json.dumps`` refuses them, and so does
  this function, with the same ``TypeError``).

Two differences remain, neither reachable with the values the platform stores (money is integer
fen, never a float; its enums are ``StrEnum``, encoded as their value by both): a float NaN or
infinity is written as ``null`` (``json.dumps`` wrote ``NaN``, which PostgreSQL's ``json`` type
refuses), and an enum that is neither a ``str`` nor an ``int`` is written as its value
(``json.dumps`` refused it).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# Non-string keys as json.dumps writes them ({1: x} as {"1": x}); dates, times and dataclasses
# refused (passed to no default: orjson raises, and json.dumps gives its own refusal).
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_text(value: Any) -> str:
    """``value`` as JSON text (see the module's docstring for how it compares with json.dumps)."""
    try:
        return orjson.dumps(value, option=_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError: what orjson does not take, json.dumps decides
        return json.dumps(value)
