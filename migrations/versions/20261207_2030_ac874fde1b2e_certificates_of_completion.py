"""certificates: the verification code of each certificate of completion (kursusbevis), issue 24.

One row per completed enrolment, made when its certificate is first downloaded; `withdrawn_at` is set when the
person's data is anonymised. No personal data of its own (app/certificates/models.py).

Revision ID: ac874fde1b2e
Revises: b7d24e1a5c10
Create Date: 2026-12-07 20:30:23.235256

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ac874fde1b2e'
down_revision = "b7d24e1a5c10"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolments.id'], name=op.f('fk_certificates_enrolment_id_enrolments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificates')),
    sa.UniqueConstraint('code', name=op.f('uq_certificates_code')),
    sa.UniqueConstraint('enrolment_id', name=op.f('uq_certificates_enrolment_id'))
    )


def downgrade():
    op.drop_table('certificates')
