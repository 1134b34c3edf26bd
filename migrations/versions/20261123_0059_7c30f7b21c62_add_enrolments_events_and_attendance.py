"""Add enrolments (with the waiting-list queue), their events, attendance, and the run's seat counter.

Revision ID: 7c30f7b21c62
Revises: 2ce22e5eabb9
Create Date: 2026-11-23 00:59:10.754396

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c30f7b21c62'
down_revision = '2ce22e5eabb9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('enrolments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_run_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('requested', 'confirmed', 'waitlisted', 'cancelled', 'rejected', 'moved', name='enrolment_status', native_enum=False, length=20), nullable=False),
    sa.Column('practice_case', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('queue_number', sa.Integer(), nullable=True),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('moved_from_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint("status != 'waitlisted' OR queue_number IS NOT NULL", name=op.f('ck_enrolments_waitlisted_has_queue_number')),
    sa.ForeignKeyConstraint(['course_run_id'], ['course_runs.id'], name=op.f('fk_enrolments_course_run_id_course_runs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['moved_from_id'], ['enrolments.id'], name=op.f('fk_enrolments_moved_from_id_enrolments')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_enrolments_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolments')),
    sa.UniqueConstraint('course_run_id', 'queue_number', name='uq_enrolments_run_queue_number')
    )
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrolments_course_run_id'), ['course_run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrolments_moved_from_id'), ['moved_from_id'], unique=False)
        batch_op.create_index('ix_enrolments_run_status', ['course_run_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrolments_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrolments_user_id'), ['user_id'], unique=False)
        batch_op.create_index('uq_enrolments_one_active_per_user', ['course_run_id', 'user_id'], unique=True, sqlite_where=sa.text("status IN ('requested', 'confirmed', 'waitlisted')"), postgresql_where=sa.text("status IN ('requested', 'confirmed', 'waitlisted')"))

    op.create_table('attendances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('course_day_id', sa.Integer(), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_day_id'], ['course_days.id'], name=op.f('fk_attendances_course_day_id_course_days'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolments.id'], name=op.f('fk_attendances_enrolment_id_enrolments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_attendances_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendances')),
    sa.UniqueConstraint('enrolment_id', 'course_day_id', name='uq_attendances_enrolment_day')
    )
    with op.batch_alter_table('attendances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attendances_course_day_id'), ['course_day_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attendances_enrolment_id'), ['enrolment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attendances_recorded_by_id'), ['recorded_by_id'], unique=False)

    op.create_table('enrolment_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('course_run_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('requested', 'confirmed', 'waitlisted', 'approved', 'rejected', 'promoted', 'cancelled', 'moved_out', 'moved_in', name='enrolment_event_kind', native_enum=False, length=20), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_enrolment_events_actor_id_users')),
    sa.ForeignKeyConstraint(['course_run_id'], ['course_runs.id'], name=op.f('fk_enrolment_events_course_run_id_course_runs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolments.id'], name=op.f('fk_enrolment_events_enrolment_id_enrolments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolment_events'))
    )
    with op.batch_alter_table('enrolment_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrolment_events_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrolment_events_course_run_id'), ['course_run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrolment_events_enrolment_id'), ['enrolment_id'], unique=False)

    with op.batch_alter_table('course_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seats_taken', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('queue_counter', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('requires_approval', sa.Boolean(), server_default='0', nullable=False))
        batch_op.create_check_constraint('seats_within_capacity', 'seats_taken >= 0 AND seats_taken <= capacity')



def downgrade():
    with op.batch_alter_table('course_runs', schema=None) as batch_op:
        batch_op.drop_constraint('seats_within_capacity', type_='check')
        batch_op.drop_column('requires_approval')
        batch_op.drop_column('queue_counter')
        batch_op.drop_column('seats_taken')

    with op.batch_alter_table('enrolment_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enrolment_events_enrolment_id'))
        batch_op.drop_index(batch_op.f('ix_enrolment_events_course_run_id'))
        batch_op.drop_index(batch_op.f('ix_enrolment_events_actor_id'))

    op.drop_table('enrolment_events')
    with op.batch_alter_table('attendances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attendances_recorded_by_id'))
        batch_op.drop_index(batch_op.f('ix_attendances_enrolment_id'))
        batch_op.drop_index(batch_op.f('ix_attendances_course_day_id'))

    op.drop_table('attendances')
    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.drop_index('uq_enrolments_one_active_per_user', sqlite_where=sa.text("status IN ('requested', 'confirmed', 'waitlisted')"), postgresql_where=sa.text("status IN ('requested', 'confirmed', 'waitlisted')"))
        batch_op.drop_index(batch_op.f('ix_enrolments_user_id'))
        batch_op.drop_index(batch_op.f('ix_enrolments_status'))
        batch_op.drop_index('ix_enrolments_run_status')
        batch_op.drop_index(batch_op.f('ix_enrolments_moved_from_id'))
        batch_op.drop_index(batch_op.f('ix_enrolments_course_run_id'))

    op.drop_table('enrolments')
