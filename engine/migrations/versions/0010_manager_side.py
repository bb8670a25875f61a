"""manager side: when a task was claimed, the calendar feeds' secrets, and indexes for the manager's views

`human_tasks.claimed_at` splits a step's time into waiting (ready → claimed) and working (claimed →
completed) for the analytics. `calendar_feeds` holds each person's secret feed address. The indexes
serve the overview (overdue and stalled work), the instance list's visibility rule (who started or
acted on an instance) and the analytics (a process version's instances).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 23:20:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("human_tasks", sa.Column("claimed_at", sa.DateTime(), nullable=True))
    op.create_table(
        "calendar_feeds",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("secret", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False))
    op.create_index("ix_human_tasks_open_process", "human_tasks", ["process_key", "element_id"],
                    sqlite_where=sa.text("state = 'open'"), postgresql_where=sa.text("state = 'open'"))
    op.create_index("ix_events_user_instance", "events", ["user", "instance_id"])
    op.create_index("ix_instances_started_by", "instances", ["started_by"])
    op.create_index("ix_instances_status_updated", "instances", ["status", "updated_at"])
    op.create_index("ix_instances_process_version", "instances", ["process_key", "version"])


def downgrade() -> None:
    op.drop_index("ix_instances_process_version", table_name="instances")
    op.drop_index("ix_instances_status_updated", table_name="instances")
    op.drop_index("ix_instances_started_by", table_name="instances")
    op.drop_index("ix_events_user_instance", table_name="events")
    op.drop_index("ix_human_tasks_open_process", table_name="human_tasks")
    op.drop_table("calendar_feeds")
    # a plain DROP COLUMN (SQLite 3.35+): a batch rebuild of human_tasks would lose its expression index
    op.drop_column("human_tasks", "claimed_at")
