"""Deploying diagrams: checking them completely, storing them as uploaded, versioning per process.

Deploy is all-or-nothing: the documents are read safely, the specs are built, every piece of
code the diagram carries is compiled in the sandbox, and only then is anything stored.
"""
import ast
import hashlib
import os
from collections import OrderedDict

from sqlalchemy import bindparam, func, select

from modeller import elements, field_names, reader, specs

from . import bounds, cron, lengths, sandbox, spiff_patches, users  # noqa: F401 - deploy reads timers and DMN as runs do
from .errors import Conflict, Forbidden, Invalid, NotFound
from .models import Definition, DefinitionFile, Event, HumanTask, ProcessVersion, User, UserRole, fetch

DESIGNER_ROLE = "modeller"
_BUNDLES = OrderedDict()   # content digest → Bundle: parsing is the expensive part, do it once
_BUNDLE_CACHE_SIZE = 64
MAX_REPORTED_PROBLEMS = int(os.environ.get("BATON_MAX_REPORTED_PROBLEMS", 100))


def require_designer(actor):
    if not actor.has_role(DESIGNER_ROLE):
        raise Forbidden(f"only users with role {DESIGNER_ROLE!r} or admins may deploy diagrams")


def check(files, as_model=False, lend=None):
    """Read and build `files` [(filename, bytes)]; return the Bundle or raise Invalid with every problem.

    `lend(keys)` gives the stored files [(filename, bytes, definition id)] that define the called
    process keys the upload itself lacks (see `_lend_deployed`); they end up in `bundle.lent`.

    With `as_model`, documents that are sound BPMN but cannot run (a data store without an
    implementation, JUEL the engine cannot read, a decision table not uploaded) are accepted as
    models: `bundle.problems` says why they cannot be started."""
    if not files:
        raise Invalid("no file uploaded", [{"message": "upload at least one .bpmn file", "element_id": None,
                                            "line": None}])
    documents, problems = [], []
    for filename, content in files:
        if lengths.too_long(filename, DefinitionFile.filename):
            problems.append(reader.Problem(f"the file name is longer than {lengths.limit(DefinitionFile.filename)} "
                                           "characters; rename the file", None, None,
                                           lengths.fit(filename, DefinitionFile.filename)))
            continue
        try:
            documents.append(specs.read(filename, content))
        except reader.DocumentRejected as rejected:
            problems += rejected.problems
    if not problems and not any(d.kind == "bpmn" for d in documents):
        problems.append(reader.Problem("the upload has no BPMN diagram, only decision tables or forms"))
    problems += [p for d in documents if d.kind == "bpmn" for p in specs.schema_problems(d)]
    if problems:
        raise Invalid("the documents were refused", _reported(problems))
    bundle, problems = specs.build(documents, _lent(documents, lend))
    bundle.warnings += [w for d in documents if d.kind == "bpmn" for w in specs.schema_warnings(d)]
    problems += _length_problems(bundle) + _helper_name_problems(bundle) + _code_problems(bundle)
    if problems and not as_model:
        raise Invalid("the diagram cannot be deployed", _reported(problems))
    bundle.problems = _reported(problems)
    return bundle


def _lent(documents, lend):
    """The deployed documents that define the processes `documents` call but lack, and the ones those
    call in turn, each read once (with the definition it came from as `lent_from`)."""
    lent, asked = [], set()
    while lend is not None and (missing := specs.called_elsewhere([*documents, *lent]) - asked):
        asked |= missing
        for filename, content, lent_from in lend(missing):
            if all(d.content != content for d in [*documents, *lent]):
                document = specs.read(filename, content)
                document.lent_from = lent_from
                lent.append(document)
    return lent


def _lend_deployed(session):
    """`lend` over the latest executable version of each process key, with every file of its definition."""
    def lend(keys):
        found = []
        for key in sorted(keys):
            version = session.scalar(select(ProcessVersion).where(ProcessVersion.key == key,
                                                                  ProcessVersion.executable.is_(True))
                                     .order_by(ProcessVersion.version.desc()).limit(1))
            if version is not None:
                found += [(f.filename, f.content, f.lent_from or version.definition_id)
                          for f in get(session, version.definition_id).files]
        return found
    return lend


# what a human step names, and the column that keeps it: (what, column, the values in a step)
_STEP_TEXT = (("name", HumanTask.name, lambda step: [step.get("name")]),
              ("lane", HumanTask.lane, lambda step: [step.get("lane")]),
              ("role in candidateGroups", UserRole.role, lambda step: step.get("roles") or []),
              ("assignee", User.username, lambda step: [step.get("assignee")]),
              ("candidate user", User.username, lambda step: step.get("candidate_users") or []))


def _length_problems(bundle):
    """Text from the diagram that the database could not keep (PostgreSQL refuses it, mid-change)."""
    found = [reader.Problem(f"the element id is longer than {lengths.limit(Event.element_id)} characters",
                            lengths.fit(element_id, Event.element_id), line, document.filename)
             for document in bundle.diagrams for element_id, line in document.lines.items()
             if lengths.too_long(element_id, Event.element_id)]   # every element's id reaches the history
    for process in bundle.processes:
        for what, value, column in (("process id", process.key, ProcessVersion.key),
                                    ("process name", process.name, ProcessVersion.name)):
            if lengths.too_long(value, column):
                found.append(reader.Problem(f"the {what} is longer than {lengths.limit(column)} characters",
                                            lengths.fit(process.key, ProcessVersion.key),
                                            *specs.locate(process.key, bundle.documents)))
    for element_id, step in bundle.steps.items():
        for what, column, values in _STEP_TEXT:
            if any(lengths.too_long(value, column) for value in values(step)):
                found.append(reader.Problem(f"the {what} is longer than {lengths.limit(column)} characters",
                                            lengths.fit(element_id, HumanTask.element_id),
                                            *specs.locate(element_id, bundle.documents)))
    return found


def _helper_name_problems(bundle):
    """A form field named like a sandbox helper (`date`, `now`, `days`, ...): the diagram's code would
    see the helper, never the value (a helper's name always means the helper)."""
    return [reader.Problem(f"form field {field['id']!r} has the name of a helper of diagram code; rename it",
                           element_id, *specs.locate(element_id, bundle.documents))
            for element_id, step in bundle.steps.items() for field in step.get("form", [])
            if field["id"] in sandbox.HELPER_NAMES]


def _code_problems(bundle):
    found = []
    for element_id, kind, source, mode in bundle.code:
        message = _code_problem(kind, source, mode)
        if message:
            found.append(reader.Problem(f"{field_names.label(kind)}: {message}", element_id,
                                        *specs.locate(element_id, bundle.documents)))
    return found


def _code_problem(kind, source, mode):
    """Why one piece of diagram code cannot run, or None: it must compile, and a timer written as a
    literal must be within the engine's bounds (a computed one is checked when it runs)."""
    if kind == "inputEntry":     # a DMN cell: `?` is the input; a cell like `> 5` compares the input
        source = bounds.mark_input_references(source)
        if sandbox.check(source, mode) is not None:
            source = f"dmninputexpr {source}"
    message = sandbox.check(source, mode)
    if message:
        return f"does not compile: {message}"
    if kind in ("timeDuration", "timeDate", "timeCycle"):
        try:
            value = ast.literal_eval(source)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
        if kind == "timeCycle" and cron.is_cron(value):
            return cron.problem(value)
        return bounds.timer_problem(kind, value) if isinstance(value, str) else None
    return None


def _reported(problems):
    """At most MAX_REPORTED_PROBLEMS problems, and how many more there were."""
    if len(problems) <= MAX_REPORTED_PROBLEMS:
        return [p.as_dict() for p in problems]
    more = len(problems) - MAX_REPORTED_PROBLEMS
    return [p.as_dict() for p in problems[:MAX_REPORTED_PROBLEMS]] + [
        {"message": f"... and {more} more problems (only the first {MAX_REPORTED_PROBLEMS} are listed)",
         "element_id": None, "line": None, "file": None}]


def deploy(session, files, actor, as_model=False):
    """Store a new definition; return (definition, created). Identical uploads return the existing one."""
    require_designer(actor)
    bundle = check(files, as_model, _lend_deployed(session))
    bundle.warnings += _unknown_people(session, bundle)
    digest = _digest(files)
    existing = session.scalar(select(Definition).where(Definition.sha256 == digest).order_by(Definition.id))
    if existing is not None:
        return existing, False
    definition = Definition(
        sha256=digest, filename=files[0][0], dialect=bundle.dialect, steps=bundle.steps, created_by=actor.username,
        problems=bundle.problems, warnings=_reported(bundle.warnings),
        files=[DefinitionFile(position=i, filename=d.filename, kind=d.kind, content=d.content,
                              lent_from=getattr(d, "lent_from", None))
               for i, d in enumerate([*bundle.documents, *bundle.lent])])
    for process in bundle.processes:
        latest = session.scalar(select(func.max(ProcessVersion.version)).where(ProcessVersion.key == process.key))
        definition.processes.append(ProcessVersion(key=process.key, name=process.name, version=(latest or 0) + 1,
                                                   executable=process.executable and not bundle.problems))
    session.add(definition)
    session.commit()
    _remember(digest, bundle)
    from .instances import start_scheduled  # instances build on definitions; only this step looks back
    start_scheduled(session, definition)
    return definition, True


def _unknown_people(session, bundle):
    """Warnings for steps given to people or roles Baton does not know yet (a file from another tool:
    `camunda:assignee="demo"`, a group nobody here holds): such tasks reach nobody but admins until the
    person exists or someone is given the role. Expressions (`${initiator}`) are decided when the step opens."""
    names = {n.lower() for n in session.scalars(select(User.username).where(User.active.is_(True)))}
    roles = set(session.scalars(select(UserRole.role).join(User, User.id == UserRole.user_id)
                                .where(User.active.is_(True))))
    warnings = []
    for element_id, step in bundle.steps.items():
        people = [step.get("assignee"), *(step.get("candidate_users") or [])]
        for person in people:
            if person and not elements.is_expression(person) and person.lower() not in names:
                warnings.append(reader.Problem(f"{step['name']!r} is for {person!r}, who is not a Baton user: nobody "
                                               "but admins sees it until an account of that name exists", element_id))
        for role in users.normalise_roles(step.get("roles") or []):
            if not elements.is_expression(role) and role not in roles and not step.get("assignee"):
                warnings.append(reader.Problem(f"{step['name']!r} is for role {role!r}, which nobody holds yet: give "
                                               "someone that role (Admin → People), or only admins will see it",
                                               element_id))
    return warnings


def _digest(files):
    sha = hashlib.sha256()
    for _filename, content in files:
        sha.update(hashlib.sha256(content).digest())
    return sha.hexdigest()


def _remember(digest, bundle):
    _BUNDLES[digest] = bundle
    _BUNDLES.move_to_end(digest)
    while len(_BUNDLES) > _BUNDLE_CACHE_SIZE:
        _BUNDLES.popitem(last=False)


def bundle_for(definition):
    """The built specs of a stored definition (parsed again after a restart)."""
    bundle = _BUNDLES.get(definition.sha256)
    if bundle is None:
        lent = [(f.filename, f.content, f.lent_from) for f in definition.files if f.lent_from is not None]
        bundle = check([(f.filename, f.content) for f in definition.files if f.lent_from is None], as_model=True,
                       lend=lambda keys: lent)
        _remember(definition.sha256, bundle)
    return bundle


_DIGEST = select(Definition.sha256).where(Definition.id == bindparam("definition_id"))


def bundle_of(session, definition_id, digest=None):
    """The built specs of definition `definition_id`, reading only its digest (unless the caller has it)
    when they are at hand: every change of an instance needs them, and a definition never changes."""
    if digest is None:
        digest = session.connection().execute(_DIGEST, {"definition_id": definition_id}).scalar()
    bundle = _BUNDLES.get(digest)
    return bundle if bundle is not None else bundle_for(get(session, definition_id))


def field_labels(session, definition_id):
    """{data key: the label its form field shows}, over every form of the definition: data is shown to
    people under the names they typed it under."""
    steps = bundle_of(session, definition_id).steps.values()
    return {f["id"]: f.get("label") or f["id"] for step in steps for f in step.get("form") or []}


def get(session, definition_id):
    return fetch(session, Definition, definition_id, "definition")


def all_definitions(session):
    return session.scalars(select(Definition).order_by(Definition.id.desc())).all()


def latest(session, key):
    """The newest version of process `key`; refuse when it cannot run."""
    version = session.scalar(select(ProcessVersion).where(ProcessVersion.key == key)
                             .order_by(ProcessVersion.version.desc()).limit(1))
    if version is None:
        raise NotFound(f"no process {key!r}")
    if not version.executable:
        raise Conflict(f"process {key!r} version {version.version} is a model (isExecutable is not true); "
                       "it cannot be started")
    return version


def process_keys(session):
    """Every process key deployed so far: a new diagram's name must not make it a version of one of them."""
    return list(session.scalars(select(ProcessVersion.key).distinct().order_by(ProcessVersion.key)))


def startable(session):
    """The newest executable version of every process key."""
    newest = (select(ProcessVersion.key, func.max(ProcessVersion.version).label("v"))
              .group_by(ProcessVersion.key).subquery())
    return session.scalars(select(ProcessVersion).join(
        newest, (ProcessVersion.key == newest.c.key) & (ProcessVersion.version == newest.c.v))
        .where(ProcessVersion.executable.is_(True)).order_by(ProcessVersion.name, ProcessVersion.key)).all()


def describe(definition):
    primary = next((p for p in definition.processes if p.executable), None) or next(iter(definition.processes), None)
    return {"id": definition.id, "filename": definition.filename, "created_by": definition.created_by,
            "created_at": definition.created_at, "dialect": definition.dialect,
            "version": primary.version if primary else None,
            "files": [f.filename for f in definition.files if f.lent_from is None],
            "problems": definition.problems or [], "warnings": definition.warnings or [],
            "processes": [{"key": p.key, "name": p.name, "executable": p.executable, "version": p.version}
                          for p in definition.processes]}
