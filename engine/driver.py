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
than the statement itself: a change's writes and its COMMIT go out together (`commit_together`).

What this machinery, `instances.apply` and `workflow_cache` rely on, and every writer must keep:
1. Statements run here are module constants with plain bind parameters (their compiled form is kept
   by identity); a column default must be given as a value, SQLAlchemy fills none in here.
2. Inside `commit_together` nothing reads what the block writes: on SQLite the writes are held back
   and sent as one burst at its end. The session is flushed before the block.
3. A change is one transaction: the instance row first (the guarded UPDATE on `lock_version`, so two
   changes of one instance queue on that row and never deadlock), then its guards (`expect_one`:
   exactly one row, else the whole change is a Conflict), then the task rows.
4. Task rows change only together with their instance's row, except a claim, which changes the
   claimer alone; so the open task rows a change left are true while the instance row holds the bytes
   that change stored (`workflow_cache`). The reply to a change shows the rows it wrote without reading
   them (`instances._remember_shown`): anything that changes a task row outside a change (a claim)
   calls `instances.forget_shown` first. Measured 2026-12-05 (bench/ab.py, 20 s): without that reply
   cache a completion is 9 % slower on SQLite (0.912, 0.907) and 7 % on PostgreSQL (0.933), so it stays.
"""
from collections import namedtuple
from contextlib import contextmanager
from functools import cache

from sqlalchemy import bindparam, func, literal_column, select

from .database import WROTE
from .errors import Conflict

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


_TOGETHER = "baton.together"   # Connection.info, inside `commit_together`: the writes it holds back (SQLite), or None
EXPECT_ONE = "BA409"   # the SQLSTATE `baton_expect_one` raises (migration 0008): a guarded write matched no row


def _run(cursor, sql, parameters):
    if len(parameters) == 1:
        cursor.execute(sql, parameters[0])
    else:
        cursor.executemany(sql, parameters)


def _send(connection, statement, rows, conflict=None):
    """Run a write now, or hold it back inside `commit_together` on SQLite; the number of rows it matched
    when it ran outside a burst, else None."""
    plan = _plan(statement, connection.dialect, tuple(rows[0]))
    connection.info[WROTE] = True   # past SQLAlchemy's events: a rollback must not end this transaction with COMMIT
    parameters = [plan.parameters(row) for row in rows]
    held = connection.info.get(_TOGETHER)
    if held is not None:
        held.append((plan.sql, parameters, conflict))
        return None
    cursor = connection.connection.cursor()
    try:
        _run(cursor, plan.sql, parameters)
        return None if _TOGETHER in connection.info else cursor.rowcount
    finally:
        cursor.close()


def write(connection, statement, values):
    """Run `statement` on the connection (in its transaction) with one dict of values, or a list of them
    (all with the same keys); return the number of rows it matched (None inside `commit_together`)."""
    return _send(connection, statement, values if isinstance(values, list) else [values])


@cache   # the guarded writes are module constants
def _expecting_one(statement):
    """`WITH matched AS (<write> RETURNING 1) SELECT baton_expect_one(count(*), :baton_conflict) FROM matched`:
    the write, checked by the server."""
    matched = statement.returning(literal_column("1")).cte("matched")
    checked = func.baton_expect_one(func.count(), bindparam("baton_conflict")).label("matched")
    return select(checked).select_from(matched)


def expect_one(connection, statement, values, conflict):
    """Inside `commit_together`: a write that must match exactly one row, else the change it belongs to is
    the Conflict `conflict` and nothing of it is stored. PostgreSQL checks it on the server, so that the
    COMMIT can go in the same round trip as the writes: a mismatch aborts the rest of the burst and the
    COMMIT with it. SQLite checks it as it runs, and stops the burst there."""
    if connection.dialect.name == "postgresql":
        statement, values = _expecting_one(statement), {**values, "baton_conflict": conflict}
    _send(connection, statement, [values], conflict)


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
def commit_together(connection):
    """Send the writes made inside in one burst at the end of the block and commit them; a guard that
    fails (`expect_one`) raises its Conflict instead, and nothing is stored. PostgreSQL gets the writes and
    the COMMIT in one round trip (psycopg's pipeline mode). SQLite, where a statement costs no round trip
    but the first write takes the file's lock until the commit, gets them with their values already
    prepared, so the lock is held for the writes alone. The session's own commit then finds nothing left
    to do; flush what it holds before the block."""
    dbapi_connection = connection.connection.dbapi_connection
    if connection.dialect.name == "postgresql":
        connection.info[_TOGETHER] = None
        failed = None
        try:
            with dbapi_connection.pipeline():
                try:   # a failed guard is raised once the pipeline has ended: raised inside it, it is logged too
                    yield
                    dbapi_connection.commit()
                except connection.dialect.loaded_dbapi.Error as error:
                    failed = error
        except connection.dialect.loaded_dbapi.Error as error:
            failed = failed or error
        finally:
            del connection.info[_TOGETHER]
        if failed is None:
            return
        if getattr(failed, "sqlstate", None) == EXPECT_ONE:
            raise Conflict(failed.diag.message_primary) from None
        raise failed
    held = connection.info[_TOGETHER] = []
    try:
        yield
    finally:
        del connection.info[_TOGETHER]
    cursor = connection.connection.cursor()
    try:
        for sql, parameters, conflict in held:
            _run(cursor, sql, parameters)
            if conflict is not None and cursor.rowcount != 1:
                raise Conflict(conflict)
    finally:
        cursor.close()
    dbapi_connection.commit()
