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


_TOGETHER = "baton.together"   # Connection.info, inside `together`: the writes it holds back (SQLite), or None


class Count:
    """The number of rows a write matched, known once it has run: inside `together`, after the block."""

    def __init__(self, cursor=None):
        self._cursor, self._rows = cursor, None

    @property
    def rows(self):
        if self._rows is None and self._cursor is not None:
            self._rows, cursor, self._cursor = self._cursor.rowcount, self._cursor, None
            cursor.close()
        return self._rows

    def known(self, rows):
        self._rows = rows


def _run(cursor, sql, parameters):
    if len(parameters) == 1:
        cursor.execute(sql, parameters[0])
    else:
        cursor.executemany(sql, parameters)


def counted(connection, statement, values):
    """Run `statement` with one dict of values or a list of them (all with the same keys), or hold it
    back inside `together` on SQLite; its Count, for a write whose row count decides whether the others
    stand (read it after `together`)."""
    rows = values if isinstance(values, list) else [values]
    plan = _plan(statement, connection.dialect, tuple(rows[0]))
    connection.info[WROTE] = True   # past SQLAlchemy's events: a rollback must not end this transaction with COMMIT
    parameters = [plan.parameters(row) for row in rows]
    held = connection.info.get(_TOGETHER)
    if held is not None:
        held.append((plan.sql, parameters, count := Count()))
        return count
    cursor = connection.connection.cursor()
    try:
        _run(cursor, plan.sql, parameters)
    except BaseException:
        cursor.close()
        raise
    return Count(cursor)


def write(connection, statement, values):
    """Run `statement` on the connection (in its transaction) with one dict of values, or a list of them;
    return the number of rows it matched (None inside `together`: use `counted` there)."""
    rows = counted(connection, statement, values).rows   # also closes its cursor
    return None if _TOGETHER in connection.info else rows


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
    """Send the writes made inside in one burst at the end of the block, where their errors are raised and
    their counts become known. PostgreSQL gets them in one round trip (psycopg's pipeline mode). SQLite,
    where a statement costs no round trip but the first write takes the file's lock until the commit,
    gets them with their values already prepared, so the lock is held for the writes alone."""
    piped = connection.dialect.name == "postgresql"
    held = connection.info[_TOGETHER] = None if piped else []
    try:
        if piped:
            with connection.connection.dbapi_connection.pipeline():
                yield
            return
        yield
    finally:
        del connection.info[_TOGETHER]
    cursor = connection.connection.cursor()
    try:
        for sql, parameters, count in held:
            _run(cursor, sql, parameters)
            count.known(cursor.rowcount)
    finally:
        cursor.close()
