"""The ``matches`` operator with Go's regexp semantics: RE2 syntax, linear-time matching.

expr-lang compiles the pattern of ``s matches p`` with Go's ``regexp.Compile``: at compile
time when ``p`` is a string literal (checker/checker.go, case "matches"), otherwise when the
operator runs (vm/vm.go, OpMatches). Go's regexp package is an implementation of RE2: no
backreferences or look-around, and matching time linear in the input, so a pattern like
``^(a+)+$`` cannot blow up. We match with RE2 itself (the ``google-re2`` package) and make the
few places where RE2's C++ parser and Go's ``regexp/syntax`` differ behave like Go:

* error messages use Go's wording: ``error parsing regexp: <code>: `<fragment>```
  (regexp/syntax/parse.go, ``Error.Error`` and the ``Err*`` codes);
* ``\\C`` (any byte) is accepted by RE2 but rejected by Go (``ErrInvalidEscape``);
* ``(?<`` always starts a named group in Go (``parsePerlFlags``), so a lookbehind
  ``(?<=a)b`` is "invalid named capture: `(?<=a)b`" there, where RE2 names a Perl operator;
* Go limits the parse tree height to 1000 (``maxHeight``, ``ErrNestingDepth``); we apply it to
  the nesting of capturing groups, the form in which such a tree is written;
* duplicate group names are accepted, as in Go (RE2 runs with ``never_capture``, which a
  yes/no match does not need).

Two differences are left. When a pattern has several errors, the first one found by the
rules above is reported even if Go's parser would have stopped at an earlier one. And RE2
compiles to a byte automaton under an 8 MiB program budget, so a
large counted repetition of a big Unicode class (``\\pL{1000}``) is reported as
``expression too large`` where Go's rune-based program may still accept it.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import re2

from tools.analysis.expr.errors import ExprError

# regexp/syntax/parse.go: maxHeight.
MAX_HEIGHT = 1000
# regexp/syntax/parse.go: isValidCaptureName ([A-Za-z0-9_]+, ASCII only).
_CAPTURE_NAME = re.compile(r"[A-Za-z0-9_]+\Z")
# How many compiled patterns are kept; expr-lang compiles a literal pattern once per program.
_CACHE_SIZE = 64

# RE2's error text (re2/re2.cc, kErrorStrings) -> Go's ErrorCode (regexp/syntax/parse.go).
_GO_CODES = {
    "unexpected error": "regexp/syntax: internal error",
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class range": "invalid character class range",
    "invalid character class": "invalid character class",
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid UTF-8": "invalid UTF-8",
    "invalid named capture group": "invalid named capture",
    "pattern too large - compile failed": "expression too large",
    "pattern too large - reverse compile failed": "expression too large",
}


class RegexpError(ExprError):
    """A pattern Go's regexp.Compile rejects; the message is Go's."""


def go_error(code: str, fragment: str) -> RegexpError:
    return RegexpError(f"error parsing regexp: {code}: `{fragment}`")


def matches(text: str, pattern: str) -> bool:
    """``regexp.MatchString(pattern, text)``: true if the pattern matches anywhere in text."""
    regexp = compile_pattern(pattern)
    try:
        return regexp.search(text) is not None
    except UnicodeEncodeError:
        # A lone surrogate from a \\uD800 escape: Go strings are UTF-8 bytes and would hold
        # U+FFFD here; RE2 refuses to encode it, and nothing else in expr can produce one.
        return regexp.search(text.encode("utf-8", "replace")) is not None


@functools.lru_cache(maxsize=_CACHE_SIZE)
def compile_pattern(pattern: str) -> Any:
    """Compile like Go's regexp.Compile, raising RegexpError with Go's message."""
    try:
        encoded = pattern.encode("utf-8")
    except UnicodeEncodeError:
        raise go_error("invalid UTF-8", pattern.encode("utf-8", "replace").decode()) from None
    _check_go_only_rules(pattern)
    options = re2.Options()
    options.log_errors = False
    options.never_capture = True
    try:
        return re2.compile(encoded, options)
    except re2.error as exc:
        raise _translate(exc, pattern) from None


def _check_go_only_rules(pattern: str) -> None:
    r"""The rules where Go's parser rejects what RE2's accepts: ``\C`` and nesting height."""
    depth = 0
    i = 0
    n = len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "Q" and not in_class:
                end = pattern.find("\\E", i + 2)
                i = n if end < 0 else end + 2
                continue
            if nxt == "C":
                raise go_error("invalid escape sequence", "\\C")
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            elif ch == "[" and pattern.startswith("[:", i):
                close = pattern.find(":]", i + 2)
                i = i + 1 if close < 0 else close + 2
                continue
        elif ch == "[":
            in_class = True
            # A ']' right after '[' or '[^' is a literal member of the class.
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":
                i += 1
            continue
        elif ch == "(":
            rest = pattern[i:]
            named = _named_group_length(rest)
            if named or not rest.startswith("(?"):
                depth += 1
                # Each capturing group is one node; the innermost expression adds one more.
                if depth + 1 > MAX_HEIGHT:
                    raise go_error("expression nests too deeply", pattern)
                if named:
                    i += named
                    continue
        elif ch == ")":
            depth = max(0, depth - 1)
        i += 1


def _named_group_length(rest: str) -> int:
    """Length of a ``(?P<name>`` / ``(?<name>`` opening, or 0; raises Go's errors for it."""
    if len(rest) > 4 and rest.startswith("(?P<"):
        start = 4
    elif len(rest) > 3 and rest.startswith("(?<"):
        start = 3
    else:
        if rest == "(?<":
            raise go_error("invalid or unsupported Perl syntax", rest)
        return 0
    end = rest.find(">")
    if end < 0:
        raise go_error("invalid named capture", rest)
    if not _CAPTURE_NAME.match(rest[start:end]):
        raise go_error("invalid named capture", rest[: end + 1])
    return end + 1


def _translate(exc: Exception, pattern: str) -> RegexpError:
    raw = exc.args[0] if exc.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    for re2_code, go_code in _GO_CODES.items():
        if text == re2_code:
            # Go names the whole pattern for size errors, nothing for a trailing backslash.
            fragment = pattern if go_code == "expression too large" else ""
            return go_error(go_code, fragment)
        if text.startswith(re2_code + ": "):
            return go_error(go_code, text[len(re2_code) + 2 :])
    return go_error("regexp/syntax: internal error", text)
