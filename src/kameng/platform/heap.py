"""The cyclic garbage collector in a long-running process.

CPython's collector scans its oldest generation in full now and then, and in an API process that
generation holds everything built at start-up: the modules, the routes, the ORM's mappers, the
message catalogs, the templates. Measured under the refund bench (docs/performance.md), each such
scan paused the process for 50–180 ms, several times a minute, and those pauses were the requests
at the 99th percentile. What is built at start-up lives as long as the process, so it is frozen:
moved out of the collector's sight (:func:`gc.freeze`), and scans cover only what came after.

Nothing changes for memory freed by reference counting, which is nearly all of it. A frozen object
that later becomes cyclic garbage is kept until :func:`thaw`; the app thaws when it stops, so a test
process that starts and stops many apps keeps nothing of them.
"""

from __future__ import annotations

import gc


def freeze_what_lives_on() -> None:
    """Freeze every object the collector tracks now: call once the process is built, before it
    serves. No collection first: at start-up there is little cyclic garbage to find, and a full
    collection here would cost every test that starts an app a tenth of a second."""
    gc.freeze()


def thaw() -> None:
    """Give the frozen objects back to the collector (their oldest generation)."""
    gc.unfreeze()
