"""WSGI entry point: `flask --app wsgi ...` and `gunicorn wsgi:app` both use it."""

import os

from app import create_app
from app.extensions import db

app = create_app(os.environ.get("KURSUSPORTALEN_CONFIG"))


@app.shell_context_processor
def shell_context() -> dict:
    import app.models as models

    return {"db": db, "m": models}
