"""Retention and anonymisation of personal data: users.anonymised_at, course_runs.anonymised_at,
enrolments.person_key and anonymised_person_keys (the pseudonym of a person's anonymised enrolments in a
programme, while they still have others there).

Revision ID: d2ec22e166a6
Revises: f7a0265020d6
Create Date: 2026-12-02 06:17:06.987808

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd2ec22e166a6'
down_revision = 'f7a0265020d6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('anonymised_person_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('person_key', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_anonymised_person_keys_programme_id_programmes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_anonymised_person_keys_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_anonymised_person_keys')),
    sa.UniqueConstraint('user_id', 'programme_id', name='uq_anonymised_person_keys_user_programme')
    )
    with op.batch_alter_table('anonymised_person_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_anonymised_person_keys_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_anonymised_person_keys_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('course_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person_key', sa.String(length=40), nullable=True))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('anonymised_at')

    with op.batch_alter_table('enrolments', schema=None) as batch_op:
        batch_op.drop_column('person_key')

    with op.batch_alter_table('course_runs', schema=None) as batch_op:
        batch_op.drop_column('anonymised_at')

    with op.batch_alter_table('anonymised_person_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_anonymised_person_keys_user_id'))
        batch_op.drop_index(batch_op.f('ix_anonymised_person_keys_programme_id'))

    op.drop_table('anonymised_person_keys')
