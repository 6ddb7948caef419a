"""python-json-logger asked for the fields `errors.logging.JsonFormatter` writes, by the same names.

Shared by the `alternative` stack of bench/overhead.py and by bench/logfmt.py.
"""

PJL_FMT = (
    "%(asctime)s %(levelname)s %(message)s %(name)s %(module)s %(funcName)s %(lineno)d "
    "%(process)d %(thread)d"
)
PJL_RENAMES = {
    "asctime": "timestamp",
    "levelname": "level",
    "name": "logger",
    "funcName": "function",
    "lineno": "line",
    "process": "process_id",
    "thread": "thread_id",
}
