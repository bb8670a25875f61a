"""other tools files: called diagrams taken from earlier deploys, and deploy warnings

Camunda and SpiffArena resolve a call activity's `calledElement` among the processes already
deployed. A definition keeps a copy of each called diagram it took from an earlier deploy
(`definition_files.lent_from`: the definition it came from; null for the files uploaded), so its
instances run against the same called processes after a restart and after a newer version is
deployed. `definitions.warnings` lists what a deploy accepted but the designer should know (a
called process deployed nowhere yet). `human_tasks.item` is the item of a multi-instance
activity's collection a task is about (`Review email` is about "email").

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 23:20:00.000000

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("definition_files", sa.Column("lent_from", sa.Integer(), nullable=True))
    op.add_column("definitions", sa.Column("warnings", sa.JSON(), nullable=True))
    op.add_column("human_tasks", sa.Column("item", sa.JSON(), nullable=True))


def downgrade() -> None:
    # not in batch mode: on SQLite that copies the table and loses the indexes it cannot reflect
    # (ix_human_tasks_open_order is on an expression); SQLite 3.35+ drops a column in place
    op.drop_column("human_tasks", "item")
    op.drop_column("definitions", "warnings")
    op.drop_column("definition_files", "lent_from")
