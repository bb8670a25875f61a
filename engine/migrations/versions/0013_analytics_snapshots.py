"""analytics snapshots: the figures of big process versions, kept by the worker

`analytics_snapshots` holds, per process version, the analytics the worker last computed, the number
of completed steps they were drawn from and when. Versions with more completed steps than
BATON_ANALYTICS_LIVE_LIMIT are answered from here (see engine/insight/snapshots.py).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 04:10:00.000000

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: Union[str, Sequence[str], None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "analytics_snapshots",
        sa.Column("process_key", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("process_key", "version"),
    )


def downgrade() -> None:
    op.drop_table("analytics_snapshots")
