"""Add the download log of participant lists (export_downloads): who fetched which run's list, when, in which
format (CSV, XLSX, PDF) and how many people it named, because the lists hold personal data.

Revision ID: 1716b4c8b490
Revises: 270d178969a1
Create Date: 2026-12-01 21:43:01.208065

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '1716b4c8b490'
down_revision = '270d178969a1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('export_downloads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_run_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('format', sa.Enum('csv', 'xlsx', 'pdf', name='export_format', native_enum=False, length=20), nullable=False),
    sa.Column('person_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_run_id'], ['course_runs.id'], name=op.f('fk_export_downloads_course_run_id_course_runs')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_export_downloads_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_downloads'))
    )
    with op.batch_alter_table('export_downloads', schema=None) as batch_op:
        batch_op.create_index('ix_export_downloads_run_created', ['course_run_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_export_downloads_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('export_downloads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_export_downloads_user_id'))
        batch_op.drop_index('ix_export_downloads_run_created')

    op.drop_table('export_downloads')
