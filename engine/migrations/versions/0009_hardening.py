"""hardening: one account per name whatever its case, sessions that can be ended, throttling in the database

- `users.username` is unique in lower case (`uq_users_username_lower`): task identity compares names in
  lower case, so `ANA` next to `ana` could do ana's tasks. Old data is made to fit first: of accounts
  whose names differ only in case, the oldest keeps its name and the others get `-<id>` appended; an
  account named like one of Baton's own actors (`scheduler`, `cli`, `worker`, `system`) is renamed the
  same way. Their history keeps the names they acted under.
- `sign_ins` holds each signed-in browser session (the SHA-256 of the id its cookie carries): signing
  out deletes its row, a password change or reset deletes all of the user's, and a cookie whose row is
  gone no longer signs anyone in, wherever it was copied to.
- `login_failures` holds failed sign-ins for the throttle, shared by every web process; rows older than
  the throttle's window are deleted as new ones come.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 23:20:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INTERNAL_NAMES = {"scheduler", "cli", "worker", "system"}   # as engine.access.INTERNAL_NAMES was at 0009


def _rename_clashing_users():
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.String))
    bind = op.get_bind()
    rows = bind.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id)).all()
    taken = {name.lower() for _, name in rows}
    kept = set()
    for user_id, name in rows:
        if name.lower() not in kept and name.lower() not in _INTERNAL_NAMES:
            kept.add(name.lower())
            continue
        new = f"{name[:70]}-{user_id}"
        while new.lower() in taken:
            new += "x"
        taken.add(new.lower())
        kept.add(new.lower())
        bind.execute(users.update().where(users.c.id == user_id).values(username=new))


def upgrade() -> None:
    _rename_clashing_users()
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)
    op.create_table(
        "sign_ins",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False))
    op.create_index("ix_sign_ins_user_id", "sign_ins", ["user_id"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False))
    op.create_index("ix_login_failures_username_at", "login_failures", ["username", "at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_username_at", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index("ix_sign_ins_user_id", table_name="sign_ins")
    op.drop_table("sign_ins")
    op.drop_index("uq_users_username_lower", table_name="users")
