"""``kameng channels …``: an operator's steps on the real payment channels."""

from __future__ import annotations

from typing import Annotated

import typer

from kameng.cli.boot import container_or_exit, settings_or_exit
from kameng.settings import SettingsError

channels_app = typer.Typer(help="The real payment channels (WeChat Pay, Alipay).", no_args_is_help=True)


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
    container = container_or_exit(settings_or_exit())
    try:
        answer = compose.settle_abnormal_refund(container, out_refund_no, card)
    except (ChannelRefused, ChannelUnavailable, SettingsError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        container.dispose()
    typer.echo(f"{out_refund_no}: {answer.channel_status or answer.status}")


def reconcile(
    channel: Annotated[str, typer.Option(help="wechat or alipay.")],
    day: Annotated[str, typer.Option("--date", help="The bill's day (Beijing), YYYY-MM-DD.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per difference.")] = False,
) -> None:
    """Download the channel's bill of one day and report every difference with our records:
    missing on either side, amount mismatch, status mismatch. Exits 1 when there is any."""
    import json
    from datetime import date

    from kameng import compose
    from kameng.channels.ports import ChannelRefused, ChannelUnavailable
    from kameng.domain.money import format_yuan

    if channel not in {"wechat", "alipay"}:
        typer.echo("error: --channel must be wechat or alipay", err=True)
        raise typer.Exit(2)
    try:
        bill_day = date.fromisoformat(day)
    except ValueError:
        typer.echo(f"error: --date must be YYYY-MM-DD, got {day!r}", err=True)
        raise typer.Exit(2) from None
    container = container_or_exit(settings_or_exit())
    try:
        findings = compose.reconcile_channel(container, channel, bill_day)
    except (ChannelRefused, ChannelUnavailable, SettingsError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    finally:
        container.dispose()
    for finding in findings:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "difference": finding.difference.value,
                        "kind": finding.kind.value,
                        "number": finding.number,
                        "ours": None if finding.ours is None else [finding.ours.amount_fen, finding.ours.status],
                        "theirs": None
                        if finding.theirs is None
                        else [finding.theirs.amount_fen, finding.theirs.status],
                    }
                )
            )
            continue
        ours = "-" if finding.ours is None else f"{format_yuan(finding.ours.amount_fen)} {finding.ours.status}"
        theirs = "-" if finding.theirs is None else f"{format_yuan(finding.theirs.amount_fen)} {finding.theirs.status}"
        typer.echo(f"{finding.difference.value}\t{finding.kind.value}\t{finding.number}\tours={ours}\ttheirs={theirs}")
    typer.echo(f"{channel} {bill_day}: {len(findings)} difference(s)", err=True)
    if findings:
        raise typer.Exit(1)
