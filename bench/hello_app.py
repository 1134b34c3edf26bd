"""The ceiling for bench/http_load.py: a bare Flask "hello world" under the same gunicorn configuration."""

from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello() -> str:
    return "Hello, World!"
