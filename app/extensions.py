"""Flask extensions, created unbound and initialised in `create_app()`."""

from typing import TYPE_CHECKING

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

#: Constraint names are deterministic so Alembic (and SQLite batch mode) can drop them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

# Models subclass `Model`, not `db.Model`: a type checker cannot use an instance attribute as a base class
# (mypy: 'Name "db.Model" is not defined'), so it sees the typed declarative base; at run time it is Flask-SQLAlchemy's
# subclass of that base (automatic __tablename__, binds). See docs/development.md, "Type checking".
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


def _include_object(obj, name, type_, reflected, compare_to):
    """Keep tables that others own (APScheduler's job store) out of autogenerate."""
    return not (type_ == "table" and reflected and name == "apscheduler_jobs")


migrate = Migrate(compare_type=True, render_as_batch=True, include_object=_include_object)
csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
#: Rate limits (login, password reset): no default limits; each limited view declares its own
#: (app/accounts/signin/throttling.py). Storage and strategy come from RATELIMIT_* in config.py.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
