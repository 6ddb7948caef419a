"""The `errors` app as a stranger uses it: built into a wheel, installed alone, really served.

- `build`: the wheel `pip install .` builds (from a copy of the checkout), fresh virtualenvs
  with it and the pins of the requirements files, and the consumer project copied out of the
  repository and migrated.
- `servers`: gunicorn, uvicorn and daphne serving that project on free ports, their output in
  files and their JSON log lines parsed.
- `project/`: the consumer project itself (`django-admin startproject` layout, the README's
  setup lines, an app `shop`). It is never imported from here: tests/test_consumer.py copies it
  out of the repository and runs it with a venv's interpreter.
"""
