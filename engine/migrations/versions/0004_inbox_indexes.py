"""inbox indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 01:50:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OPEN = sa.text("state = 'open'")
CLAIMED = sa.text("claimed_by IS NOT NULL")


def upgrade() -> None:
    """Upgrade schema: partial indexes for the inbox (see engine/models.py, HumanTask)."""
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_human_tasks_open_due')
        batch_op.drop_index('ix_human_tasks_claimed_by')
        batch_op.create_index('ix_human_tasks_open_due', ['due_at'], unique=False,
                              sqlite_where=OPEN, postgresql_where=OPEN)
        batch_op.create_index('ix_human_tasks_claimed_by', ['claimed_by'], unique=False,
                              sqlite_where=CLAIMED, postgresql_where=CLAIMED)
        batch_op.create_index('ix_human_tasks_open_order',
                              [sa.text('(due_at IS NULL)'), 'due_at', 'created_at', 'id'], unique=False,
                              sqlite_where=OPEN, postgresql_where=OPEN)
        batch_op.create_index('ix_human_tasks_open_visible', ['id', 'state', 'claimed_by', 'due_at', 'created_at'],
                              unique=False, sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_human_tasks_open_visible')
        batch_op.drop_index('ix_human_tasks_open_order')
        batch_op.drop_index('ix_human_tasks_claimed_by')
        batch_op.drop_index('ix_human_tasks_open_due')
        batch_op.create_index('ix_human_tasks_claimed_by', ['claimed_by'], unique=False)
        batch_op.create_index('ix_human_tasks_open_due', ['state', 'due_at', 'created_at'], unique=False)
