"""create initial schema

Revision ID: 2ce22e5eabb9
Revises: 
Create Date: 2026-11-22 22:20:37.590637

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '2ce22e5eabb9'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('closed_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_closed_days')),
    sa.UniqueConstraint('day', name=op.f('uq_closed_days_day'))
    )
    op.create_table('methods',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_methods')),
    sa.UniqueConstraint('name', name=op.f('uq_methods_name'))
    )
    op.create_table('programmes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('target_deadline', sa.Date(), nullable=False),
    sa.Column('target_runs', sa.Integer(), nullable=False),
    sa.Column('target_completed_staff', sa.Integer(), nullable=False),
    sa.Column('effect_target', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_programmes_ends_after_start')),
    sa.CheckConstraint('target_runs >= 0 AND target_completed_staff >= 0', name=op.f('ck_programmes_targets_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programmes')),
    sa.UniqueConstraint('name', name=op.f('uq_programmes_name'))
    )
    op.create_table('providers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('contact_name', sa.String(length=200), nullable=True),
    sa.Column('contact_email', sa.String(length=254), nullable=True),
    sa.Column('contact_phone', sa.String(length=40), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_providers')),
    sa.UniqueConstraint('name', name=op.f('uq_providers_name'))
    )
    op.create_table('staff_roles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_roles')),
    sa.UniqueConstraint('name', name=op.f('uq_staff_roles_name'))
    )
    op.create_table('units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['parent_id'], ['units.id'], name=op.f('fk_units_parent_id_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_units')),
    sa.UniqueConstraint('name', name=op.f('uq_units_name'))
    )
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_units_parent_id'), ['parent_id'], unique=False)

    op.create_table('budget_allocations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('amount_ore', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount_ore >= 0', name=op.f('ck_budget_allocations_amount_not_negative')),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_budget_allocations_programme_id_programmes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_budget_allocations_provider_id_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_budget_allocations')),
    sa.UniqueConstraint('programme_id', 'provider_id', 'year', name='uq_budget_allocations_programme_provider_year')
    )
    with op.batch_alter_table('budget_allocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_budget_allocations_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_budget_allocations_provider_id'), ['provider_id'], unique=False)

    op.create_table('course_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('kind', sa.Enum('standard', 'special', name='run_kind', native_enum=False, length=20), nullable=False),
    sa.Column('status', sa.Enum('draft', 'published', 'cancelled', 'completed', name='run_status', native_enum=False, length=20), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('enrolment_deadline', sa.Date(), nullable=False),
    sa.Column('venue', sa.String(length=300), nullable=False),
    sa.Column('price_ore', sa.BigInteger(), nullable=False),
    sa.Column('follow_up_proposed_on', sa.Date(), nullable=True),
    sa.Column('follow_up_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint('capacity >= 1', name=op.f('ck_course_runs_capacity_positive')),
    sa.CheckConstraint('price_ore >= 0', name=op.f('ck_course_runs_price_not_negative')),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_course_runs_programme_id_programmes')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_course_runs_provider_id_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_runs'))
    )
    with op.batch_alter_table('course_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_course_runs_enrolment_deadline'), ['enrolment_deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_course_runs_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_course_runs_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_course_runs_status'), ['status'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=True),
    sa.Column('access_level', sa.Enum('coordinator', 'staff', 'provider', name='access_level', native_enum=False, length=20), nullable=False),
    sa.Column('active', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('locale', sa.String(length=5), nullable=True),
    sa.Column('staff_role_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint("access_level != 'provider' OR provider_id IS NOT NULL", name=op.f('ck_users_provider_user_has_provider')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_users_provider_id_providers')),
    sa.ForeignKeyConstraint(['staff_role_id'], ['staff_roles.id'], name=op.f('fk_users_staff_role_id_staff_roles')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_users_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_access_level'), ['access_level'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_staff_role_id'), ['staff_role_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_unit_id'), ['unit_id'], unique=False)

    op.create_table('course_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_run_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('teaching', 'follow_up', name='day_kind', native_enum=False, length=20), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('starts_at', sa.Time(), nullable=False),
    sa.Column('ends_at', sa.Time(), nullable=False),
    sa.Column('venue', sa.String(length=300), nullable=True),
    sa.Column('ical_uid', sa.String(length=64), nullable=False),
    sa.Column('sequence', sa.Integer(), server_default='0', nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_course_days_ends_after_start')),
    sa.CheckConstraint('sequence >= 0', name=op.f('ck_course_days_sequence_not_negative')),
    sa.ForeignKeyConstraint(['course_run_id'], ['course_runs.id'], name=op.f('fk_course_days_course_run_id_course_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_days')),
    sa.UniqueConstraint('course_run_id', 'position', name='uq_course_days_run_position'),
    sa.UniqueConstraint('ical_uid', name=op.f('uq_course_days_ical_uid'))
    )
    with op.batch_alter_table('course_days', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_course_days_course_run_id'), ['course_run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_course_days_day'), ['day'], unique=False)

    op.create_table('course_run_eligible_roles',
    sa.Column('course_run_id', sa.Integer(), nullable=False),
    sa.Column('staff_role_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_run_id'], ['course_runs.id'], name=op.f('fk_course_run_eligible_roles_course_run_id_course_runs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_role_id'], ['staff_roles.id'], name=op.f('fk_course_run_eligible_roles_staff_role_id_staff_roles'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('course_run_id', 'staff_role_id', name=op.f('pk_course_run_eligible_roles'))
    )
    with op.batch_alter_table('course_run_eligible_roles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_course_run_eligible_roles_staff_role_id'), ['staff_role_id'], unique=False)

    op.create_table('course_run_methods',
    sa.Column('course_run_id', sa.Integer(), nullable=False),
    sa.Column('method_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_run_id'], ['course_runs.id'], name=op.f('fk_course_run_methods_course_run_id_course_runs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['method_id'], ['methods.id'], name=op.f('fk_course_run_methods_method_id_methods'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('course_run_id', 'method_id', name=op.f('pk_course_run_methods'))
    )
    with op.batch_alter_table('course_run_methods', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_course_run_methods_method_id'), ['method_id'], unique=False)



def downgrade():
    with op.batch_alter_table('course_run_methods', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_course_run_methods_method_id'))

    op.drop_table('course_run_methods')
    with op.batch_alter_table('course_run_eligible_roles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_course_run_eligible_roles_staff_role_id'))

    op.drop_table('course_run_eligible_roles')
    with op.batch_alter_table('course_days', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_course_days_day'))
        batch_op.drop_index(batch_op.f('ix_course_days_course_run_id'))

    op.drop_table('course_days')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_unit_id'))
        batch_op.drop_index(batch_op.f('ix_users_staff_role_id'))
        batch_op.drop_index(batch_op.f('ix_users_provider_id'))
        batch_op.drop_index(batch_op.f('ix_users_access_level'))

    op.drop_table('users')
    with op.batch_alter_table('course_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_course_runs_status'))
        batch_op.drop_index(batch_op.f('ix_course_runs_provider_id'))
        batch_op.drop_index(batch_op.f('ix_course_runs_programme_id'))
        batch_op.drop_index(batch_op.f('ix_course_runs_enrolment_deadline'))

    op.drop_table('course_runs')
    with op.batch_alter_table('budget_allocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_budget_allocations_provider_id'))
        batch_op.drop_index(batch_op.f('ix_budget_allocations_programme_id'))

    op.drop_table('budget_allocations')
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_units_parent_id'))

    op.drop_table('units')
    op.drop_table('staff_roles')
    op.drop_table('providers')
    op.drop_table('programmes')
    op.drop_table('methods')
    op.drop_table('closed_days')
