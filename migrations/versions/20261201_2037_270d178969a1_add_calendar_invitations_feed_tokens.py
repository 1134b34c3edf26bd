"""Add calendar invitations (what each participant's calendar holds of each course day), the personal
calendar feed token, and the time the follow-up job confirmed a run's follow-up day.

Revision ID: 270d178969a1
Revises: 5f6fffba585a
Create Date: 2026-12-01 20:37:07.860207

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '270d178969a1'
down_revision = '5f6fffba585a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('course_day_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('day_revision', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_message_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['course_day_id'], ['course_days.id'], name=op.f('fk_calendar_invitations_course_day_id_course_days'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['last_message_id'], ['outbox_messages.id'], name=op.f('fk_calendar_invitations_last_message_id_outbox_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolments.id'], name=op.f('fk_calendar_invitations_enrolment_id_enrolments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_invitations')),
    sa.UniqueConstraint('enrolment_id', 'course_day_id', name='uq_calendar_invitations_enrolment_day')
    )
    with op.batch_alter_table('calendar_invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_invitations_course_day_id'), ['course_day_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calendar_invitations_enrolment_id'), ['enrolment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calendar_invitations_last_message_id'), ['last_message_id'], unique=False)

    with op.batch_alter_table('course_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_up_confirmed_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calendar_token', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_users_calendar_token'), ['calendar_token'])



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_users_calendar_token'), type_='unique')
        batch_op.drop_column('calendar_token')

    with op.batch_alter_table('course_runs', schema=None) as batch_op:
        batch_op.drop_column('follow_up_confirmed_at')

    with op.batch_alter_table('calendar_invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_invitations_last_message_id'))
        batch_op.drop_index(batch_op.f('ix_calendar_invitations_enrolment_id'))
        batch_op.drop_index(batch_op.f('ix_calendar_invitations_course_day_id'))

    op.drop_table('calendar_invitations')
