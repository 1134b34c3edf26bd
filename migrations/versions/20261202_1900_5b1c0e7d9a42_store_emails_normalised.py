"""Store every user's email normalised (stripped and lower-cased the way Python lowers, "Æ" included), so the
login, SSO linking and the staff import can compare `email = ?` on the unique index instead of
`lower(email) = ?`, which no index serves (a sequential scan of users on every login at national size).

Accounts made through the app were stored lower-cased already; this catches any other. A row whose
normalised email another row already holds is left as it is and reported (two accounts that differ only by
case need a coordinator to decide which one is the person's).

Revision ID: 5b1c0e7d9a42
Revises: 33ff2a190236
Create Date: 2026-12-02 19:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b1c0e7d9a42'
down_revision = '33ff2a190236'
branch_labels = None
depends_on = None

users = sa.table("users", sa.column("id", sa.Integer), sa.column("email", sa.String))


def upgrade():
    conn = op.get_bind()
    rows = conn.execute(sa.select(users.c.id, users.c.email)).all()
    taken = {email for _, email in rows}
    for user_id, email in rows:
        normalised = email.strip().lower()
        if normalised == email:
            continue
        if normalised in taken:
            print(f"users.id {user_id}: email not normalised, another account already has the normalised form")
            continue
        conn.execute(users.update().where(users.c.id == user_id).values(email=normalised))
        taken.discard(email)
        taken.add(normalised)


def downgrade():
    pass  # the original spelling is not kept; lower-cased emails work with the older code too
