"""A demo database with one refund walked all the way: the world the evidence and audit tests read.

Demo data, then the consumer's annual card: a refund request with a file, the agent asks for
more, the consumer answers, the agent approves, the worker sends the refund and finds it paid.
Its timeline has seven rows; ``seq`` 3 is the agent's question and 7 the refund's arrival.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from kameng import compose
from kameng.aftersales.requests import RefundRequestCommand, reply, submit_request
from kameng.aftersales.review import approve, ask_info
from kameng.aftersales.uploads import Upload
from kameng.catalog.models import ProductRow
from kameng.demo import seed_demo
from kameng.domain.model import Reason
from kameng.domain.users import Role
from kameng.orders.models import OrderRow
from kameng.platform.access import Viewer
from kameng.platform.calendars import load_calendar
from kameng.platform.db.database import make_engine
from kameng.platform.db.uow import UnitOfWork
from kameng.settings import Settings
from kameng.worker import run_tick

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
AGENT = Viewer(1, Role.AGENT)  # demo staff sign up first: agent, supervisor, operator
CONSUMER = Viewer(4, Role.CONSUMER)  # 13800000001, who has the demo orders
OTHER_CONSUMER = Viewer(5, Role.CONSUMER)
NOTE = "会员只用了一次,截图见附件。".encode()


@dataclass
class World:
    url: str
    uow: Callable[[], UnitOfWork]
    ticket_no: str
    order_no: str

    def execute(self, statement: str) -> None:
        """Tamper with the database behind the services' back, as an intruder would."""
        engine = make_engine(self.url)
        try:
            with engine.begin() as connection:
                connection.execute(text(statement))
        finally:
            engine.dispose()


def refunded_ticket(url: str) -> World:
    """On the empty migrated database at ``url``: the demo, and one ticket refunded end to end."""
    container = compose.build(Settings(database_url=url, environment="test", secret_key="t"))
    uow = container.uow
    seed_demo(container, compose.simulator_payer(container.payments), NOW - timedelta(days=1))
    with uow() as work:
        order_no = work.session.scalar(
            select(OrderRow.order_no)
            .join(ProductRow, ProductRow.id == OrderRow.product_id)
            .where(OrderRow.user_id == CONSUMER.user_id, ProductRow.slug == "annual-card")
        )
    assert order_no is not None
    calendar = load_calendar(None)
    command = RefundRequestCommand(
        order_no, Reason.CHANGED_MIND, "不想用了,申请退款", [Upload("说明.txt", NOTE)], "evidence-1"
    )
    ticket = submit_request(uow(), CONSUMER, command, NOW, calendar)
    ask_info(uow(), AGENT, ticket.ticket_no, "请提供使用截图", NOW + timedelta(hours=1), calendar)
    reply(uow(), CONSUMER, ticket.ticket_no, "已补充说明", [], NOW + timedelta(hours=2), calendar)
    approve(uow(), AGENT, ticket.ticket_no, NOW + timedelta(hours=3), calendar)
    run_tick(container, NOW + timedelta(hours=3, minutes=1))  # messages out, refund sent
    run_tick(container, NOW + timedelta(hours=4))  # refund polled: money arrived
    return World(url, uow, ticket.ticket_no, order_no)
