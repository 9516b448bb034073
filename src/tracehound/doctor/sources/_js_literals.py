"""Objects as Node.js prints them (``console.dir``/``util.inspect``), as JSON.

OpenTelemetry JS's ``ConsoleSpanExporter`` prints each span with
``console.dir(span, { depth: 3 })``: a JavaScript object literal, not JSON —
keys unquoted when they are identifiers, strings in single quotes,
``undefined``, ``[Object]``/``[Array]`` where the depth runs out, class
instances and Maps as ``TraceState { ... }``, ``Map(1) { 'k' => 'v' }``.
`to_json` rewrites such text as JSON token by token, keeping every line where
it was (a span is then named by the line it starts on, as in the input).
Objects nested deeper than the depth, functions, class instances and
circular references become ``null``: what they held was never printed.
"""

from __future__ import annotations

import re

import orjson

from tracehound.doctor.sources._text_output import is_text

__all__ = ["looks_like_js_objects", "to_json"]

# `{` alone on a line, then an indented member whose key is an identifier: a printed object
_OBJECT = re.compile(rb"(?:\A|\n)\{\r?\n[ \t]+[A-Za-z_$][\w$]*: ")

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<sq>'(?:[^'\\\n]|\\.)*')
  | (?P<dq>"(?:[^"\\\n]|\\.)*")
  | (?P<marker>\[(?:Object|Array|Function|Circular|class|Getter|Setter|Symbol)[^\]\n]*\])
  | (?P<cls>[A-Z][\w$]*(?:\(\d+\))?[ \t]+(?=[{\[]))
  | (?P<arrow>=>)
  | (?P<number>-?(?:\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?|Infinity)n?)
  | (?P<word>[A-Za-z_$][\w$.\-]*)
  | (?P<punct>[{}\[\],:])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
# the next part of a string Node split at its line breaks: ` +\n    'b'`
_JOINED = re.compile(r"""[ \t]*\+\s*(?P<q>['"])(?P<body>(?:[^'"\\\n]|\\.|(?!(?P=q))['"])*)(?P=q)""")
_WORDS = {"undefined": "null", "null": "null", "true": "true", "false": "false", "NaN": "null"}
_ESCAPES = {"'": "'", '"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b",
            "f": "\f", "v": "\v", "0": "\0"}  # fmt: skip


def looks_like_js_objects(head: bytes) -> bool:
    """Whether ``head`` (an input's first bytes) is text (`_text_output.is_text`: not a
    protobuf export whose exception message holds such an object) with a printed
    JavaScript object in it."""
    return _OBJECT.search(head) is not None and is_text(head)


def to_json(text: str) -> str:
    """``text`` with each JavaScript literal token written as JSON, lines kept.

    Anything it does not know is kept as it is, for the JSON reader to report.
    """
    out: list[str] = []
    pos = 0
    while (token := _TOKEN.match(text, pos)) is not None:
        kind, value, pos = token.lastgroup, token.group(), token.end()
        if kind in ("sq", "dq"):
            # Node prints a string with line breaks as `'a\n' +\n    'b'`: one string, and
            # the breaks it spanned after it (JSON allows them before the next `,`)
            parts, breaks = [_unquote(value[1:-1])], ""
            while (joined := _JOINED.match(text, pos)) is not None:
                parts.append(_unquote(joined.group("body")))
                breaks += joined.group().count("\n") * "\n"
                pos = joined.end()
            out.append(orjson.dumps(_text("".join(parts))).decode() + breaks)
        elif kind == "marker":
            out.append("null")
        elif kind == "cls":  # a class instance (`TraceState {`, `Map(1) {`): its members
            out.append(" " * len(value))
        elif kind == "arrow":  # a Map's entry (`'k' => 'v'`)
            out.append(":")
        elif kind == "number":
            number = value.rstrip("n").replace("_", "")
            out.append("null" if "Infinity" in number else number)
        elif kind == "word":
            # a key (`name:`) is quoted; a bare value word is JSON's or null
            nxt = text[pos : pos + 1]
            out.append(orjson.dumps(value).decode() if nxt == ":" else _WORDS.get(value, "null"))
        else:
            out.append(value)
    return "".join(out)


def _text(value: str) -> str:
    """``value`` with its lone surrogates replaced (Node prints half of an emoji that a
    length limit cut as ``'\\ud83d'``) and escaped pairs joined: text JSON can hold."""
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _unquote(body: str) -> str:
    """A JavaScript string's text (``\\'``, ``\\n``, ``\\xHH``, ``\\uHHHH`` escapes)."""
    if "\\" not in body:
        return body
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\" or i + 1 == len(body):
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", body[i + 2 : i + 4]):
            out.append(chr(int(body[i + 2 : i + 4], 16)))
            i += 4
        elif e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        else:
            out.append(_ESCAPES.get(e, e))
            i += 2
    return "".join(out)
