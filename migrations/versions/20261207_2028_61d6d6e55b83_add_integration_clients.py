"""Integration clients (issue 23): programs calling /scim/v2 and /api/v1 with a bearer token.

integration_clients holds each client's scopes and the SHA-256 of its token (never the token);
audit_entries.client_id names the client that did what an entry records (the actor is then empty).

Revision ID: 61d6d6e55b83
Revises: 4718a6e75e91
Create Date: 2026-12-07 20:28:36.446133

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '61d6d6e55b83'
down_revision = '4718a6e75e91'
branch_labels = None
depends_on = None


def _keep_subjects():
    op.execute('CREATE TEMPORARY TABLE kp_keep_subjects AS SELECT entry_id, user_id FROM audit_entry_subjects')


def _restore_subjects():
    op.execute(
        'INSERT INTO audit_entry_subjects (entry_id, user_id) SELECT k.entry_id, k.user_id FROM kp_keep_subjects k '
        'WHERE NOT EXISTS (SELECT 1 FROM audit_entry_subjects s WHERE s.entry_id = k.entry_id AND s.user_id = k.user_id)'
    )
    op.execute('DROP TABLE kp_keep_subjects')


def upgrade():
    op.create_table('integration_clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('scopes', sa.String(length=200), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('token_hint', sa.String(length=12), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('token_created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_integration_clients_created_by_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integration_clients')),
    sa.UniqueConstraint('name', name=op.f('uq_integration_clients_name')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_integration_clients_token_hash'))
    )
    with op.batch_alter_table('integration_clients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_integration_clients_created_by_id'), ['created_by_id'], unique=False)

    # SQLite's batch mode copies audit_entries into a new table and drops the old one, and that DROP deletes
    # audit_entry_subjects' rows by their ON DELETE CASCADE (foreign keys are on, and can't be switched off
    # inside the migration's transaction): keep them aside and put them back.
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        _keep_subjects()
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_entries_client_id'), ['client_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_audit_entries_client_id_integration_clients'), 'integration_clients', ['client_id'], ['id'], ondelete='RESTRICT')
    if sqlite:
        _restore_subjects()


def downgrade():
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:  # as in upgrade(): the table copy's DROP would cascade to audit_entry_subjects
        _keep_subjects()
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_audit_entries_client_id_integration_clients'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_audit_entries_client_id'))
        batch_op.drop_column('client_id')
    if sqlite:
        _restore_subjects()

    with op.batch_alter_table('integration_clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_integration_clients_created_by_id'))

    op.drop_table('integration_clients')
