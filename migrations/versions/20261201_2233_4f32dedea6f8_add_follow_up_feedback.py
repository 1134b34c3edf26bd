"""Add follow-up-day feedback: one answer per enrolment (feedback: earlier involvement of the parents, free
text, when submitted and last edited) and per method taught its use before the course and since
(feedback_method_answers, one per answer and method).

Revision ID: 4f32dedea6f8
Revises: 1716b4c8b490
Create Date: 2026-12-01 22:33:00.636344

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4f32dedea6f8'
down_revision = '1716b4c8b490'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('earlier_involvement', sa.Enum('yes', 'partly', 'no', name='earlier_involvement', native_enum=False, length=20), nullable=False),
    sa.Column('free_text', sa.Text(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolments.id'], name=op.f('fk_feedback_enrolment_id_enrolments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback')),
    sa.UniqueConstraint('enrolment_id', name=op.f('uq_feedback_enrolment_id'))
    )
    op.create_table('feedback_method_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('feedback_id', sa.Integer(), nullable=False),
    sa.Column('method_id', sa.Integer(), nullable=False),
    sa.Column('before', sa.Enum('never', 'rarely', 'monthly', 'weekly', name='feedback_frequency', native_enum=False, length=20), nullable=False),
    sa.Column('since', sa.Enum('never', 'rarely', 'monthly', 'weekly', name='feedback_frequency', native_enum=False, length=20), nullable=False),
    sa.ForeignKeyConstraint(['feedback_id'], ['feedback.id'], name=op.f('fk_feedback_method_answers_feedback_id_feedback'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['method_id'], ['methods.id'], name=op.f('fk_feedback_method_answers_method_id_methods'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_method_answers')),
    sa.UniqueConstraint('feedback_id', 'method_id', name='uq_feedback_method_answers_feedback_method')
    )
    with op.batch_alter_table('feedback_method_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_method_answers_feedback_id'), ['feedback_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_method_answers_method_id'), ['method_id'], unique=False)



def downgrade():
    with op.batch_alter_table('feedback_method_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_method_answers_method_id'))
        batch_op.drop_index(batch_op.f('ix_feedback_method_answers_feedback_id'))

    op.drop_table('feedback_method_answers')
    op.drop_table('feedback')
