"""guards checked on the server

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 17:00:00.000000

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """PostgreSQL: `baton_expect_one(matched, conflict)` raises SQLSTATE BA409 with the message `conflict`
    unless `matched` is 1. A change's guarded writes (its instance row, the task it takes) are checked by
    the server with it, so the change's COMMIT goes in the same round trip as its writes (engine/driver.py).
    SQLite checks them in the process and needs nothing."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION baton_expect_one(matched bigint, conflict text) RETURNS bigint
            LANGUAGE plpgsql AS $$
            BEGIN
                IF matched <> 1 THEN
                    RAISE EXCEPTION USING ERRCODE = 'BA409', MESSAGE = conflict;
                END IF;
                RETURN matched;
            END $$""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION baton_expect_one(bigint, text)")
