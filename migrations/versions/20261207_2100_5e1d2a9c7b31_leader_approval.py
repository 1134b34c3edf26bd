"""leader approval: a run can require the leader's approval; a request remembers that it awaits the leader (issue 24).

Revision ID: 5e1d2a9c7b31
Revises: b7d2e4a9c310
Create Date: 2026-12-07 21:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e1d2a9c7b31'
down_revision = "b7d2e4a9c310"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('course_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requires_leader_approval', sa.Boolean(), server_default='0', nullable=False))
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('awaits_leader', sa.Boolean(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.drop_column('awaits_leader')
    with op.batch_alter_table('course_runs', schema=None) as batch_op:
        batch_op.drop_column('requires_leader_approval')
