# Python checker used by mlgym's `edit` and `insert` commands.
#
# Usage: python3 -I -c "<this script>" <display-filename>   (source on stdin)
# Prints one JSON array of {"line", "column", "code", "message"} objects on stdout.
#
# Codes follow flake8's numbering so that observations read like MLGym's:
#   E999  the file does not compile (SyntaxError, IndentationError, ...)
#   E902  the file cannot be decoded or tokenized
#   F821  undefined name            F822  undefined name in __all__
#   E111  indentation is not a multiple of 4
#   E112  expected an indented block
#   E113  unexpected indentation
# When the file does not compile, only that error is reported (as flake8 does).
# The analysis is deliberately conservative: when unsure, it reports nothing.
# Only the standard library is used; the script reads no files and writes none.

import ast
import builtins
import io
import json
import re
import sys
import tokenize
import warnings

KNOWN_GLOBALS = set(dir(builtins)) | {
    "__file__", "__builtins__", "__annotations__", "__class__", "WindowsError",
}
COMPREHENSIONS = ("ListComp", "SetComp", "DictComp", "GeneratorExp")
NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>([A-Z][0-9]+(?:[,\s]+)?)+))?", re.I)


def kind(node):
    return type(node).__name__


def where(node):
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


FIRST = (0, -1)


class Scope:
    def __init__(self, node, parent):
        self.node = node
        self.kind = kind(node)
        self.parent = parent
        self.bound = {}  # name -> earliest (line, column) where it is bound
        self.declared_global = set()
        self.star_import = False

    def add(self, name, pos):
        if name not in self.bound or pos < self.bound[name]:
            self.bound[name] = pos


class Binder(ast.NodeVisitor):
    """First pass: which names each scope binds, and where."""

    def __init__(self):
        self.scopes = {}
        self.module = None
        self.current = None
        self.bound_at = None  # where targets being visited become bound

    def enter(self, node, visit_children):
        saved = self.current
        self.current = Scope(node, saved)
        self.scopes[id(node)] = self.current
        if self.module is None:
            self.module = self.current
        visit_children()
        self.current = saved

    def bind(self, name, pos, scope=None):
        scope = scope or self.current
        if name in scope.declared_global:
            self.module.add(name, FIRST)
        scope.add(name, pos)

    def visit_Module(self, node):
        self.enter(node, lambda: self.generic_visit(node))

    def visit_function(self, node):
        pos = where(node)
        if kind(node) != "Lambda":
            self.bind(node.name, pos)
            for deco in node.decorator_list:
                self.visit(deco)
            if node.returns is not None:
                self.visit(node.returns)
        for default in list(node.args.defaults) + [d for d in node.args.kw_defaults if d]:
            self.visit(default)
        for arg in all_args(node.args):
            if arg.annotation is not None:
                self.visit(arg.annotation)

        def body():
            for arg in all_args(node.args):
                self.bind(arg.arg, FIRST)
            for tp in getattr(node, "type_params", None) or []:
                self.bind(tp.name, FIRST)
            if kind(node) == "Lambda":
                self.visit(node.body)
            else:
                for stmt in node.body:
                    self.visit(stmt)
        self.enter(node, body)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_function

    def visit_ClassDef(self, node):
        self.bind(node.name, where(node))
        for expr in list(node.decorator_list) + list(node.bases) + [k.value for k in node.keywords]:
            self.visit(expr)

        def body():
            for name in ("__module__", "__qualname__"):
                self.bind(name, FIRST)
            for tp in getattr(node, "type_params", None) or []:
                self.bind(tp.name, FIRST)
            for stmt in node.body:
                self.visit(stmt)
        self.enter(node, body)

    def visit_comprehension_scope(self, node):
        generators = node.generators
        self.visit(generators[0].iter)

        def body():
            for i, gen in enumerate(generators):
                self.visit(gen.target)
                if i > 0:
                    self.visit(gen.iter)
                for cond in gen.ifs:
                    self.visit(cond)
            for name in ("elt", "key", "value"):
                if hasattr(node, name):
                    self.visit(getattr(node, name))
        self.enter(node, body)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_comprehension_scope

    def visit_Name(self, node):
        if not isinstance(node.ctx, ast.Load):
            self.bind(node.id, self.bound_at or where(node))

    def targets_after(self, targets, value):
        """Visits `value`, then `targets`, which are bound once `value` is computed."""
        self.visit(value)
        saved = self.bound_at
        self.bound_at = (value.end_lineno, value.end_col_offset)
        for target in targets:
            self.visit(target)
        self.bound_at = saved

    def visit_Assign(self, node):
        self.targets_after(node.targets, node.value)

    def visit_AugAssign(self, node):
        self.targets_after([node.target], node.value)

    def visit_AnnAssign(self, node):
        self.visit(node.annotation)
        if node.value is not None:
            self.targets_after([node.target], node.value)
        else:
            self.visit(node.target)

    def visit_For(self, node):
        self.targets_after([node.target], node.iter)
        for stmt in list(node.body) + list(node.orelse):
            self.visit(stmt)

    visit_AsyncFor = visit_For

    def visit_withitem(self, node):
        if node.optional_vars is not None:
            self.targets_after([node.optional_vars], node.context_expr)
        else:
            self.visit(node.context_expr)

    def visit_NamedExpr(self, node):
        scope = self.current
        while scope.kind in COMPREHENSIONS and scope.parent is not None:
            scope = scope.parent
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.bind(node.target.id, (node.end_lineno, node.end_col_offset), scope)

    def visit_Global(self, node):
        for name in node.names:
            self.current.declared_global.add(name)
            self.module.add(name, FIRST)

    def visit_Nonlocal(self, node):
        for name in node.names:
            self.current.add(name, FIRST)

    def visit_Import(self, node):
        for alias in node.names:
            self.bind(alias.asname or alias.name.split(".")[0], where(node))

    def visit_ImportFrom(self, node):
        for alias in node.names:
            if alias.name == "*":
                self.current.star_import = True
            else:
                self.bind(alias.asname or alias.name, where(node))

    def visit_ExceptHandler(self, node):
        if node.name:
            self.bind(node.name, where(node))
        self.generic_visit(node)

    def visit_TypeAlias(self, node):
        self.visit(node.name)
        self.visit(node.value)

    def generic_visit(self, node):
        name = kind(node)
        if name in ("MatchAs", "MatchStar") and getattr(node, "name", None):
            self.bind(node.name, where(node))
        if name == "MatchMapping" and getattr(node, "rest", None):
            self.bind(node.rest, where(node))
        super().generic_visit(node)


def all_args(args):
    found = list(getattr(args, "posonlyargs", [])) + list(args.args) + list(args.kwonlyargs)
    return found + [a for a in (args.vararg, args.kwarg) if a is not None]


class Resolver(ast.NodeVisitor):
    """Second pass: report loads of names that no scope binds.

    Like pyflakes, code runs top to bottom: in the scope being executed (the module, or
    the innermost function, plus class bodies inside it), a name must be bound before it
    is used; function bodies run later, so enclosing scopes are complete by then.
    """

    def __init__(self, binder, future_annotations):
        self.scopes = binder.scopes
        self.module = binder.module
        self.current = None
        self.name_error_guards = 0
        self.deferred = 0
        self.future_annotations = future_annotations
        self.found = []

    def inside(self, node, visit_children):
        saved = self.current
        self.current = self.scopes.get(id(node), saved)
        visit_children()
        self.current = saved

    def visit_all(self, nodes):
        for node in nodes:
            if node is not None:
                self.visit(node)

    def visit_annotations(self, nodes):
        self.deferred += self.future_annotations
        self.visit_all(nodes)
        self.deferred -= self.future_annotations

    def visit_Module(self, node):
        self.inside(node, lambda: self.visit_all(node.body))

    def visit_function(self, node):
        args = node.args
        annotations = [a.annotation for a in all_args(args)]
        annotations.append(getattr(node, "returns", None))
        outer = list(getattr(node, "decorator_list", [])) + list(args.defaults)
        outer += list(args.kw_defaults)
        generic = bool(getattr(node, "type_params", None))
        self.visit_all(outer)
        if not generic:
            self.visit_annotations(annotations)

        def body():
            if generic:
                self.visit_annotations(annotations)
            self.visit_all([node.body] if kind(node) == "Lambda" else node.body)
        self.inside(node, body)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_function

    def visit_AnnAssign(self, node):
        self.visit_annotations([node.annotation])
        self.visit_all([node.value, node.target])

    def visit_ClassDef(self, node):
        self.visit_all(list(node.decorator_list) + list(node.bases))
        self.visit_all([k.value for k in node.keywords])
        self.inside(node, lambda: self.visit_all(node.body))

    def visit_comprehension_scope(self, node):
        generators = node.generators
        self.visit(generators[0].iter)

        def body():
            for i, gen in enumerate(generators):
                self.visit(gen.target)
                if i > 0:
                    self.visit(gen.iter)
                self.visit_all(gen.ifs)
            self.visit_all([getattr(node, n, None) for n in ("elt", "key", "value")])
        self.inside(node, body)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_comprehension_scope

    def visit_Try(self, node):
        guarded = any(self.catches_name_error(h.type) for h in node.handlers)
        self.name_error_guards += guarded
        self.visit_all(node.body)
        self.name_error_guards -= guarded
        self.visit_all(list(node.handlers) + list(node.orelse) + list(node.finalbody))

    visit_TryStar = visit_Try

    @staticmethod
    def catches_name_error(expr):
        names = expr.elts if isinstance(expr, ast.Tuple) else [expr]
        return any(isinstance(n, ast.Name) and n.id == "NameError" for n in names)

    def visit_AugAssign(self, node):
        # `x += 1` reads x first: it must already be bound.
        if isinstance(node.target, ast.Name):
            self.check(node.target)
        else:
            self.visit(node.target)
        self.visit(node.value)

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            self.check(node)

    def check(self, node):
        if not self.name_error_guards and not self.resolves(node.id, where(node)):
            self.found.append((node.lineno, node.col_offset + 1, "F821",
                               "undefined name %r" % node.id))

    def resolves(self, name, pos):
        scope = self.current
        running = not self.deferred  # still inside the code that runs now
        first = True
        while scope is not None:
            if name in scope.declared_global and scope is not self.module:
                scope, running = self.module, False
                continue
            visible = first or scope.kind != "ClassDef"
            if visible and scope.star_import:
                return True
            bound_at = scope.bound.get(name) if visible else None
            ordered = running and scope.kind not in COMPREHENSIONS
            if bound_at is not None and (not ordered or bound_at < pos):
                return True
            if scope.kind in ("FunctionDef", "AsyncFunctionDef", "Lambda"):
                running = False
            scope = scope.parent
            first = False
        return name in KNOWN_GLOBALS


def undefined_names(tree):
    binder = Binder()
    binder.visit(tree)
    future = any(
        isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"
        and any(a.name == "annotations" for a in stmt.names)
        for stmt in tree.body
    )
    resolver = Resolver(binder, future)
    resolver.visit(tree)
    found = resolver.found
    module = binder.module
    if module is not None and not module.star_import:
        for stmt in tree.body:
            found.extend(undefined_in_all(stmt, module))
    return found


def undefined_in_all(stmt, module):
    targets = []
    if isinstance(stmt, ast.Assign):
        targets, value = stmt.targets, stmt.value
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) and stmt.value is not None:
        targets, value = [stmt.target], stmt.value
    if not any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
        return []
    if not isinstance(value, (ast.List, ast.Tuple)):
        return []
    out = []
    for elt in value.elts:
        if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
            if elt.value not in module.bound and elt.value not in KNOWN_GLOBALS:
                out.append((stmt.lineno, stmt.col_offset + 1, "F822",
                            "undefined name %r in __all__" % elt.value))
    return out


def expand_indent(text):
    if "\t" not in text:
        return len(text) - len(text.lstrip())
    width = 0
    for char in text:
        if char == "\t":
            width = width // 8 * 8 + 8
        elif char == " ":
            width += 1
        else:
            break
    return width


def indentation(source):
    """E111/E112/E113 over logical lines, as pycodestyle computes them."""
    lines = source.splitlines(True)
    skip = (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENCODING, tokenize.ENDMARKER, tokenize.COMMENT)
    found = []
    previous_level, previous_colon = 0, False
    first, last, depth = None, None, 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.OP and tok.string in "([{":
                depth += 1
            elif tok.type == tokenize.OP and tok.string in ")]}":
                depth = max(0, depth - 1)
            if tok.type not in skip:
                first = first or tok
                last = tok
            if tok.type != tokenize.NEWLINE or depth:
                continue
            if first is not None:
                row, col = first.start
                level = expand_indent(lines[row - 1][:col]) if row <= len(lines) else 0
                if level % 4:
                    found.append((row, col + 1, "E111", "indentation is not a multiple of 4"))
                if previous_colon and level <= previous_level:
                    found.append((row, col + 1, "E112", "expected an indented block"))
                elif not previous_colon and level > previous_level:
                    found.append((row, col + 1, "E113", "unexpected indentation"))
                previous_level = level
                previous_colon = last.type == tokenize.OP and last.string == ":"
            first, last = None, None
    except (tokenize.TokenError, SyntaxError) as err:
        found.append((1, 1, "E902", "%s: %s" % (type(err).__name__, err.args[0])))
    return found


def not_silenced(diag, lines):
    row, _col, code, _msg = diag
    if not 1 <= row <= len(lines):
        return True
    match = NOQA.search(lines[row - 1])
    if match is None:
        return True
    codes = match.group("codes")
    if not codes:
        return False
    return not any(code.startswith(c) for c in re.split(r"[,\s]+", codes.strip()) if c)


def check(source, filename):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(source, filename, "exec", dont_inherit=True)
        except SyntaxError as err:
            row = err.lineno or 1
            col = err.offset or 1
            return [(row, col, "E999", "%s: %s" % (type(err).__name__, err.args[0]))]
        except (ValueError, RecursionError, MemoryError, OverflowError) as err:
            return [(1, 1, "E902", "%s: %s" % (type(err).__name__, err))]
    found = []
    try:
        found.extend(undefined_names(ast.parse(source, filename)))
    except (RecursionError, SyntaxError, ValueError):
        pass
    found.extend(indentation(source))
    lines = source.splitlines()
    return sorted(d for d in found if not_silenced(d, lines))


def main():
    sys.setrecursionlimit(10000)
    filename = sys.argv[1] if len(sys.argv) > 1 else "<edit>"
    data = sys.stdin.buffer.read()
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as err:
        found = [(1, 1, "E902", "UnicodeDecodeError: %s" % err)]
    else:
        found = check(source, filename)
    out = [{"line": r, "column": c, "code": code, "message": msg} for r, c, code, msg in found]
    sys.stdout.write(json.dumps(out))


main()
