"""Index scim_users.employee_number: the read API finds a person's completions by the directory's employee
number (GET /api/v1/completions?employee_number=, app.api.resources.list_completions).

Revision ID: a23f1e0c9b47
Revises: 61d6d6e55b83
Create Date: 2026-12-07 21:10:00.000000

"""
from __future__ import annotations

from alembic import op

# revision identifiers, used by Alembic.
revision = 'a23f1e0c9b47'
down_revision = '61d6d6e55b83'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('scim_users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scim_users_employee_number'), ['employee_number'], unique=False)


def downgrade():
    with op.batch_alter_table('scim_users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scim_users_employee_number'))
