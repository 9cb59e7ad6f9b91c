"""kameng: memberships and virtual goods, with refunds explained to the fen."""

__version__ = "0.1.0"
