"""plans (reserved; filled in by the work on it)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 23:20:00.000000

"""
from typing import Sequence, Union

from alembic import op  # noqa: F401


revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
