"""The writes of a change, and the reads every completion makes, run on the driver's cursor.

A completion writes six to eight statements between its first write and its commit; on SQLite no
other process may write meanwhile. SQLAlchemy's work around each statement (an execution context,
parameter processing, a result object) was three quarters of that stretch, the database a fifth
(bench/README.md). Here each Core statement is compiled by SQLAlchemy once per dialect and set of
columns, its values go through the bind processors SQLAlchemy would apply, and the result goes
straight to the cursor: the same SQL and the same stored values, without the per-call machinery;
rows read come back through the result processors SQLAlchemy would apply, as named tuples.
For plain bind parameters only: no expanding `IN`, no column default left for SQLAlchemy to fill.

On PostgreSQL each statement is a round trip, which costs the web process and the server more CPU
than the statement itself; writes whose row counts nobody checks can go out `together`.
"""
from collections import namedtuple
from contextlib import contextmanager

from .database import WROTE

_plans = {}   # (statement id, dialect name, column keys) → _Plan; the statements are module constants


class _Plan:
    def __init__(self, statement, dialect, keys):
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        if compiled.insert_prefetch or compiled.update_prefetch or compiled.post_compile_params:
            raise ValueError(f"{statement} needs SQLAlchemy's own execution (defaults or expanding parameters)")
        self.statement, self.compiled, self.sql = statement, compiled, compiled.string
        self.order = compiled.positiontup if compiled.positional else None
        self.processors = [(name, process) for name, bind in compiled.binds.items()
                           if (process := bind.type.dialect_impl(dialect).bind_processor(dialect))]
        if getattr(statement, "is_select", False):
            columns = list(statement.selected_columns)
            self.row = namedtuple("Row", [column.key for column in columns])
            self.loaders = [(n, load) for n, column in enumerate(columns)
                            if (load := column.type.dialect_impl(dialect).result_processor(dialect, None))]

    def parameters(self, values):
        bound = self.compiled.construct_params(values)
        for name, process in self.processors:
            bound[name] = process(bound[name])
        return [bound[name] for name in self.order] if self.order is not None else bound


def _plan(statement, dialect, keys):
    key = (id(statement), dialect.name, keys)
    plan = _plans.get(key)
    if plan is None or plan.statement is not statement:
        plan = _plans[key] = _Plan(statement, dialect, keys)
    return plan


def _send(connection, statement, values):
    """The cursor `statement` ran on, with one dict of values or a list of them (all with the same keys)."""
    rows = values if isinstance(values, list) else [values]
    plan = _plan(statement, connection.dialect, tuple(rows[0]))
    connection.info[WROTE] = True   # past SQLAlchemy's events: a rollback must not end this transaction with COMMIT
    cursor = connection.connection.cursor()
    try:
        if len(rows) == 1:
            cursor.execute(plan.sql, plan.parameters(rows[0]))
        else:
            cursor.executemany(plan.sql, [plan.parameters(row) for row in rows])
    except BaseException:
        cursor.close()
        raise
    return cursor


def write(connection, statement, values):
    """Run `statement` on the connection (in its transaction) with one dict of values, or a list of them;
    return the number of rows it matched (not known yet inside `together`: use `counted` there)."""
    cursor = _send(connection, statement, values)
    try:
        return cursor.rowcount
    finally:
        cursor.close()


class Count:
    """The number of rows a write matched, read when asked: inside `together`, once the block has ended."""

    def __init__(self, cursor):
        self._cursor, self._rows = cursor, None

    @property
    def rows(self):
        if self._rows is None:
            self._rows = self._cursor.rowcount
            self._cursor.close()
        return self._rows


def counted(connection, statement, values):
    """`write`, for a write whose row count decides what happens next, even inside `together`."""
    return Count(_send(connection, statement, values))


def read(connection, statement, values):
    """The rows of the SELECT `statement` with `values`, as named tuples of what SQLAlchemy would return."""
    plan = _plan(statement, connection.dialect, tuple(values))
    cursor = connection.connection.cursor()
    try:
        cursor.execute(plan.sql, plan.parameters(values))
        found = cursor.fetchall()
    finally:
        cursor.close()
    if not plan.loaders:
        return [plan.row._make(row) for row in found]
    rows = []
    for row in found:
        row = list(row)
        for n, load in plan.loaders:
            row[n] = load(row[n])
        rows.append(plan.row._make(row))
    return rows


@contextmanager
def together(connection):
    """Send the writes made inside to PostgreSQL in one round trip (psycopg's pipeline mode), at the end
    of the block, where any error they meet is raised: their row counts are not known before. On SQLite,
    where a statement costs no round trip, a plain block."""
    if connection.dialect.name != "postgresql":
        yield
        return
    with connection.connection.dbapi_connection.pipeline():
        yield
