"""Add users.session_version (raised to end every session of a user at once) and users.invitation_sent_at
(only the latest invitation link to set a password works).

Revision ID: d7fb7bea7e14
Revises: 311229a1745c
Create Date: 2026-12-02 06:12:23.785876

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd7fb7bea7e14'
down_revision = '311229a1745c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('invitation_sent_at', sa.DateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('invitation_sent_at')
        batch_op.drop_column('session_version')

