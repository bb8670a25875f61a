"""Deploying diagrams: checking them completely, storing them as uploaded, versioning per process.

Deploy is all-or-nothing: the documents are read safely, the specs are built, every piece of
code the diagram carries is compiled in the sandbox, and only then is anything stored.
"""
import hashlib
from collections import OrderedDict

from sqlalchemy import bindparam, func, select

from modeller import reader, specs

from . import sandbox
from .errors import Conflict, Forbidden, Invalid, NotFound
from .models import Definition, DefinitionFile, ProcessVersion, fetch

DESIGNER_ROLE = "modeller"
_BUNDLES = OrderedDict()   # content digest → Bundle: parsing is the expensive part, do it once
_BUNDLE_CACHE_SIZE = 64


def require_designer(actor):
    if not actor.has_role(DESIGNER_ROLE):
        raise Forbidden(f"only users with role {DESIGNER_ROLE!r} or admins may deploy diagrams")


def check(files, as_model=False):
    """Read and build `files` [(filename, bytes)]; return the Bundle or raise Invalid with every problem.

    With `as_model`, documents that are sound BPMN but cannot run (a data store without an
    implementation, JUEL the engine cannot read, a decision table not uploaded) are accepted as
    models: `bundle.problems` says why they cannot be started."""
    if not files:
        raise Invalid("no file uploaded", [{"message": "upload at least one .bpmn file", "element_id": None,
                                            "line": None}])
    documents, problems = [], []
    for filename, content in files:
        try:
            documents.append(reader.read(filename, content))
        except reader.DocumentRejected as rejected:
            problems += rejected.problems
    if not problems and not any(d.kind == "bpmn" for d in documents):
        problems.append(reader.Problem("the upload has no BPMN diagram, only decision tables"))
    problems += [p for d in documents if d.kind == "bpmn" for p in specs.schema_problems(d)]
    if problems:
        raise Invalid("the documents were refused", [p.as_dict() for p in problems])
    bundle, problems = specs.build(documents)
    problems += _code_problems(bundle)
    if problems and not as_model:
        raise Invalid("the diagram cannot be deployed", [p.as_dict() for p in problems])
    bundle.problems = [p.as_dict() for p in problems]
    return bundle


def _code_problems(bundle):
    found = []
    for element_id, kind, source, mode in bundle.code:
        message = sandbox.check(source, mode)
        if message:
            found.append(reader.Problem(f"{kind} does not compile: {message}", element_id,
                                        *specs.locate(element_id, bundle.documents)))
    return found


def deploy(session, files, actor, as_model=False):
    """Store a new definition; return (definition, created). Identical uploads return the existing one."""
    require_designer(actor)
    bundle = check(files, as_model)
    digest = _digest(files)
    existing = session.scalar(select(Definition).where(Definition.sha256 == digest).order_by(Definition.id))
    if existing is not None:
        return existing, False
    definition = Definition(
        sha256=digest, filename=files[0][0], dialect=bundle.dialect, steps=bundle.steps, created_by=actor.username,
        problems=bundle.problems,
        files=[DefinitionFile(position=i, filename=d.filename, kind=d.kind, content=d.content)
               for i, d in enumerate(bundle.documents)])
    for process in bundle.processes:
        latest = session.scalar(select(func.max(ProcessVersion.version)).where(ProcessVersion.key == process.key))
        definition.processes.append(ProcessVersion(key=process.key, name=process.name, version=(latest or 0) + 1,
                                                   executable=process.executable and not bundle.problems))
    session.add(definition)
    session.commit()
    _remember(digest, bundle)
    from .instances import start_scheduled   # instances build on definitions; only this step looks back
    start_scheduled(session, definition)
    return definition, True


def _digest(files):
    sha = hashlib.sha256()
    for filename, content in files:
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
        bundle = check([(f.filename, f.content) for f in definition.files], as_model=True)
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
            "files": [f.filename for f in definition.files], "problems": definition.problems or [],
            "processes": [{"key": p.key, "name": p.name, "executable": p.executable, "version": p.version}
                          for p in definition.processes]}
