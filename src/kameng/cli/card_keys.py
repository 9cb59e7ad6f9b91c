"""``kameng card-keys …``: the card keys' key ring (docs/catalog.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from kameng.cli.boot import container_or_exit, settings_or_exit

card_keys_app = typer.Typer(help="Card keys stored encrypted: their key ring.", no_args_is_help=True)


@card_keys_app.command("rotate")
def rotate(
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Card keys per transaction.")] = 500,
    batches: Annotated[
        int, typer.Option(min=0, help="Stop after this many batches (0: until none is left); run again to go on.")
    ] = 0,
) -> None:
    """Re-encrypt every card key with the newest key of KAMENG_CARD_KEY_KEYS (and fingerprint it
    again), in batches of one transaction each: an interrupted run keeps what it did, and the
    next run goes on from there. Once it reports 0 left, the older keys may be dropped."""
    from kameng.catalog.key_rotation import rotate_card_keys
    from kameng.platform.secrets_ring import RingError

    container = container_or_exit(settings_or_exit())
    try:
        done = rotate_card_keys(container.uow(), batch, batches or None)
    except RingError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        container.dispose()
    typer.echo(f"re-encrypted {done.rows} card keys in {done.batches} batches; {done.left} left")
    if done.left:
        raise typer.Exit(3)
