"""plans: several reminders per task, working-day calendars and personal time off

`human_tasks.reminder_leads` keeps how long before its due date each reminder of a task goes out
(seconds, from the step's `reminders` property or BATON_REMINDER_HOURS) and `next_reminder_at` the
moment of the next one, indexed for the worker; open tasks are given theirs as they were reminded
before (at the follow-up date, else 24 hours before the due date). `calendars` and `holidays` are
the working days and public holidays `working_days(n)` and the plan count with; `time_off` is the
days a person is away, which claims and assignments warn about.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 23:20:00.000000

"""
from datetime import timedelta
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_OPEN = "state = 'open'"


def upgrade() -> None:
    op.add_column("human_tasks", sa.Column("reminder_leads", sa.JSON(), nullable=True))
    op.add_column("human_tasks", sa.Column("next_reminder_at", sa.DateTime(), nullable=True))
    op.create_index("ix_human_tasks_next_reminder", "human_tasks", ["next_reminder_at"],
                    sqlite_where=sa.text(_OPEN), postgresql_where=sa.text(_OPEN))
    tasks = sa.table("human_tasks", sa.column("id", sa.String), sa.column("state", sa.String),
                     sa.column("due_at", sa.DateTime), sa.column("follow_up_at", sa.DateTime),
                     sa.column("reminder_sent_at", sa.DateTime), sa.column("next_reminder_at", sa.DateTime))
    connection = op.get_bind()
    for task_id, due_at, follow_up_at in connection.execute(
            sa.select(tasks.c.id, tasks.c.due_at, tasks.c.follow_up_at)
            .where(tasks.c.state == "open", tasks.c.reminder_sent_at.is_(None),
                   sa.or_(tasks.c.due_at.is_not(None), tasks.c.follow_up_at.is_not(None)))).all():
        connection.execute(tasks.update().where(tasks.c.id == task_id).values(
            next_reminder_at=follow_up_at or due_at - timedelta(hours=24)))
    op.create_table(
        "calendars",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False, unique=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("working_days", sa.JSON(), nullable=False),
        sa.Column("day_starts", sa.String(5), nullable=False),
        sa.Column("day_ends", sa.String(5), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False))
    op.create_table(
        "holidays",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("calendar_id", sa.Integer(), sa.ForeignKey("calendars.id", ondelete="CASCADE"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.UniqueConstraint("calendar_id", "day"))
    op.create_table(
        "time_off",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("note", sa.String(255), nullable=True))


def downgrade() -> None:
    op.drop_table("time_off")
    op.drop_table("holidays")
    op.drop_table("calendars")
    op.drop_index("ix_human_tasks_next_reminder", table_name="human_tasks")
    # not in batch mode: on SQLite that copies the table and loses the indexes it cannot reflect
    # (ix_human_tasks_open_order is on an expression); SQLite 3.35+ drops a column in place
    op.drop_column("human_tasks", "next_reminder_at")
    op.drop_column("human_tasks", "reminder_leads")
