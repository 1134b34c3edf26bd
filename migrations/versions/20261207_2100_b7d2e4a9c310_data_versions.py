"""data_versions: a random token per set of rarely changed rows, replaced in the same transaction as any write
to them, so a worker may keep what it derived from them until the token changes (app.core.data_versions;
issue 22). The first one: the run list's filter choices.

Revision ID: b7d2e4a9c310
Revises: a23f1e0c9b47
Create Date: 2026-12-07 21:00:00.000000

"""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7d2e4a9c310'
down_revision = "a23f1e0c9b47"
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'data_versions',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_data_versions')),
    )
    op.bulk_insert(table, [{'name': 'run_list_choices', 'token': uuid.uuid4().hex}])


def downgrade():
    op.drop_table('data_versions')
