"""audit_entry_subjects: the persons each read entry of the audit log showed (issue 20).

A participant list, the user list or the audit page shows many people at once; one row per person shown,
indexed by user_id, makes "who saw person X, when, on which page" one indexed query. The entries written
before this revision named at most their subject (audit_entries.subject_id): a read entry with a subject gets
its row here too, so the answer covers them.

Revision ID: c3a91d5e7b20
Revises: 601bff391add
Create Date: 2026-12-07 18:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3a91d5e7b20'
down_revision = '601bff391add'
branch_labels = None
depends_on = None

#: The read actions that existed before this revision (app.audit.services.record_read).
READ_ACTIONS = ('user.view', 'user.search', 'participants.view', 'enrolment.view', 'feedback.view',
                'user.data_export', 'audit.search')


def upgrade():
    op.create_table('audit_entry_subjects',
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['audit_entries.id'], name=op.f('fk_audit_entry_subjects_entry_id_audit_entries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_audit_entry_subjects_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('entry_id', 'user_id', name=op.f('pk_audit_entry_subjects'))
    )
    with op.batch_alter_table('audit_entry_subjects', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entry_subjects_user_id', ['user_id', 'entry_id'], unique=False)
    actions = ', '.join(f"'{action}'" for action in READ_ACTIONS)
    op.execute(
        'INSERT INTO audit_entry_subjects (entry_id, user_id) '
        f'SELECT id, subject_id FROM audit_entries WHERE subject_id IS NOT NULL AND action IN ({actions})'
    )


def downgrade():
    with op.batch_alter_table('audit_entry_subjects', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_subjects_user_id')
    op.drop_table('audit_entry_subjects')
