"""Use cases: each function owns its transaction (or, for pure ones, its inputs and outputs)."""
