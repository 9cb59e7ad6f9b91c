"""``kameng channels …``: an operator's steps on the real payment channels."""

from __future__ import annotations

from typing import Annotated

import typer

from kameng.settings import Settings, SettingsError

channels_app = typer.Typer(help="The real payment channels (WeChat Pay, Alipay).", no_args_is_help=True)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


@channels_app.command("abnormal-refund")
def abnormal_refund(
    out_refund_no: Annotated[str, typer.Argument(help="Our refund number (WeChat's out_refund_no).")],
    bank_type: Annotated[str, typer.Option(help="The consumer's bank, as WeChat names it (e.g. ICBC_DEBIT).")] = "",
    account: Annotated[str, typer.Option(help="The consumer's card number (sent encrypted).")] = "",
    name: Annotated[str, typer.Option(help="The card holder's name (sent encrypted).")] = "",
    to_merchant: Annotated[bool, typer.Option("--to-merchant", help="Send it to our own account instead.")] = False,
) -> None:
    """Send a WeChat refund stuck in ABNORMAL on: to the consumer's card, or to the merchant."""
    from kameng import compose
    from kameng.channels.ports import ChannelRefused, ChannelUnavailable

    card = None if to_merchant else (bank_type, account, name)
    if card is not None and not all(card):
        typer.echo("error: give --bank-type, --account and --name, or --to-merchant", err=True)
        raise typer.Exit(2)
    try:
        container = compose.build(_settings())
    except SettingsError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        answer = compose.settle_abnormal_refund(container, out_refund_no, card)
    except (ChannelRefused, ChannelUnavailable, SettingsError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        container.dispose()
    typer.echo(f"{out_refund_no}: {answer.channel_status or answer.status}")
