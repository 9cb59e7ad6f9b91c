"""The ``kameng`` command: serving, simulation, and (as they land) workers, reports and more."""

from __future__ import annotations

import functools
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kameng.cli.boot import container_or_exit as _container
from kameng.cli.boot import settings_or_exit as _settings
from kameng.cli.card_keys import card_keys_app
from kameng.cli.channels import channels_app, reconcile
from kameng.cli.policy import policy_app
from kameng.cli.refund import outage_app, refund_app
from kameng.domain.calendar import CalendarError
from kameng.platform.calendars import load_calendar
from kameng.scenarios.services import simulate_paths
from kameng.settings import Settings, SettingsError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from kameng.platform.db.uow import UnitOfWork

# The database, web and worker modules are imported inside the commands that use them: every
# `kameng simulate` (and `make test`'s scenario check) would otherwise pay ~0.45 s of imports.

app = typer.Typer(
    help="kameng: memberships and virtual goods, with refunds explained to the fen.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def simulate(
    paths: Annotated[list[Path], typer.Argument(help="Scenario files (.yaml/.json) or folders of them.")],
    check: Annotated[bool, typer.Option("--check", help="Compare each answer with its expect block.")] = False,
    calendar: Annotated[
        Path | None, typer.Option("--calendar", help="Holiday/working-day overrides file (YAML or JSON).")
    ] = None,
) -> None:
    """Print the refund decision of each scenario as JSON Lines (design/SCENARIOS.md).

    Exits 1 when any scenario is malformed, or with --check when any answer differs from its
    expect block; every other file is still answered.
    """
    settings = _settings()
    try:
        work_calendar = load_calendar(calendar or settings.calendar_file)
    except CalendarError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    failures = 0
    answered = 0
    out = sys.stdout
    for result in simulate_paths(paths, work_calendar):
        answered += 1
        out.write(json.dumps(result.answer, ensure_ascii=False) + "\n")
        if "error" in result.answer:
            failures += 1
            typer.echo(f"ERROR {result.answer['error']}", err=True)
        elif check and result.mismatches:
            failures += 1
            typer.echo(f"FAIL  {result.source}  ({result.answer.get('name', '')})", err=True)
            for miss in result.mismatches:
                typer.echo(f"      {miss}", err=True)
    if answered == 0:
        typer.echo("error: no scenario files found", err=True)
        raise typer.Exit(2)
    if check:
        typer.echo(f"{answered - failures} passed, {failures} failed", err=True)
    if failures:
        raise typer.Exit(1)


db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident ticket timeline.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(ledger_app, name="ledger")
app.add_typer(audit_app, name="audit")
outbox_app = typer.Typer(
    help="Work queued for after the commit (refunds to send, messages to deliver).", no_args_is_help=True
)
app.add_typer(outbox_app, name="outbox")
app.add_typer(channels_app, name="channels")
app.add_typer(card_keys_app, name="card-keys")
app.add_typer(policy_app, name="policy")
app.command("reconcile")(reconcile)
app.add_typer(refund_app, name="refund")
app.add_typer(outage_app, name="outage")


def _configure_logging(settings: Settings) -> None:
    """JSON or text lines on stderr, naming each request, with the configured secrets masked."""
    from kameng.platform.logs import configure_logging

    secrets = [settings.secret_key.get_secret_value()]
    if settings.metrics_token is not None:
        secrets.append(settings.metrics_token.get_secret_value())
    secrets += settings.card_key_ring_keys
    if settings.card_key_fingerprint_key is not None:
        secrets.append(settings.card_key_fingerprint_key.get_secret_value())
    configure_logging(settings.log_format, settings.log_level, secrets)


def _uow(settings: Settings) -> UnitOfWork:
    return _container(settings).uow()


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the migrations up to REVISION (default: head)."""
    from kameng.compose import card_key_ring
    from kameng.platform.db import migrate

    settings = _settings()
    migrate.upgrade(settings.database_url, revision, card_keys=card_key_ring(settings))
    typer.echo(f"database at {revision}")


@demo_app.command("seed")
def demo_seed() -> None:
    """Load the demo catalog, users and orders into an empty database."""
    from kameng.compose import prepare_database

    seeded = prepare_database(_settings())
    typer.echo("demo data loaded" if seeded else "catalog already present: nothing loaded")


@ledger_app.command("check")
def ledger_check() -> None:
    """Prove the books balance: every entry, the whole ledger, every stored balance, and the
    wallet's holds and withdrawal fees."""
    from kameng.platform.ledger import check_books
    from kameng.wallet.checks import check_wallet

    report = check_books(_uow(_settings()))
    wallet_problems = check_wallet(_uow(_settings()))
    typer.echo(f"entries: {report.entries}, lines: {report.lines}, sum of all lines: {report.total_fen} fen")
    for problem in report.unbalanced:
        typer.echo(f"UNBALANCED entry {problem}", err=True)
    for problem in report.balance_mismatches:
        typer.echo(f"BALANCE MISMATCH {problem}", err=True)
    for problem in wallet_problems:
        typer.echo(f"WALLET MISMATCH {problem}", err=True)
    if not report.ok or wallet_problems:
        raise typer.Exit(1)
    typer.echo("the books balance")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute every ticket's hash chain; exits 1 when any row was edited, deleted or reordered."""
    from kameng.aftersales.audit import verify

    report = verify(_uow(_settings()))
    typer.echo(f"tickets: {report.tickets}, timeline rows: {report.rows}")
    for problem in report.problems:
        typer.echo(f"TAMPERED {problem}", err=True)
    if not report.ok:
        typer.echo(f"{len(report.problems)} problem(s) found", err=True)
        raise typer.Exit(1)
    typer.echo("every chain verifies")


@outbox_app.command("status")
def outbox_status_command() -> None:
    """Pending and failing rows, and the oldest pending; exits 1 when a row's kind has no handler."""
    from kameng.platform.outbox import outbox_status

    status = outbox_status(_uow(_settings()))
    oldest = status.oldest_pending_at.isoformat() if status.oldest_pending_at else "-"
    typer.echo(f"pending: {status.pending}, failing: {status.failing}, oldest pending since: {oldest}")
    if status.unknown_kinds:
        typer.echo(f"{status.unknown_kinds} row(s) of a kind no handler knows: see their last_error", err=True)
        raise typer.Exit(1)


@app.command()
def evidence(
    ticket_no: Annotated[str, typer.Argument(help="The ticket number (AS…).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for evidence.json and evidence.pdf.")] = Path("."),
    lang: Annotated[str, typer.Option(help="PDF language: zh or en.")] = "zh",
) -> None:
    """Write a ticket's evidence file (evidence.json and evidence.pdf), as staff see it."""
    from kameng.aftersales.evidence import build_evidence, render_evidence_pdf
    from kameng.domain.users import Role
    from kameng.platform.access import Viewer
    from kameng.platform.errors import NotFound, Unavailable

    try:
        data = build_evidence(_uow(_settings()), Viewer(0, Role.OPERATOR), ticket_no, datetime.now(UTC))
    except NotFound:
        typer.echo(f"error: no ticket {ticket_no}", err=True)
        raise typer.Exit(1) from None
    out.mkdir(parents=True, exist_ok=True)
    (out / "evidence.json").write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    try:
        (out / "evidence.pdf").write_bytes(render_evidence_pdf(data, lang))
    except Unavailable as error:
        typer.echo(f"wrote {out / 'evidence.json'}; no PDF: {error.message('en')} (install kameng[pdf])", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {out / 'evidence.json'} and {out / 'evidence.pdf'}")
    if not data["chain_verified"]:
        typer.echo("warning: this ticket's timeline does not verify (see kameng audit verify)", err=True)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run one tick and exit (1 if it failed).")] = False,
    ticks: Annotated[int | None, typer.Option(min=1, help="Run this many ticks and exit.")] = None,
    interval: Annotated[float, typer.Option(min=0.0, help="Seconds between ticks.")] = 5.0,
) -> None:
    """Run the worker tick in a loop: unpaid orders and memberships expire, deadlines escalate,
    the outbox drains, refunds in flight are polled.

    An error in a tick is logged with the step (and ticket) it happened in, and the worker carries
    on after a pause that doubles with each failed tick in a row (at most five minutes). Each tick
    writes the worker's heartbeat, which GET /api/v1/health reports."""
    from kameng.worker import run_worker

    settings = _settings()
    _configure_logging(settings)
    container = _container(settings)
    try:
        outcome = run_worker(container, interval=interval, ticks=1 if once else ticks)
    finally:
        container.dispose()
    if once:
        typer.echo(json.dumps(outcome.figures))
    if not outcome.ok:
        typer.echo(f"the last tick failed: {outcome.error}", err=True)
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Overrides KAMENG_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides KAMENG_PORT.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=64, help="Overrides KAMENG_WORKERS.")] = None,
) -> None:
    """Serve the site and the API (embedded SQLite unless KAMENG_DATABASE_URL says otherwise).

    Outside production the schema is migrated and an empty database gets the demo data first.
    With several API processes (KAMENG_WORKERS) that is done once, here, before they start."""
    import uvicorn

    from kameng import compose
    from kameng.web.app import create_app

    settings = _settings()
    processes = workers or settings.workers
    _configure_logging(settings)
    behind_proxy = bool(settings.forwarded_allow_ips)
    run = functools.partial(
        uvicorn.run,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # our handler (configured above) writes uvicorn's lines too
        proxy_headers=behind_proxy,
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
    )
    if processes == 1:
        try:
            application = create_app(settings)
        except SettingsError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(2) from None
        run(application)
        return
    if settings.auto_prepare and not settings.production:
        compose.prepare_database(settings)
    # Each process builds its own app from the environment; the database is ready, so none of
    # them migrates it again (several at once would race).
    os.environ["KAMENG_AUTO_PREPARE"] = "0"
    run("kameng.cli.main:api_process_app", factory=True, workers=processes)


def api_process_app() -> FastAPI:
    """One of several API processes (`kameng serve` with KAMENG_WORKERS > 1): its logging as the
    parent's, then its app, both from the environment the parent left."""
    from kameng.web.app import create_app

    settings = _settings()
    _configure_logging(settings)
    return create_app(settings)


if __name__ == "__main__":  # pragma: no cover
    app()
