"""``python -m kameng``: the same command line as ``kameng``."""

from kameng.cli.main import app

app()
