"""Indexes on the columns that pages and jobs filter or sort on (issue 9): course_runs.anonymised_at and
users.anonymised_at (retention jobs, the user list), users.name (the user list's order) and
outbox_messages.recipient_email (deleting an anonymised person's mail). Every foreign key was indexed already;
tests/perf/test_indexes.py keeps it so.

Revision ID: 33ff2a190236
Revises: d2ec22e166a6
Create Date: 2026-12-02 14:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '33ff2a190236'
down_revision = 'd2ec22e166a6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(op.f('ix_course_runs_anonymised_at'), 'course_runs', ['anonymised_at'], unique=False)
    op.create_index(op.f('ix_outbox_messages_recipient_email'), 'outbox_messages', ['recipient_email'], unique=False)
    op.create_index(op.f('ix_users_anonymised_at'), 'users', ['anonymised_at'], unique=False)
    op.create_index(op.f('ix_users_name'), 'users', ['name'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_users_name'), table_name='users')
    op.drop_index(op.f('ix_users_anonymised_at'), table_name='users')
    op.drop_index(op.f('ix_outbox_messages_recipient_email'), table_name='outbox_messages')
    op.drop_index(op.f('ix_course_runs_anonymised_at'), table_name='course_runs')
