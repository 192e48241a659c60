"""Conftest-compatible Rego policies, evaluated in-process (regorus or regopy) or by an OPA server.

Semantics follow conftest:

* policies are every ``*.rego`` file under the policy directories (``*_test.rego`` files are
  only loaded by ``gitops policy test``); data files are JSON/YAML documents merged at the root
  of ``data`` (conftest ``--data``);
* the rules evaluated are ``deny``, ``violation`` and ``warn``, each optionally with a
  ``_<suffix>`` (``deny_image_tag``), in ``package main``;
* a rule yields strings or objects with a ``msg`` key (other keys are kept; ``path`` is used to
  point at the offending field);
* ``exception contains [..names]`` in the same package silences ``deny_<name>``/``warn_<name>``
  for that input.

Both in-process engines get the same generated module (:func:`evaluation_module`): one rule per
group of kinds that collects the rules applying to those kinds, so each object is one input and
one evaluation. regorus (:class:`RegorusEvaluator`, the default) is several times faster;
regopy (:class:`RegopyEvaluator`, rego-cpp) compiles the modules into a bundle. Tests check that
both give the same results; docs/VALIDATE.md compares them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import orjson

from tools import yamlfile
from tools.errors import UserError
from tools.validate.fast.regofast import fast_query, fast_setter
from tools.validate.rules import DOCS, RuleDoc

NAMESPACE = "main"
RULE_HEAD = re.compile(
    r"^(?P<name>(?:deny|violation|warn)(?:_[A-Za-z0-9_]+)?)\s*(?P<how>contains|\[|:=|=|if\b|\{)",
    re.MULTILINE,
)
EXCEPTION_HEAD = re.compile(r"^exception\s*(?P<how>contains|\[|:=|=|if\b|\{)", re.MULTILINE)
PARTIAL = ("contains", "[")  # heads of multi-value (set) rules; the others define one value
PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)", re.MULTILINE)
DATA_NAMES = ("data.yaml", "data.yml", "data.json")


@dataclass
class Module:
    path: Path
    source: str

    @property
    def package(self) -> str | None:
        match = PACKAGE.search(self.source)
        return match[1] if match else None


def qualified(namespace: str, name: str) -> str:
    """How a rule is named in findings: ``deny_x`` in package main, ``pkg.path.deny_x`` else."""
    return name if namespace == NAMESPACE else f"{namespace}.{name}"


def split_rule(rule: str) -> tuple[str, str]:
    """(package, rule name) of a :func:`qualified` name."""
    namespace, _, name = rule.rpartition(".")
    return namespace or NAMESPACE, name


@dataclass
class PolicySet:
    modules: list[Module]
    data: dict[str, Any]
    rules: list[str]  # qualified names (see :func:`qualified`), sorted
    # packages with an ``exception`` rule, among those evaluated
    exception_namespaces: frozenset[str] = frozenset()
    tests: list[Module] = field(default_factory=list)
    data_files: list[Path] = field(default_factory=list)
    # rule -> kinds it declares (METADATA custom.kinds); None: applies to every kind
    rule_kinds: dict[str, frozenset[str] | None] = field(default_factory=dict)
    # rule -> what its METADATA says about it (title, description, related_resources)
    rule_docs: dict[str, RuleDoc] = field(default_factory=dict)
    # rules (and ``exception``) written as single-value rules: they may be undefined
    complete: frozenset[str] = frozenset()
    # "v1" (OPA 1.x and conftest's default) or "v0" (conftest --rego-version v0); a module
    # with ``import rego.v1`` is v1 either way
    rego_version: str = "v1"
    # the packages whose rules are evaluated (conftest --namespace / --all-namespaces)
    namespaces: tuple[str, ...] = (NAMESPACE,)

    @property
    def has_exception(self) -> bool:
        return bool(self.exception_namespaces)

    @cached_property
    def exception_rules(self) -> list[str]:
        return [qualified(ns, "exception") for ns in sorted(self.exception_namespaces)]

    @cached_property
    def rule_info(self) -> dict[str, tuple[str, str, str]]:
        """rule -> (package, the suffix an exception names, severity)."""
        info = {}
        for rule in self.rules:
            namespace, name = split_rule(rule)
            prefix, _, suffix = name.partition("_")
            info[rule] = (namespace, suffix, "warning" if prefix == "warn" else "error")
        return info

    def rules_for(self, kind: str) -> list[str]:
        return [
            rule
            for rule in self.rules
            if (kinds := self.rule_kinds.get(rule)) is None or kind in kinds
        ]

    @property
    def empty(self) -> bool:
        return not self.rules


@dataclass
class PolicyResult:
    rule: str
    severity: str  # "error" | "warning"
    message: str
    path: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read policy file {path}: {exc}") from exc


def _merge(into: dict[str, Any], new: dict[str, Any], source: Path) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, source)
        elif key in into:
            raise UserError(f"{source}: data key {key!r} is already defined by another data file")
        else:
            into[key] = value


def load_data(files: Iterable[Path]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for file in files:
        text = _read(file)
        try:
            loaded = json.loads(text) if file.suffix == ".json" else yamlfile.load(text)
        except ValueError as exc:  # yamlfile.YamlError is one
            raise UserError(f"policy data file {file} is not valid: {exc}") from exc
        if loaded is None:
            continue
        if not isinstance(loaded, dict):
            raise UserError(f"policy data file {file} must hold a mapping")
        _merge(data, loaded, file)
    return data


REGO_VERSIONS = ("v1", "v0")


def load_policies(
    dirs: Sequence[Path],
    data_files: Sequence[Path] = (),
    rego_version: str = "v1",
    namespaces: Sequence[str] = (NAMESPACE,),
    all_namespaces: bool = False,
) -> PolicySet:
    """Read the Rego modules and data under *dirs* (missing dirs are a usage error).

    The rules of the packages in *namespaces* are evaluated, or of every package that has
    some with *all_namespaces* (conftest ``--namespace`` / ``--all-namespaces``).
    """
    if rego_version not in REGO_VERSIONS:
        raise UserError(f"Rego version {rego_version!r}: expected v1 or v0")
    modules: list[Module] = []
    tests: list[Module] = []
    found_data: list[Path] = list(data_files)
    for directory in dirs:
        if not directory.is_dir():
            raise UserError(f"policy directory {directory} does not exist")
        for path in sorted(directory.rglob("*.rego")):
            module = Module(path, _read(path))
            (tests if path.stem.endswith("_test") else modules).append(module)
        if not data_files:
            found_data.extend(p for p in (directory / n for n in DATA_NAMES) if p.is_file())
    rules: set[str] = set()
    rule_kinds: dict[str, frozenset[str] | None] = {}
    rule_docs: dict[str, RuleDoc] = {}
    complete: set[str] = set()
    with_exception: set[str] = set()
    evaluated: set[str] = set()
    for module in modules:
        package = module.package
        if package is None or not (all_namespaces or package in namespaces):
            continue
        for match in EXCEPTION_HEAD.finditer(module.source):
            with_exception.add(package)
            if match["how"] not in PARTIAL:
                complete.add(qualified(package, "exception"))
        for match in RULE_HEAD.finditer(module.source):
            evaluated.add(package)
            name = qualified(package, match["name"])
            rules.add(name)
            if match["how"] not in PARTIAL:
                complete.add(name)
            doc = documented(module.source, match.start())
            if doc is not None and name not in rule_docs:  # the first documented definition
                rule_docs[name] = doc
            declared = declared_kinds(module.source, match.start())
            if name in rule_kinds and rule_kinds[name] is None:
                continue
            if declared is None:
                rule_kinds[name] = None
            else:
                rule_kinds[name] = (rule_kinds.get(name) or frozenset()) | declared
    missing = [ns for ns in namespaces if ns not in evaluated] if not all_namespaces else []
    if missing:
        with_rules = sorted(
            {m.package for m in modules if m.package and RULE_HEAD.search(m.source)}
        )
        if with_rules:  # a typo or a forgotten flag would otherwise silently check nothing
            raise UserError(
                f"no deny/violation/warn rules in package {', '.join(missing)}; packages "
                f"with rules: {', '.join(with_rules)}",
                hint="name them with --namespace, or use --all-namespaces",
            )
    data = load_data(found_data)
    return PolicySet(
        modules=modules,
        data=data,
        rules=sorted(rules),
        rule_kinds={name: _data_kinds(kinds, data) for name, kinds in rule_kinds.items()},
        rule_docs=rule_docs,
        complete=frozenset(complete),
        rego_version=rego_version,
        namespaces=tuple(sorted(evaluated)) if all_namespaces else tuple(namespaces),
        exception_namespaces=frozenset(with_exception & (evaluated | set(namespaces))),
        tests=tests,
        data_files=found_data,
    )


def metadata_above(source: str, head: int) -> dict[str, Any]:
    """The ``# METADATA`` block (OPA's rule annotations) right above the rule at *head*."""
    lines = source[:head].rstrip("\n").split("\n")
    block: list[str] = []
    while lines and lines[-1].startswith("#"):
        block.append(lines.pop())
    block.reverse()
    if not block or block[0].strip() != "# METADATA":
        return {}
    text = "\n".join(line[2:] if line.startswith("# ") else line[1:] for line in block[1:])
    try:
        meta = yamlfile.load(text)
    except yamlfile.YamlError:
        return {}
    return meta if isinstance(meta, dict) else {}


def declared_kinds(source: str, head: int) -> frozenset[str] | None:
    """Kinds from a ``# METADATA`` block with ``custom: {kinds: [...]}`` right above a rule.

    An optimisation contract for policy authors: a rule that declares its kinds is only
    evaluated for objects of those kinds (conftest and OPA ignore the block). No block or no
    ``kinds``: the rule is evaluated for every object.
    """
    meta = metadata_above(source, head)
    custom = meta.get("custom")
    kinds = custom.get("kinds") if isinstance(custom, dict) else None
    if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
        return None
    return frozenset(kinds)


def documented(source: str, head: int) -> RuleDoc | None:
    """``title``, ``description`` and ``related_resources`` of the rule's METADATA, if any.

    ``related_resources`` entries are ``{ref: URL, description: text}`` or a bare URL, as OPA
    reads them; the first URL is where a report sends the reader for help.
    """
    meta = metadata_above(source, head)
    title, description = meta.get("title"), meta.get("description")
    related: list[tuple[str, str]] = []
    for entry in meta.get("related_resources") or []:
        if isinstance(entry, str):
            related.append((entry, ""))
        elif isinstance(entry, dict) and isinstance(entry.get("ref"), str):
            related.append((entry["ref"], str(entry.get("description") or "")))
    if not isinstance(title, str) and not isinstance(description, str) and not related:
        return None
    return RuleDoc(
        title=title.strip() if isinstance(title, str) else "",
        description=" ".join(description.split()) if isinstance(description, str) else "",
        help_uri=related[0][0] if related else f"{DOCS}#policies",
        related=tuple(related),
    )


def _data_kinds(kinds: frozenset[str] | None, data: dict[str, Any]) -> frozenset[str] | None:
    """Expand ``data.x.y`` entries of declared kinds into the kinds that data map (or list) names.

    ``kinds: [data.gitops.pod_kinds]`` declares a rule for every pod-bearing kind of the shared
    list in the policy data, so the rule cannot miss a kind added there.
    """
    if kinds is None or not any(k.startswith("data.") for k in kinds):
        return kinds
    out: set[str] = set()
    for kind in kinds:
        if not kind.startswith("data."):
            out.add(kind)
            continue
        node: Any = data
        for key in kind.split(".")[1:]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            out.update(str(k) for k in node)
        elif isinstance(node, list) and all(isinstance(k, str) for k in node):
            out.update(node)
        else:
            raise UserError(
                f"METADATA kinds: {kind} names no map or list of kinds in the policy data",
                hint="load the data file that defines it (--data)",
            )
    return frozenset(out)


def rego_error(exc: Exception, modules: Sequence[Module]) -> str:
    """A one-line summary of a regopy error (its native message is an AST dump)."""
    text = str(exc)
    messages = re.findall(r"\(errormsg \d+:([^)]*)\)", text)
    location = re.search(r"\(error \d+:([^|\s]+)\|(\d+)\|", text)
    where = ""
    if location:
        name, offset = location[1], int(location[2])
        for module in modules:
            if str(module.path) == name:
                line = module.source.count("\n", 0, offset) + 1
                where = f"{module.path}:{line}: "
                break
        else:
            where = f"{name}: "
    summary = "; ".join(dict.fromkeys(m.strip() for m in messages)) or text.splitlines()[0]
    return f"{where}{summary}"


def new_interpreter(modules: Sequence[Module], data: dict[str, Any]) -> Any:
    import regopy

    interpreter = regopy.Interpreter()
    try:
        if data:
            interpreter.add_data(data)
        for module in modules:
            interpreter.add_module(str(module.path), module.source)
    except regopy.RegoError as exc:
        raise UserError(f"policy does not compile: {rego_error(exc, modules)}") from exc
    return interpreter


EVAL_PACKAGE = "gitops_validate_eval"


def _group_object(policies: PolicySet, rules: Sequence[str]) -> str:
    """``{"deny_x": data.main.deny_x, ...}`` for *rules*, one entry a line.

    A single-value rule is wrapped as ``[v | v := data.main.rule]`` (``[]`` when undefined):
    one undefined entry would otherwise make the whole object, and so every result, undefined.
    """
    parts = []
    for key in [*rules, *policies.exception_rules]:
        namespace, name = split_rule(key)
        ref = f"data.{namespace}.{name}"
        parts.append(
            f'"{key}": [v | v := {ref}]' if key in policies.complete else f'"{key}": {ref}'
        )
    return "{" + "".join(f"\n  {part}," for part in parts) + ("\n}" if parts else "}")


def evaluation_module(policies: PolicySet) -> tuple[Module, dict[str, str]]:
    """A module with one rule per group of kinds that share the same applicable rules.

    Returns the module and kind -> entrypoint (``"*"`` for kinds no rule names).
    """
    kinds = sorted({k for ks in policies.rule_kinds.values() if ks for k in ks})
    groups: dict[tuple[str, ...], str] = {}
    entry: dict[str, str] = {}
    lines = [f"package {EVAL_PACKAGE}", "", "import rego.v1", ""]
    for kind in [*kinds, "*"]:
        rules = tuple(policies.rules_for(kind))
        if rules not in groups:
            groups[rules] = f"group_{len(groups)}"
            lines.append(f"{groups[rules]} := {_group_object(policies, rules)}")
        entry[kind] = f"{EVAL_PACKAGE}/{groups[rules]}"
    source = "\n".join(lines) + "\n"
    return Module(Path("<gitops-validate>/evaluation.rego"), source), entry


def results_from(value: Any, policies: PolicySet) -> list[PolicyResult]:
    """Turn ``{rule: results, exception: [...]}`` into results, applying exceptions."""
    if not isinstance(value, dict) or not any(value.values()):
        return []  # the usual case: no rule fired (wrapped single-value rules are [] or [v])

    def get(name: str) -> Any:
        raw = value.get(name)
        if name in policies.complete and isinstance(raw, list):
            return raw[0] if raw else None  # unwrap [v | v := rule] (see _group_object)
        return raw

    excepted: dict[str, set[str]] = {}  # package -> rule suffixes its exceptions silence
    for key in policies.exception_rules:
        silenced = excepted.setdefault(split_rule(key)[0], set())
        exceptions = get(key)
        if isinstance(exceptions, str):
            exceptions = [exceptions]
        for entry in exceptions if isinstance(exceptions, list) else []:
            if isinstance(entry, list):
                silenced.update(str(e) for e in entry)
            elif isinstance(entry, str):
                silenced.add(entry)
    out: list[PolicyResult] = []
    for rule, (namespace, suffix, severity) in policies.rule_info.items():
        if suffix and suffix in excepted.get(namespace, ()):
            continue
        raw = get(rule)
        if raw is None:
            continue
        items = raw if isinstance(raw, list) else [raw]
        for item in items:
            if isinstance(item, str):
                out.append(PolicyResult(rule, severity, item))
            elif isinstance(item, dict) and isinstance(item.get("msg"), str):
                path = item.get("path")
                details = {k: v for k, v in item.items() if k not in ("msg", "path")}
                out.append(
                    PolicyResult(
                        rule,
                        severity,
                        item["msg"],
                        path if isinstance(path, str) else None,
                        details,
                    )
                )
            elif item is True and not isinstance(raw, list):
                out.append(PolicyResult(rule, severity, f"{rule} is true"))
            else:
                out.append(
                    PolicyResult(
                        rule, "error", f"{rule} returned {item!r}; expected a string or {{msg}}"
                    )
                )
    return out


def _public_set_input(interpreter: Any, obj: Any) -> None:
    interpreter.set_input(obj)


def _public_query(interpreter: Any, bundle: Any, entrypoint: bytes) -> tuple[bool, Any]:
    output = interpreter.query_bundle_entrypoint(bundle, entrypoint.decode())
    if not output.ok():
        return False, None
    if not output.results or not output.results[0].expressions:
        return True, None
    return True, output.results[0].expressions[0]


def _entrypoint(entrypoints: dict[str, str], obj: dict[str, Any]) -> str:
    """The rule that evaluates *obj*: its kind's group, or the group of every kind."""
    kind = obj.get("kind")
    return entrypoints.get(kind, entrypoints["*"]) if isinstance(kind, str) else entrypoints["*"]


class Evaluator(Protocol):
    """A policy set compiled once for one engine; :meth:`evaluate` runs it on one object."""

    policies: PolicySet
    engine: str  # "regorus", "regopy" (what make_evaluator takes) or "opa-server"
    engine_id: str  # engine and build: part of the policy-result cache key

    def evaluate(self, obj: dict[str, Any]) -> list[PolicyResult]: ...


class RegopyEvaluator:
    """rego-cpp through regopy: the policy set compiled once into a bundle."""

    def __init__(self, policies: PolicySet):
        import regopy

        if policies.rego_version != "v1":
            raise UserError(
                "regopy evaluates Rego v1 only (it reads v0 rules such as `deny[msg] { ... }` "
                "as something else)",
                hint="use --engine regorus for --rego-version v0 policies",
            )
        self.policies = policies
        self.engine = "regopy"
        self.engine_id = f"regopy {getattr(regopy, '__version__', '?')}"
        self._bundle: Any = None
        self._interpreter: Any = None
        self._entrypoints: dict[str, str] = {}
        if policies.empty:
            return
        module, self._entrypoints = evaluation_module(policies)
        builder = new_interpreter([*policies.modules, module], policies.data)
        try:
            self._bundle = builder.build(None, sorted(set(self._entrypoints.values())))
        except regopy.RegoError as exc:
            raise UserError(
                f"policy does not compile: {rego_error(exc, policies.modules)}"
            ) from exc
        self._interpreter = regopy.Interpreter()
        self._set_input = fast_setter() or _public_set_input
        self._query = fast_query() or _public_query

    def evaluate(self, obj: dict[str, Any]) -> list[PolicyResult]:
        if self._bundle is None:
            return []
        import regopy

        try:
            self._set_input(self._interpreter, obj)
            ok, value = self._query(
                self._interpreter, self._bundle, _entrypoint(self._entrypoints, obj).encode()
            )
        except (regopy.RegoError, TypeError, ValueError) as exc:
            return [PolicyResult("policy-error", "error", f"policy evaluation failed: {exc}")]
        if not ok:
            return [
                PolicyResult(
                    "policy-error",
                    "error",
                    "policy evaluation failed (a built-in raised an error on this object)",
                )
            ]
        if value is None:
            return []
        return results_from(value, self.policies)


class RegorusEvaluator:
    """regorus (a Rego interpreter in Rust) in-process: modules parsed once, one engine reused.

    Several times faster than rego-cpp on these policies and it evaluates ``with`` correctly;
    built-in errors surface as a ``policy-error`` finding with the Rego source location.

    With ``compiled`` (``--engine auto``), objects are evaluated by regorus's Rego virtual machine
    where the policies compile to it (several times faster again; see :func:`_vm_evaluate` for
    where the interpreter still answers). The VM makes a failing built-in's expression undefined,
    as conftest and OPA do by default; the interpreter alone (``--engine regorus``) reports it.
    """

    def __init__(self, policies: PolicySet, *, compiled: bool = False):
        self.policies = policies
        # What make_evaluator takes to build this evaluator again (the sandbox's workers do).
        self.engine = "auto" if compiled else "regorus"
        self.engine_id = f"regorus {_regorus_build()}"
        self._engine: Any = None
        self._entrypoints: dict[str, str] = {}
        if policies.empty:
            return
        module, entrypoints = evaluation_module(policies)
        self._entrypoints = {k: "data." + v.replace("/", ".") for k, v in entrypoints.items()}
        self._engine = regorus_engine(
            [*policies.modules, module], policies.data, policies.rego_version
        )
        # Names are resolved when a rule is first evaluated: do that now, on an empty object,
        # so an unknown function or rule is a compile error and not a finding on every object.
        self._engine.set_input_json("{}")
        for entrypoint in sorted(set(self._entrypoints.values())):
            try:
                self._engine.eval_rule_as_json(entrypoint)
            except Exception as exc:
                message = regorus_error(exc)
                if "could not find" in message or "not a valid rule path" in message:
                    raise UserError(f"policy does not compile: {message}") from exc
        self._vm = (
            regorus_vm(
                [*policies.modules, module], policies.data, policies.rego_version, self._entrypoints
            )
            if compiled
            else None
        )
        if self._vm is not None:
            self.engine_id += " rvm"  # cached results are keyed by the path that made them

    def evaluate(self, obj: dict[str, Any]) -> list[PolicyResult]:
        if self._engine is None:
            return []
        try:
            payload = orjson.dumps(obj).decode()
        except TypeError as exc:  # a value JSON cannot hold, or nesting deeper than 254
            return [PolicyResult("policy-error", "error", f"cannot pass the object to rego: {exc}")]
        entrypoint = _entrypoint(self._entrypoints, obj)
        if self._vm is not None:
            text = _vm_evaluate(self._vm, payload, entrypoint)
            if text is not None:
                return results_from(orjson.loads(text), self.policies)
        try:
            self._engine.set_input_json(payload)
        except BaseException as exc:  # a Rust panic arrives as a BaseException
            _reraise_fatal(exc)
            message = f"cannot pass the object to rego: {regorus_error(exc)}"
            return [PolicyResult("policy-error", "error", message)]
        try:
            text = self._engine.eval_rule_as_json(entrypoint)
        except BaseException as exc:
            _reraise_fatal(exc)
            kind = obj.get("kind")
            return self._rule_by_rule(kind if isinstance(kind, str) else "*")
        return results_from(orjson.loads(text), self.policies)

    def _rule_by_rule(self, kind: str) -> list[PolicyResult]:
        """After an error (a built-in failed): each rule alone, so the others still report."""
        value: dict[str, Any] = {}
        errors: list[PolicyResult] = []
        for key in [*self.policies.rules_for(kind), *self.policies.exception_rules]:
            namespace, name = split_rule(key)
            try:
                raw = orjson.loads(self._engine.eval_rule_as_json(f"data.{namespace}.{name}"))
            except BaseException as exc:
                _reraise_fatal(exc)
                message = f"policy evaluation failed: {regorus_error(exc)}"
                errors.append(PolicyResult("policy-error", "error", message))
                continue
            if raw != "<undefined>":
                value[key] = [raw] if key in self.policies.complete else raw
        return errors + results_from(value, self.policies)


def _reraise_fatal(exc: BaseException) -> None:
    """Ctrl-C and exits go on; anything else from the engine (errors, Rust panics) is a
    finding."""
    if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
        raise exc


REGORUS_DIST = "gordon-to-regorus"  # the PyPI build of regorus this project pins
ENGINES = ("auto", "regorus", "regopy")
_ENGINE_HINTS = {
    "regorus": f"pip install '{REGORUS_DIST}' (the regorus extra), or --engine regopy",
    "regopy": "pip install regopy (part of the tools extra), or --engine regorus",
}


def _regorus_build() -> str:
    """Size and mtime of regorus's compiled module: changes with every install of another
    build, and costs a stat where importlib.metadata.version costs ~25 ms of start-up."""
    import regorus.regorus as native

    try:
        stat = os.stat(native.__file__ or "")
    except OSError:
        return "?"
    return f"{stat.st_size}-{stat.st_mtime_ns}"


def _importable(engine: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(engine) is not None


def resolve_engine(name: str) -> str:
    """``regorus`` or ``regopy`` for *name*; ``auto`` prefers regorus (faster) when installed."""
    if name not in ENGINES:
        raise UserError(f"unknown Rego engine {name!r}; expected one of {', '.join(ENGINES)}")
    if name == "auto":
        for engine in ("regorus", "regopy"):
            if _importable(engine):
                return engine
        raise UserError("no Rego engine is installed", hint=_ENGINE_HINTS["regorus"])
    if not _importable(name):
        raise UserError(f"the {name} Rego engine is not installed", hint=_ENGINE_HINTS[name])
    return name


def make_evaluator(policies: PolicySet, engine: str = "auto") -> Evaluator:
    """The policy set compiled for *engine* (``auto``, ``regorus`` or ``regopy``): ``auto`` is
    regorus with its virtual machine where the policies compile to it, ``regorus`` its
    interpreter only (built-in errors reported), ``regopy`` rego-cpp."""
    if resolve_engine(engine) == "regorus":
        return RegorusEvaluator(policies, compiled=engine == "auto")
    return RegopyEvaluator(policies)


def regorus_engine(
    modules: Sequence[Module], data: dict[str, Any], rego_version: str = "v1"
) -> Any:
    """A regorus engine with *modules* and *data* loaded (a parse error is a UserError)."""
    import regorus

    engine = regorus.Engine()
    if rego_version == "v0":
        engine.set_rego_v0(True)  # modules that import rego.v1 are still read as v1
    longest = max((len(line) for m in modules for line in m.source.splitlines()), default=0)
    if longest > 1024:  # regorus refuses lines longer than 1,024 columns by default
        engine.set_policy_length_config(max_col=longest + 1)
    try:
        if data:
            engine.add_data_json(json.dumps(data))
        for module in modules:
            engine.add_policy(str(module.path), module.source)
    except Exception as exc:
        message = regorus_error(exc)
        v0 = rego_version == "v1" and "keyword is required" in message
        raise UserError(
            f"policy does not compile: {message}",
            hint="policies in Rego v0 syntax? pass --rego-version v0" if v0 else None,
        ) from exc
    return engine


UNDEFINED = "<undefined>"  # how regorus writes an undefined value in its JSON


def regorus_vm(
    modules: Sequence[Module], data: dict[str, Any], rego_version: str, entrypoints: dict[str, str]
) -> Any:
    """A regorus RVM (its Rego virtual machine) with *modules* compiled for the *entrypoints*
    (kind -> rule path), or None when this build of regorus has none or the compiler does not
    take these policies (Rego v0, ``with``, lines over 1,024 columns, ...): then the
    interpreter evaluates everything, as before.

    The RVM evaluates the evaluation module several times faster than the interpreter; it is
    used only where it says the same (see :func:`_vm_evaluate`).
    """
    if rego_version != "v1" or not entrypoints:
        return None
    try:
        import regorus

        data_json = json.dumps(data)
        program = regorus.Program.compile_from_modules(
            data_json,
            [(str(m.path), m.source) for m in modules],
            sorted(set(entrypoints.values())),
        )
        vm = regorus.Rvm()
        vm.load_program(program)
        vm.set_data_json(data_json)
    except BaseException as exc:  # no RVM in this build, or a compile error (a Rust panic too)
        _reraise_fatal(exc)
        return None
    return vm


def _vm_evaluate(vm: Any, payload: str, entrypoint: str) -> str | None:
    """The evaluation module's value for one object from the RVM, as JSON; None when the
    interpreter must say it instead: the RVM failed, or its answer holds an undefined value
    (where a built-in failed or had an undefined argument, the RVM puts "<undefined>" in a
    rule's set and goes on, where the interpreter drops the value or raises an error — a
    ``policy-error`` finding)."""
    try:
        vm.set_input_json(payload)
        text: str = vm.execute_entry_point(entrypoint)
    except BaseException as exc:
        _reraise_fatal(exc)
        return None
    return None if UNDEFINED in text else text


def regorus_error(exc: BaseException) -> str:
    """``file:line:col: message`` from a regorus error (its text is a source excerpt and a
    backtrace)."""
    text = str(exc)
    location = re.search(r"-->\s*(\S+?):(\d+):(\d+)", text)
    message = re.search(r"^error:\s*(.+)$", text, re.MULTILINE)
    summary = (
        message[1].strip()
        if message
        else text.strip().splitlines()[0]
        if text.strip()
        else type(exc).__name__
    )
    return f"{location[1]}:{location[2]}:{location[3]}: {summary}" if location else summary


class OpaServerEvaluator:
    """The same evaluation through a running OPA server (``--opa-url``), over its REST API.

    The policies (``PUT /v1/policies/{id}``, ids under ``gitops-validate/``) and data
    (``PUT /v1/data/{key}``) are uploaded once; then each object is one ``POST /v1/data/{package}``
    with the object as ``input``. Each request may take *timeout* seconds (the policy time
    budget for one object); a slower answer is a ``policy-error`` finding for that object.
    """

    def __init__(self, policies: PolicySet, url: str, timeout: float = 10.0):
        from urllib.parse import urlparse

        import httpx

        self.policies = policies
        self.engine = "opa-server"
        self.engine_id = f"opa-server {url}"
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise UserError(f"--opa-url {url!r}: expected http(s)://host:port")
        self.client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
        self.timeout = timeout
        try:
            self._call("GET", "/health")
            for index, module in enumerate(policies.modules):
                # ids must be unique: two folders may both hold a k8s.rego
                policy_id = f"gitops-validate/{index:04d}-{module.path.name}"
                self._call(
                    "PUT",
                    f"/v1/policies/{policy_id}",
                    content=module.source.encode(),
                    headers={"Content-Type": "text/plain"},
                )
            for key, value in (policies.data or {}).items():
                self._call("PUT", f"/v1/data/{key}", json=value)
        except (httpx.HTTPError, _OpaError) as exc:
            self.client.close()
            raise UserError(
                f"OPA server at {url} is not usable: {exc}",
                hint="start it with `opa run --server` or drop --opa-url to evaluate in-process",
            ) from exc

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; the decoded JSON answer (None when empty), or _OpaError."""
        response = self.client.request(method, path, **kwargs)
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
            if response.is_success:
                raise _OpaError(f"{method} {path}: answer is not JSON") from None
        if not response.is_success:
            raise _OpaError(f"{method} {path}: HTTP {response.status_code}: {_opa_message(body)}")
        return body

    def evaluate(self, obj: dict[str, Any]) -> list[PolicyResult]:
        import httpx

        value: dict[str, Any] = {}
        for namespace in self.policies.namespaces:
            try:
                answer = self._call(
                    "POST", f"/v1/data/{namespace.replace('.', '/')}", json={"input": obj}
                )
            except httpx.TimeoutException:
                message = (
                    f"OPA query stopped after {self.timeout:g}s (the time budget for one object)"
                )
                return [PolicyResult("policy-error", "error", message)]
            except (httpx.HTTPError, _OpaError) as exc:
                return [PolicyResult("policy-error", "error", f"OPA query failed: {exc}")]
            document = answer.get("result") if isinstance(answer, dict) else None
            if not isinstance(document, dict):  # undefined package: no "result" key
                document = {}
            for name, result in document.items():
                key = qualified(namespace, name)
                # single-value rules arrive as the value: wrap them as the in-process
                # evaluation module does (see _group_object and results_from)
                value[key] = [result] if key in self.policies.complete else result
        return results_from(value, self.policies)


class _OpaError(Exception):
    """OPA answered with an error (its REST API's {"code", "message", "errors"} body)."""


def _opa_message(body: Any) -> str:
    if not isinstance(body, dict):
        return "no error message"
    message = str(body.get("message") or body.get("code") or "no error message")
    details = [str(e.get("message")) for e in body.get("errors") or [] if isinstance(e, dict)]
    return "; ".join([message, *details[:3]])
