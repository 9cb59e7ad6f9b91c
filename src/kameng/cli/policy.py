"""``kameng policy``: check a draft refund policy, simulate it over the refund history, publish it.

The draft is a YAML file (docs/policies.md): ``product`` and any options of RULES.md section 2.
A draft that is wrong prints one message per option and exits 1; a wrong argument exits 2.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kameng.cli.boot import container_or_exit, settings_or_exit
from kameng.domain.calendar import SHANGHAI
from kameng.domain.money import format_yuan
from kameng.platform.i18n import Lang, pick_lang, translate

if TYPE_CHECKING:
    from kameng.container import Container
    from kameng.operator.policies import Draft
    from kameng.operator.simulation import Change, SimulationResult

policy_app = typer.Typer(
    help="Refund policies: check a draft, simulate it over the history, publish it.", no_args_is_help=True
)

PolicyFile = Annotated[Path, typer.Option("--policy", help="The draft: a YAML file (docs/policies.md).")]
LangOption = Annotated[str, typer.Option("--lang", help="zh (default) or en.")]


def _day(value: str | None, name: str) -> datetime | None:
    """A day (YYYY-MM-DD) as its first moment in Beijing time."""
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value.strip()), time(0), SHANGHAI)
    except ValueError:
        typer.echo(f"error: {name} must be a date such as 2026-01-01, got {value!r}", err=True)
        raise typer.Exit(2) from None


def _draft(container: Container, path: Path, lang: Lang) -> Draft:
    from kameng.operator.policies import DraftInvalid, draft_of, load_document

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        typer.echo(f"error: cannot read {path}: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        return draft_of(container.uow(), load_document(text, str(path)))
    except DraftInvalid as invalid:
        typer.echo(translate("policy.cli.invalid", lang, path=str(path), count=len(invalid.problems)), err=True)
        for problem in invalid.problems:
            typer.echo(f"  {problem.field}: {problem.message(lang)}", err=True)
        raise typer.Exit(1) from None


@policy_app.command("check")
def check(path: PolicyFile, lang: LangOption = "zh") -> None:
    """Check a draft and print its terms exactly as the product page will show them."""
    language = pick_lang(lang)
    container = container_or_exit(settings_or_exit())
    try:
        from kameng.operator.policies import preview

        draft = _draft(container, path, language)
        typer.echo(translate("policy.cli.valid", language, product=draft.slug, version=draft.current_version + 1))
        for zh, en in preview(draft):
            typer.echo(f"  · {zh if language == 'zh' else en}")
    finally:
        container.dispose()


@policy_app.command("simulate")
def simulate(
    path: PolicyFile,
    since: Annotated[str, typer.Option("--since", help="Replay the requests made on or after this day (YYYY-MM-DD).")],
    until: Annotated[str | None, typer.Option("--until", help="…and before this day (default: all of them).")] = None,
    changes_csv: Annotated[
        Path | None, typer.Option("--changes-csv", help="Write every changed request to this CSV file.")
    ] = None,
    show: Annotated[int, typer.Option("--show", min=0, max=10_000, help="Changed requests to list here.")] = 20,
    chunk: Annotated[int, typer.Option("--chunk", min=100, max=100_000, help="Requests read per query.")] = 5000,
    processes: Annotated[
        int,
        typer.Option(
            "--processes", min=1, max=64, help="Worker processes replaying slices side by side (PostgreSQL only)."
        ),
    ] = 1,
    lang: LangOption = "zh",
) -> None:
    """Replay every refund request since a day under the draft and the current policy, side by side."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from kameng.operator.simulation import count_requests
    from kameng.operator.simulation import simulate as run

    language = pick_lang(lang)
    start, end = _day(since, "--since"), _day(until, "--until")
    settings = settings_or_exit()
    container = container_or_exit(settings)
    out = None
    try:
        draft = _draft(container, path, language)
        total = count_requests(container.uow(), draft.product_id, start, end)
        writer = None
        if changes_csv is not None:
            out = changes_csv.open("w", encoding="utf-8", newline="")
            writer = csv.writer(out)
            writer.writerow(
                ["ticket_no", "order_no", "reason", "requested_at", "current_decision", "current_refund",
                 "current_rules", "draft_decision", "draft_refund", "draft_rules", "difference"]
            )  # fmt: skip

        def write(change: Change) -> None:
            if writer is None:
                return
            now, then = change.current, change.draft
            writer.writerow(
                [change.ticket_no, change.order_no, change.reason.value, change.at.isoformat(),
                 now.decision.value, format_yuan(now.refund_fen), ",".join(now.rules),
                 then.decision.value, format_yuan(then.refund_fen), ",".join(then.rules),
                 format_yuan(change.delta_fen)]
            )  # fmt: skip

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, transient=True) as progress:
            task = progress.add_task(translate("policy.cli.replaying", language), total=total)
            result = run(
                container.uow(),
                draft,
                start,
                end,
                review_minutes=settings.policy_review_minutes,
                workday_minutes=settings.policy_workday_minutes,
                chunk=chunk,
                keep_changes=show,
                on_chunk=lambda n: progress.advance(task, n),
                on_change=write,
                processes=processes,
                database_url=settings.database_url,
            )
        _print(result, draft, language)
    finally:
        if out is not None:
            out.close()
        container.dispose()


def _print(result: SimulationResult, draft: Draft, lang: Lang) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=translate("policy.sim.title", lang, product=draft.slug, count=result.requests))
    table.add_column("")
    table.add_column(translate("policy.sim.current", lang, version=draft.current_version), justify="right")
    table.add_column(translate("policy.sim.draft", lang), justify="right")
    for key, current, proposed in (
        ("policy.sim.auto_approved", result.current.auto_approved, result.draft.auto_approved),
        ("policy.sim.reviewed", result.current.reviewed, result.draft.reviewed),
        ("policy.sim.rejected", result.current.rejected, result.draft.rejected),
    ):
        table.add_row(translate(key, lang), str(current), str(proposed))
    table.add_row(
        translate("policy.sim.refunded", lang),
        format_yuan(result.current.refunded_fen),
        format_yuan(result.draft.refunded_fen),
    )
    table.add_row(
        translate("policy.sim.person_days", lang),
        str(result.person_days(result.current)),
        str(result.person_days(result.draft)),
    )
    table.add_row(translate("policy.sim.changed", lang), "", str(result.changed))
    console.print(table)
    if result.changes:
        changes = Table(title=translate("policy.sim.changes", lang))
        for key in ("policy.sim.ticket", "policy.sim.order", "policy.sim.reason", "policy.sim.current_short",
                    "policy.sim.draft_short", "policy.sim.difference"):  # fmt: skip
            changes.add_column(translate(key, lang))
        for change in result.changes:
            changes.add_row(
                change.ticket_no,
                change.order_no,
                change.reason.value,
                f"{change.current.decision.value} {format_yuan(change.current.refund_fen)}",
                f"{change.draft.decision.value} {format_yuan(change.draft.refund_fen)}",
                format_yuan(change.delta_fen),
            )
        console.print(changes)


@policy_app.command("publish")
def publish_command(path: PolicyFile, lang: LangOption = "zh") -> None:
    """Publish a draft as its product's next version; orders already paid keep theirs."""
    from kameng.operator.policies import DraftInvalid, publish

    language = pick_lang(lang)
    container = container_or_exit(settings_or_exit())
    try:
        draft = _draft(container, path, language)
        from kameng.operator.policies import policy_as_draft

        try:
            done = publish(container.uow(), policy_as_draft(draft.slug, draft.policy), None, container.now(), None)
        except DraftInvalid as invalid:
            for problem in invalid.problems:
                typer.echo(f"  {problem.field}: {problem.message(language)}", err=True)
            raise typer.Exit(1) from None
        key = "policy.cli.published" if done.created else "policy.cli.unchanged"
        typer.echo(translate(key, language, product=done.slug, version=done.version))
    finally:
        container.dispose()
