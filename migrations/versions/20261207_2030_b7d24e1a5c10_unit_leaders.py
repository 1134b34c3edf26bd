"""unit_leaders: the leaders (nærmeste ledere) of a unit, set by the coordinator (issue 24).

Who leads a unit in effect (a leader leads the sub-units without leaders of their own) is worked out by
app.accounts.directory.leaders, not stored.

Revision ID: b7d24e1a5c10
Revises: 4718a6e75e91
Create Date: 2026-12-07 20:30:00.000000

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b7d24e1a5c10"
down_revision = "4718a6e75e91"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "unit_leaders",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_unit_leaders_unit_id_units"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_unit_leaders_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("unit_id", "user_id", name=op.f("pk_unit_leaders")),
    )
    with op.batch_alter_table("unit_leaders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unit_leaders_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("unit_leaders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unit_leaders_user_id"))
    op.drop_table("unit_leaders")
