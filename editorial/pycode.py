"""Which content ids the action code uses, read from the Python source with ``ast``.

Nothing is imported or run: the checks read ``actions/*.py`` of whatever
project root they are given (a copy, in the tests), and a content id added to
the code is found without anyone keeping a second list up to date.

Found here:

* ``INTENT_CONTENT`` (intent -> content id), however it is built from literals,
  ``.update(...)`` calls, ``INTENT_CONTENT[...] = ...`` and comprehensions over
  module constants such as ``ARTICLE_TOPICS + SMALL_TALK`` from ``actions.content``;
  and its default, ``INTENT_CONTENT.get(intent, "fallback")`` (or ``(intent, intent)``,
  meaning "an intent answers with the entry of the same name");
* ids passed as literals to ``.render("...")`` or as ``content_id="..."``;
* ids returned as literals by a function whose name mentions ``content_id``;
* which action class (``name()`` returning ``"action_..."``) shows which ids;
* every string literal, so an entry named only in some other way still counts as used.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

MAPPING_NAME = "INTENT_CONTENT"


@dataclass(frozen=True)
class Ref:
    """One place in the code that names a content id."""

    content_id: str
    file: str
    line: int
    how: str
    action: Optional[str] = None
    intent: Optional[str] = None
    comment: str = ""


@dataclass
class ActionCode:
    """What the action code says about content ids."""

    intent_content: Dict[str, Ref] = field(default_factory=dict)
    mapping_file: Optional[str] = None
    mapping_line: int = 0
    default: Optional[Ref] = None
    identity_default: bool = False
    rendered: List[Ref] = field(default_factory=list)
    mentions: Set[str] = field(default_factory=set)
    actions: Dict[str, Tuple[str, int]] = field(default_factory=dict)  # action -> (file, line)
    constants: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # module -> name -> value
    problems: List[Tuple[str, int, str]] = field(default_factory=list)

    def strict_refs(self) -> List[Ref]:
        """References that must name an existing entry."""
        refs = list(self.intent_content.values()) + list(self.rendered)
        if self.default is not None:
            refs.append(self.default)
        return refs


class _Unresolved(Exception):
    pass


class _Module:
    def __init__(self, name: str, rel: str, tree: ast.Module, source: str = "") -> None:
        self.name, self.rel, self.tree = name, rel, tree
        self.lines = source.splitlines()
        self.assigns: Dict[str, ast.AST] = {}
        self.imports: Dict[str, Tuple[str, Optional[str]]] = {}  # local -> (module, attr)
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                self.assigns.setdefault(node.targets[0].id, node.value)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                self.assigns.setdefault(node.target.id, node.value)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    local = alias.asname or alias.name
                    # `from actions import content` is a module; `from actions.content import X` a name.
                    self.imports[local] = (node.module, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = (alias.name, None)


class _Evaluator:
    """Evaluates the constant expressions the action code builds its tables from."""

    def __init__(self, modules: Dict[str, _Module]) -> None:
        self.modules = modules
        self.depth = 0

    def module_value(self, module: str, name: str) -> Any:
        mod = self.modules.get(module)
        if mod is None:
            raise _Unresolved(f"{module}.{name}")
        if name in mod.assigns:
            return self.eval(mod.assigns[name], mod, {})
        if name in mod.imports:
            return self.import_value(mod.imports[name])
        raise _Unresolved(f"{module}.{name}")

    def import_value(self, target: Tuple[str, Optional[str]]) -> Any:
        module, attr = target
        if attr is None:
            return ("module", module)
        if f"{module}.{attr}" in self.modules:
            return ("module", f"{module}.{attr}")
        return self.module_value(module, attr)

    def eval(self, node: ast.AST, mod: _Module, scope: Dict[str, Any]) -> Any:
        self.depth += 1
        try:
            if self.depth > 50:
                raise _Unresolved("too deep")
            return self._eval(node, mod, scope)
        finally:
            self.depth -= 1

    def _eval(self, node: ast.AST, mod: _Module, scope: Dict[str, Any]) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.Tuple, ast.List)):
            return tuple(self.eval(e, mod, scope) for e in node.elts)
        if isinstance(node, ast.Set):
            return frozenset(self.eval(e, mod, scope) for e in node.elts)
        if isinstance(node, ast.Dict):
            result: Dict[Any, Any] = {}
            for k, v in zip(node.keys, node.values):
                if k is None:
                    result.update(self.eval(v, mod, scope))
                else:
                    result[self.eval(k, mod, scope)] = self.eval(v, mod, scope)
            return result
        if isinstance(node, ast.Name):
            if node.id in scope:
                return scope[node.id]
            if node.id in mod.assigns:
                return self.eval(mod.assigns[node.id], mod, {})
            if node.id in mod.imports:
                return self.import_value(mod.imports[node.id])
            raise _Unresolved(node.id)
        if isinstance(node, ast.Attribute):
            base = self.eval(node.value, mod, scope)
            if isinstance(base, tuple) and len(base) == 2 and base[0] == "module":
                return self.module_value(base[1], node.attr)
            raise _Unresolved(ast.unparse(node))
        if isinstance(node, ast.BinOp):
            left, right = self.eval(node.left, mod, scope), self.eval(node.right, mod, scope)
            if isinstance(node.op, ast.Add):
                return tuple(left) + tuple(right) if isinstance(left, tuple) else left + right
            if isinstance(node.op, ast.BitOr):
                return frozenset(left) | frozenset(right)
            raise _Unresolved(ast.unparse(node))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            if node.func.id in ("frozenset", "set", "tuple", "list") and len(node.args) <= 1:
                items = self.eval(node.args[0], mod, scope) if node.args else ()
                return frozenset(items) if node.func.id in ("frozenset", "set") else tuple(items)
            if node.func.id == "dict" and len(node.args) == 1:
                return dict(self.eval(node.args[0], mod, scope))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
            return {kw.arg: self.eval(kw.value, mod, scope) for kw in node.keywords if kw.arg}
        if isinstance(node, (ast.DictComp, ast.SetComp, ast.ListComp)) and len(node.generators) == 1:
            gen = node.generators[0]
            if not isinstance(gen.target, ast.Name):
                raise _Unresolved(ast.unparse(node))
            out: List[Any] = []
            for item in self.eval(gen.iter, mod, scope):
                inner = {**scope, gen.target.id: item}
                if all(self.eval(cond, mod, inner) for cond in gen.ifs):
                    if isinstance(node, ast.DictComp):
                        out.append((self.eval(node.key, mod, inner), self.eval(node.value, mod, inner)))
                    else:
                        out.append(self.eval(node.elt, mod, inner))
            if isinstance(node, ast.DictComp):
                return dict(out)
            return frozenset(out) if isinstance(node, ast.SetComp) else tuple(out)
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn)):
            left, right = self.eval(node.left, mod, scope), self.eval(node.comparators[0], mod, scope)
            return (left in right) if isinstance(node.ops[0], ast.In) else (left not in right)
        raise _Unresolved(ast.unparse(node))


def _is_mapping(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == MAPPING_NAME


def _action_name(cls: ast.ClassDef) -> Optional[str]:
    for item in cls.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == "name":
            for stmt in ast.walk(item):
                if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Constant) \
                        and isinstance(stmt.value.value, str):
                    return stmt.value.value
    return None


class _RefFinder(ast.NodeVisitor):
    """Walks one module, noting content ids and which action (class) they are in."""

    def __init__(self, code: ActionCode, evaluator: _Evaluator, mod: _Module) -> None:
        self.code, self.evaluator, self.mod = code, evaluator, mod
        self.action: Optional[str] = None
        self.function: Optional[str] = None

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        name = _action_name(node)
        outer = self.action
        if name:
            self.action = name
            self.code.actions[name] = (self.mod.rel, node.lineno)
        self.generic_visit(node)
        self.action = outer

    def _visit_function(self, node) -> None:
        outer = self.function
        self.function = node.name
        if "content_id" in node.name:
            for stmt in ast.walk(node):
                if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Constant) \
                        and isinstance(stmt.value.value, str):
                    self._ref(stmt.value.value, stmt.lineno, f"returned by {node.name}()")
        self.generic_visit(node)
        self.function = outer

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self.code.mentions.add(node.value)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "render" and node.args:
            self._literal(node.args[0], node.lineno, "passed to render()")
        for kw in node.keywords:
            if kw.arg == "content_id":
                self._literal(kw.value, node.lineno, "passed as content_id=")
        if isinstance(func, ast.Attribute) and func.attr == "get" and _is_mapping(func.value) \
                and len(node.args) == 2:
            key, default = node.args
            if ast.dump(key) == ast.dump(default):
                self.code.identity_default = True
            else:
                value = self._value(default)
                if isinstance(value, str):
                    self.code.default = Ref(value, self.mod.rel, node.lineno,
                                            f"{MAPPING_NAME}.get(...) default (intents not listed)",
                                            self.action)
        self.generic_visit(node)

    def _value(self, node: ast.AST) -> Any:
        try:
            return self.evaluator.eval(node, self.mod, {})
        except _Unresolved:
            return None

    def _literal(self, node: ast.AST, line: int, how: str) -> None:
        value = node.value if isinstance(node, ast.Constant) else None
        if value is None and isinstance(node, (ast.Name, ast.Attribute)):
            value = self._value(node)
        if isinstance(value, str):
            self._ref(value, line, how)

    def _ref(self, content_id: str, line: int, how: str) -> None:
        where = f"in {self.action}" if self.action else (f"in {self.function}()" if self.function else "")
        if self.function and f"{self.function}()" in how:
            where = ""
        self.code.rendered.append(Ref(content_id, self.mod.rel, line, f"{how} {where}".strip(), self.action,
                                      comment=self._comment(line)))

    def _comment(self, line: int) -> str:
        """The comment at the end of the line, which often says when the entry is shown."""
        text = self.mod.lines[line - 1] if 0 < line <= len(self.mod.lines) else ""
        return text.split("  # ", 1)[1].strip() if "  # " in text else ""


def _read_mapping(code: ActionCode, evaluator: _Evaluator, mod: _Module) -> None:
    """Builds INTENT_CONTENT from the module's top-level statements, in order."""
    found = False
    for node in mod.tree.body:
        try:
            if isinstance(node, ast.Assign) and any(_is_mapping(t) for t in node.targets):
                found = True
                code.mapping_file, code.mapping_line = mod.rel, node.lineno
                _add_items(code, evaluator, mod, node.value)
            elif isinstance(node, ast.AnnAssign) and _is_mapping(node.target) and node.value is not None:
                found = True
                code.mapping_file, code.mapping_line = mod.rel, node.lineno
                _add_items(code, evaluator, mod, node.value)
            elif found and isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
                    and isinstance(node.value.func, ast.Attribute) and _is_mapping(node.value.func.value) \
                    and node.value.func.attr == "update" and len(node.value.args) == 1:
                _add_items(code, evaluator, mod, node.value.args[0])
            elif found and isinstance(node, ast.Assign) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Subscript) and _is_mapping(node.targets[0].value):
                key = evaluator.eval(node.targets[0].slice, mod, {})
                value = evaluator.eval(node.value, mod, {})
                _add(code, mod, key, value, node.lineno)
        except _Unresolved as e:
            code.problems.append((mod.rel, node.lineno,
                                  f"could not work out {MAPPING_NAME} here (it uses {e}); "
                                  "keep it built from plain text values and module constants"))


def _add_items(code: ActionCode, evaluator: _Evaluator, mod: _Module, node: ast.AST) -> None:
    if isinstance(node, ast.Dict):
        for k, v in zip(node.keys, node.values):
            if k is None:
                _add_items(code, evaluator, mod, v)
            else:
                _add(code, mod, evaluator.eval(k, mod, {}), evaluator.eval(v, mod, {}), k.lineno)
        return
    for key, value in evaluator.eval(node, mod, {}).items():
        _add(code, mod, key, value, node.lineno)


def _add(code: ActionCode, mod: _Module, intent: Any, content_id: Any, line: int) -> None:
    if isinstance(intent, str) and isinstance(content_id, str):
        code.intent_content[intent] = Ref(content_id, mod.rel, line,
                                          f"{MAPPING_NAME}['{intent}']", "utter_answer", intent)


def read_actions(root: Path, package: str = "actions") -> ActionCode:
    """Reads ``<root>/actions/*.py``; problems (unparsable code) are collected, not raised."""
    code = ActionCode()
    modules: Dict[str, _Module] = {}
    for path in sorted((root / package).glob("*.py")):
        rel = path.relative_to(root).as_posix()
        source = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(source, filename=rel)
        except SyntaxError as e:
            code.problems.append((rel, e.lineno or 0, f"Python syntax error: {e.msg}"))
            continue
        name = f"{package}.{path.stem}" if path.stem != "__init__" else package
        modules[name] = _Module(name, rel, tree, source)
    evaluator = _Evaluator(modules)
    for mod in modules.values():
        if MAPPING_NAME in mod.assigns:
            _read_mapping(code, evaluator, mod)
        _RefFinder(code, evaluator, mod).visit(mod.tree)
        values: Dict[str, Any] = {}
        for name in mod.assigns:
            try:
                values[name] = evaluator.module_value(mod.name, name)
            except _Unresolved:
                pass
        code.constants[mod.name] = values
    return code
