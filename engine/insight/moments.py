"""Moments as whole seconds since 1970 (UTC), computed by the database: the analytics read hundreds of
thousands of task rows, and turning each stored date-time into a Python datetime would cost more than
the query. Differences of these are exact durations in seconds."""
from datetime import date, timedelta

from sqlalchemy import BigInteger
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

_UNIX_DAY_ZERO = date(1970, 1, 1)


class epoch_seconds(FunctionElement):   # noqa: N801 - used like a SQL function
    type = BigInteger()
    inherit_cache = True


@compiles(epoch_seconds, "sqlite")
def _sqlite(element, compiler, **kw):
    return f"CAST(ROUND((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400) AS INTEGER)"


@compiles(epoch_seconds, "postgresql")
def _postgresql(element, compiler, **kw):
    return f"CAST(ROUND(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


def week_of(seconds):
    """The Monday (a date) of the week holding the moment `seconds`; 1 January 1970 was a Thursday."""
    day = seconds // 86400
    return _UNIX_DAY_ZERO + timedelta(days=day - (day + 3) % 7)
