"""Add scheduler_heartbeats: the row the active scheduler updates each minute and `/healthz` reads.

Revision ID: 311229a1745c
Revises: 3bde93fe7443
Create Date: 2026-12-02 06:09:18.860646

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '311229a1745c'
down_revision = '3bde93fe7443'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('scheduler_heartbeats',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('beat_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_heartbeats'))
    )


def downgrade():
    op.drop_table('scheduler_heartbeats')
