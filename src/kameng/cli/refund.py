"""``kameng refund …`` (mass refunds for a merchant that is gone) and ``kameng outage …``
(platform events): an operator's commands, run in the foreground with a progress bar."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from kameng.cli.boot import container_or_exit, settings_or_exit

if TYPE_CHECKING:
    from kameng.container import Container
    from kameng.operator.mass_models import MassRefundRun

refund_app = typer.Typer(help="Mass refunds for a merchant that is gone (批量先行赔付).", no_args_is_help=True)
outage_app = typer.Typer(
    help="Platform events: outages of a product, a merchant or the platform.", no_args_is_help=True
)


def _yuan(fen: int) -> str:
    from kameng.domain.money import format_yuan

    return format_yuan(fen)


def _fail(error: Exception) -> typer.Exit:
    from kameng.platform.errors import ServiceError

    if isinstance(error, ServiceError):
        typer.echo(f"error: {error.message_zh} / {error.message_en}", err=True)
    else:
        typer.echo(f"error: {error}", err=True)
    return typer.Exit(1)


def _operator() -> object:
    from kameng.domain.users import Role
    from kameng.platform.access import Viewer

    # The person at the console of the machine: an operator with no account of the site.
    return Viewer(0, Role.OPERATOR)


def _summary(run: MassRefundRun) -> None:
    typer.echo(
        f"run {run.id} ({run.status.value}): {run.orders_done}/{run.orders_total} orders;"
        f" paid {run.paid_count} ({_yuan(run.paid_fen)} yuan);"
        f" to review {run.review_count} ({_yuan(run.review_fen)} yuan, at most); other {run.other_count}"
    )


def _drive(container: Container, run_id: int, batch: int, processes: int | None) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from kameng.operator.mass_queries import get_run
    from kameng.operator.mass_refunds import BatchResult
    from kameng.operator.mass_runner import drive, helpers

    run = get_run(container.uow(), run_id)
    # The helpers first: forked before the progress bar starts its thread.
    with (
        helpers(container.engine, container.uow, run_id, container.now, container.calendar, batch, processes) as count,
        Progress(
            TextColumn(f"mass refund #{run_id} ({count} processes)"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        ) as bar,
    ):
        task = bar.add_task("orders", total=max(run.orders_total, 1), completed=run.orders_done)

        def show(result: BatchResult) -> None:
            bar.update(task, completed=result.orders_done, total=max(result.orders_total, result.orders_done, 1))

        drive(container.uow, run_id, container.now, container.calendar, batch, show)
    _summary(get_run(container.uow(), run_id))


@refund_app.command("mass")
def mass(
    merchant: Annotated[str, typer.Option("--merchant", help="The merchant's id.")],
    yes: Annotated[bool, typer.Option("--yes", help="Start without asking for confirmation.")] = False,
    batch: Annotated[int, typer.Option(min=1, max=2000, help="Orders per transaction.")] = 200,
    note: Annotated[str, typer.Option(help="Why, for the record.")] = "",
    processes: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Processes running batches at once (default: one per core; 1 on SQLite)."),
    ] = None,
) -> None:
    """Record the merchant as gone and refund every affected order: quoted by the engine (S5 with
    RULES.md section 3a), approved ones paid through the normal payout path (the platform advances
    them), each consumer told. Resumable: see ``kameng refund resume``."""
    from kameng.operator.mass_queries import preview
    from kameng.operator.mass_refunds import start_run
    from kameng.platform.errors import ServiceError

    container = container_or_exit(settings_or_exit())
    try:
        counted = preview(container.uow(), merchant, container.now(), container.calendar)
        typer.echo(
            f"merchant {counted.merchant_id} {counted.merchant_zh} / {counted.merchant_en}: {counted.orders} orders;"
            f" at once {counted.auto_count} ({_yuan(counted.auto_fen)} yuan),"
            f" for review {counted.review_count} ({_yuan(counted.review_fen)} yuan at most),"
            f" already asked by the consumer {counted.open_tickets}; total quoted {_yuan(counted.quoted_fen)} yuan"
        )
        if not yes and not typer.confirm("Record the merchant as gone and start the mass refund?"):
            raise typer.Exit(1)
        run = start_run(
            container.uow(),
            _operator(),  # type: ignore[arg-type]
            merchant,
            container.now(),
            container.calendar,
            note,
            confirmed_orders=counted.orders,
        )
        typer.echo(f"run {run.id} started")
        _drive(container, run.id, batch, processes)
    except ServiceError as error:
        raise _fail(error) from None
    finally:
        container.dispose()


@refund_app.command("resume")
def resume(
    run_id: Annotated[int, typer.Argument(help="The run's number.")],
    batch: Annotated[int, typer.Option(min=1, max=2000, help="Orders per transaction.")] = 200,
    processes: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Processes running batches at once (default: one per core; 1 on SQLite)."),
    ] = None,
) -> None:
    """Go on with a run after a crash or a stop: it starts after the last committed batch and pays
    nobody twice."""
    from kameng.domain.mass_refunds import RunStatus
    from kameng.operator.mass_queries import get_run
    from kameng.operator.mass_refunds import change_run
    from kameng.platform.errors import ServiceError

    container = container_or_exit(settings_or_exit())
    try:
        run = get_run(container.uow(), run_id)
        if run.status is RunStatus.STOPPED:
            change_run(container.uow(), _operator(), run_id, "resume", container.now())  # type: ignore[arg-type]
        _drive(container, run_id, batch, processes)
    except ServiceError as error:
        raise _fail(error) from None
    finally:
        container.dispose()


@refund_app.command("stop")
def stop(run_id: Annotated[int, typer.Argument(help="The run's number.")]) -> None:
    """Stop a run after its batch in flight; ``kameng refund resume`` goes on from there."""
    from kameng.operator.mass_refunds import change_run
    from kameng.platform.errors import ServiceError

    container = container_or_exit(settings_or_exit())
    try:
        _summary(change_run(container.uow(), _operator(), run_id, "stop", container.now()))  # type: ignore[arg-type]
    except ServiceError as error:
        raise _fail(error) from None
    finally:
        container.dispose()


@refund_app.command("status")
def status(run_id: Annotated[int | None, typer.Argument(help="The run's number (default: every run).")] = None) -> None:
    """A run's progress and totals, or every run's."""
    from kameng.operator.mass_queries import get_run, list_runs
    from kameng.platform.errors import ServiceError

    container = container_or_exit(settings_or_exit())
    try:
        if run_id is not None:
            _summary(get_run(container.uow(), run_id))
            return
        for run, _ in list_runs(container.uow()):
            _summary(run)
    except ServiceError as error:
        raise _fail(error) from None
    finally:
        container.dispose()


def _moment(value: str, name: str) -> datetime:
    from kameng.domain.calendar import SHANGHAI

    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        typer.echo(f"error: --{name} is not a date and time (YYYY-MM-DDTHH:MM, Beijing time)", err=True)
        raise typer.Exit(2) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


@outage_app.command("record")
def record(
    scope: Annotated[str, typer.Option(help="product, merchant or platform.")],
    start: Annotated[str, typer.Option("--from", help="Start, YYYY-MM-DDTHH:MM (Beijing unless a zone is given).")],
    end: Annotated[str, typer.Option("--to", help="End, same format.")],
    target: Annotated[str | None, typer.Option(help="The product's slug or id, or the merchant's id.")] = None,
    note: Annotated[str, typer.Option(help="What happened.")] = "",
) -> None:
    """Record an outage once; every affected order gets its ``outage`` event (again: nothing added)."""
    from kameng.operator.outages import OutageCommand, record_outage
    from kameng.platform.errors import ServiceError

    command = OutageCommand(scope, _moment(start, "from"), _moment(end, "to"), target, note)
    container = container_or_exit(settings_or_exit())
    try:
        done = record_outage(container.uow(), _operator(), command, container.now())  # type: ignore[arg-type]
    except ServiceError as error:
        raise _fail(error) from None
    finally:
        container.dispose()
    word = "recorded" if done.created else "already recorded"
    typer.echo(
        f"outage {done.outage.id} {word}: {done.outage.scope_key}, {done.orders_marked} order(s) marked now,"
        f" {done.outage.orders_marked} in all"
    )
