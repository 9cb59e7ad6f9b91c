"""Integrators: scoped API keys, and the API they open (orders and refunds for another system)."""
