"""unit_leaders.source: who set a leader — the coordinator, or the directory (SCIM's manager) (issue 24).

Revision ID: d1e3c7e0a5b2
Revises: 5e1d2a9c7b31
Create Date: 2026-12-07 22:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd1e3c7e0a5b2'
down_revision = "5e1d2a9c7b31"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('unit_leaders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=20), server_default='coordinator', nullable=False))


def downgrade():
    with op.batch_alter_table('unit_leaders', schema=None) as batch_op:
        batch_op.drop_column('source')
