"""mfa_credentials: wrong second-factor codes counted per account, across logins (issue 20).

The pending login's own count started at 0 with every correct password, so whoever knew a password got five
more code guesses per login, without end. `failed_codes` counts wrong codes until a right one (or a
coordinator's unlock), `next_code_at` holds the slowdown, `locked_at` the lock, and `refusal_noted_at` keeps
refused attempts from flooding the audit log (docs/authentication.md, "Limits of the second step").
Existing rows start at zero: nothing to fill.

Revision ID: 601bff391add
Revises: 8e4f2a6c1d07
Create Date: 2026-12-07 18:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "601bff391add"
down_revision = "8e4f2a6c1d07"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("mfa_credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_codes", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_code_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("refusal_noted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("mfa_credentials", schema=None) as batch_op:
        batch_op.drop_column("refusal_noted_at")
        batch_op.drop_column("locked_at")
        batch_op.drop_column("next_code_at")
        batch_op.drop_column("failed_codes")
