"""inbox counts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 09:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

CLAIMED_SINGLE = "claimed_by IS NOT NULL AND shared = false"
SHARED = "shared = true"


def _only(condition):
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


def upgrade() -> None:
    """Upgrade schema: the open tasks of each key that is a task's only key are counted in `inbox_counts`
    (filled from the candidate rows), and the rows the tab counts still read get small indexes."""
    op.create_table('inbox_counts',
                    sa.Column('key', sa.String(length=100), nullable=False),
                    sa.Column('open_tasks', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('key'))
    op.execute('INSERT INTO inbox_counts ("key", open_tasks) '
               'SELECT "key", count(*) FROM task_candidates WHERE shared = false GROUP BY "key"')
    op.create_index('ix_task_candidates_claimed', 'task_candidates', ['key', 'claimed_by', 'shared'],
                    **_only(CLAIMED_SINGLE))
    op.create_index('ix_task_candidates_shared', 'task_candidates', ['key', 'task_id', 'claimed_by', 'shared'],
                    **_only(SHARED))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_task_candidates_shared', table_name='task_candidates')
    op.drop_index('ix_task_candidates_claimed', table_name='task_candidates')
    op.drop_table('inbox_counts')
