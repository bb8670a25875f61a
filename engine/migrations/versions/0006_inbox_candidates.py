"""inbox candidates

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 20:30:00.000000

"""
import json
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

INBOX_ORDER = [sa.text('(due_at IS NULL)'), 'due_at', 'created_at', 'task_id']


def upgrade() -> None:
    """Upgrade schema: every task keeps its candidate keys itself (`human_tasks.candidate_keys`);
    `task_candidates` holds open tasks only, with what the inbox sorts and filters on."""
    # plain ALTER TABLE, not batch mode: SQLite's table copy would lose the expression indexes
    op.add_column('human_tasks', sa.Column('candidate_keys', sa.JSON(), nullable=True))
    op.add_column('task_candidates', sa.Column('shared', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('task_candidates', sa.Column('claimed_by', sa.String(length=80), nullable=True))
    op.add_column('task_candidates', sa.Column('due_at', sa.DateTime(), nullable=True))
    op.add_column('task_candidates', sa.Column('created_at', sa.DateTime(), nullable=True))
    connection = op.get_bind()
    keys = {}
    for task_id, key in connection.execute(sa.text('SELECT task_id, "key" FROM task_candidates ORDER BY task_id, "key"')):
        keys.setdefault(task_id, []).append(key)
    if keys:
        connection.execute(sa.text("UPDATE human_tasks SET candidate_keys = :keys WHERE id = :id"),
                           [{"id": task_id, "keys": json.dumps(found)} for task_id, found in keys.items()])
    connection.execute(sa.text("DELETE FROM task_candidates WHERE task_id IN "
                               "(SELECT id FROM human_tasks WHERE state != 'open')"))
    connection.execute(sa.text("UPDATE task_candidates SET shared = (SELECT count(*) FROM task_candidates AS other "
                               "WHERE other.task_id = task_candidates.task_id) > 1"))
    for column in ('claimed_by', 'due_at', 'created_at'):
        connection.execute(sa.text(f"UPDATE task_candidates SET {column} = "
                                   f"(SELECT {column} FROM human_tasks WHERE human_tasks.id = task_candidates.task_id)"))
    op.drop_index('ix_task_candidates_key', table_name='task_candidates')
    op.create_index('ix_task_candidates_inbox', 'task_candidates', ['key', *INBOX_ORDER, 'claimed_by', 'shared'])


def downgrade() -> None:
    """Downgrade schema: candidate rows again for every task, from the keys the tasks keep."""
    op.drop_index('ix_task_candidates_inbox', table_name='task_candidates')
    op.create_index('ix_task_candidates_key', 'task_candidates', ['key', 'task_id'])
    connection = op.get_bind()
    closed = connection.execute(sa.text("SELECT id, candidate_keys FROM human_tasks WHERE state != 'open'")).all()
    rows = [{"task_id": task_id, "key": key} for task_id, found in closed
            for key in (json.loads(found) if isinstance(found, str) else found or [])]
    if rows:
        connection.execute(sa.text('INSERT INTO task_candidates (task_id, "key") VALUES (:task_id, :key)'), rows)
    for column in ('created_at', 'due_at', 'claimed_by', 'shared'):
        op.drop_column('task_candidates', column)
    op.drop_column('human_tasks', 'candidate_keys')
