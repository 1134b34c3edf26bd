"""Integration clients and SCIM provisioning (issue 23).

integration_clients holds each client's scopes and the SHA-256 of its token (never the token);
audit_entries.client_id names the client that did what an entry records (the actor is then empty).
scim_users is the directory's view of each provisioned user; scim_value_mappings the job titles and
departments it sent, mapped by the coordinator to staff roles and units.

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


    # SCIM provisioning: the directory's view of each provisioned user, and the titles/departments it sent.
    op.create_table('scim_value_mappings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('title', 'department', name='scim_mapping_kind', native_enum=False, length=20), nullable=False),
    sa.Column('value_key', sa.String(length=200), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.Column('staff_role_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_role_id'], ['staff_roles.id'], name=op.f('fk_scim_value_mappings_staff_role_id_staff_roles'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_scim_value_mappings_unit_id_units'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scim_value_mappings')),
    sa.UniqueConstraint('kind', 'value_key', name='uq_scim_value_mappings_kind_value_key')
    )
    with op.batch_alter_table('scim_value_mappings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scim_value_mappings_staff_role_id'), ['staff_role_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scim_value_mappings_unit_id'), ['unit_id'], unique=False)

    op.create_table('scim_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scim_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('user_name_key', sa.String(length=254), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('department', sa.String(length=200), nullable=True),
    sa.Column('employee_number', sa.String(length=64), nullable=True),
    sa.Column('manager_ref', sa.String(length=255), nullable=True),
    sa.Column('resource', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['integration_clients.id'], name=op.f('fk_scim_users_client_id_integration_clients'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_scim_users_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scim_users')),
    sa.UniqueConstraint('scim_id', name=op.f('uq_scim_users_scim_id')),
    sa.UniqueConstraint('user_id', name=op.f('uq_scim_users_user_id')),
    sa.UniqueConstraint('user_name_key', name=op.f('uq_scim_users_user_name_key'))
    )
    with op.batch_alter_table('scim_users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scim_users_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scim_users_external_id'), ['external_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_scim_users_manager_ref'), ['manager_ref'], unique=False)

def downgrade():
    op.drop_table('scim_users')
    op.drop_table('scim_value_mappings')
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
