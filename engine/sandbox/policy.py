"""What diagram code may be: RestrictedPython's policy plus Baton's, and compiling with it.

Compiling is cheap and happens in the server process too: it is how deploy refuses code early
(`check`), and how `run` refuses code before a worker is asked.
"""
import ast
import re
from functools import lru_cache

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec

from .helpers import HELPER_NAMES
from .limits import FILENAME
from .modules import import_problem

# the operators whose results are checked, and the guard (`guards.OPERATOR_GUARDS`) each becomes
_BINOP_GUARDS = {ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_", ast.Add: "_add_", ast.Mod: "_mod_"}


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus size guards on the operators that build big values."""

    def visit_FormattedValue(self, node):
        spec = node.format_spec
        parts = spec.values if isinstance(spec, ast.JoinedStr) else []
        if spec is not None and not all(isinstance(p, ast.Constant) and not re.search(r"\d{4,}", str(p.value))
                                        for p in parts):
            self.error(node, "f-string format widths must be constants below 1000")
        return self.node_contents_visit(node)

    def visit_Name(self, node):
        if isinstance(node.ctx, (ast.Store, ast.Del)) and node.id in HELPER_NAMES:
            self.error(node, f"{node.id!r} is the name of a helper; give the variable another name")
        return super().visit_Name(node)

    def visit_Import(self, node):
        for alias in node.names:
            problem = import_problem(alias.name.split("."))
            if problem:
                self.error(node, problem)
                return node
        return super().visit_Import(node)

    def visit_ImportFrom(self, node):
        problem = import_problem((node.module or "").split(".")) if node.level == 0 else \
            "relative imports are not allowed in diagram code"
        if problem:
            self.error(node, problem)
            return node
        return super().visit_ImportFrom(node)

    def visit_ClassDef(self, node):
        self.error(node, "class definitions are not allowed in diagram code")
        return node

    def visit_BinOp(self, node):
        node = self.node_contents_visit(node)
        name = _BINOP_GUARDS.get(type(node.op))
        if name is None:
            return node
        func = ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node)
        call = ast.Call(func=func, args=[node.left, node.right], keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, node))


@lru_cache(maxsize=4096)
def compile_code(source, mode="eval"):
    """Compile diagram code once per distinct text; raise SyntaxError (with lineno) when refused."""
    if source is None:
        raise SyntaxError("an expression is missing (the element has no condition or value)", (FILENAME, 1, 0, ""))
    if not isinstance(source, str):
        raise SyntaxError(f"diagram code must be text, not {type(source).__name__}", (FILENAME, 1, 0, ""))
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        result = compiler(source, filename=FILENAME, policy=_Policy)
    except SyntaxError:
        raise
    except (RecursionError, MemoryError, ValueError, OverflowError) as error:  # nesting, NUL bytes, huge literals
        raise SyntaxError(f"cannot compile: {error.__class__.__name__}: {error}", (FILENAME, 1, 0, source)) from None
    if result.errors:
        message = "; ".join(result.errors)
        line = _first_line_number(result.errors)
        raise SyntaxError(message, (FILENAME, line, 0, source))
    if result.code is None:
        raise SyntaxError("cannot compile", (FILENAME, 1, 0, source))
    return result.code


def _first_line_number(errors):
    for text in errors:
        if text.startswith("Line "):
            head = text[5:].split(":", 1)[0]
            if head.isdigit():
                return int(head)
    return 1


def check(source, mode="eval"):
    """The compile error of `source` as text, or None: used at deploy so designers hear early."""
    try:
        compile_code(source, mode)
    except SyntaxError as error:
        return error.msg
    return None
