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
    with op.batch_alter_table("human_tasks") as batch:
        batch.drop_column("item")
    with op.batch_alter_table("definitions") as batch:
        batch.drop_column("warnings")
    with op.batch_alter_table("definition_files") as batch:
        batch.drop_column("lent_from")
