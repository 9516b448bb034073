"""Detection: which rules one attribute or span name breaks, with memoised key classification.

`Checker` answers "what is wrong with ``key=value``" for the runtime (fast
path first: a clean span costs a dict lookup per key and, for strings, a
lookup in a bounded cache of clean values) and for the doctor (stored rows,
possibly with every value stored as a string).  It never changes anything:
`tracehound.attributes._rewrite` applies the actions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from tracehound.attributes._config import Action, PolicyConfig
from tracehound.attributes._legacy import LEGACY_KEYS, LegacyKey, describe_legacy, opt_in_for
from tracehound.attributes._naming import split_words, style_key, style_problem
from tracehound.attributes._numeric import names_identifier, parse_numeric
from tracehound.attributes._reserved import NO_FIX, ReservedSpec
from tracehound.attributes._secret_keys import NOT_SECRET_KEYS, secret_family
from tracehound.attributes._secret_values import (
    MIN_SECRET_LENGTH,
    SecretHit,
    find_secrets,
    is_card_number,
)
from tracehound.attributes._span_names import span_name_problem

__all__ = ["Checker", "KeyInfo", "Violation"]

_CARD_MIN = 10**12
_CLEAN, _NUMERIC, _SECRET = 0, 1, 2
_PLAIN, _PLAIN_ID, _RESERVED, _FLAGGED = 0, 1, 2, 3
_NUMBER_START = frozenset("-0123456789")
_NO_VIOLATIONS: Mapping[str, list[Violation]] = MappingProxyType({})


class Violation(NamedTuple):
    """One rule broken by one attribute (``key``) or by the span name (``key`` None)."""

    code: str
    key: str | None
    message: str
    family: str | None = None
    """The secret family (A004/A005), what the span name carries (A007), or the
    ``OTEL_SEMCONV_STABILITY_OPT_IN`` value that replaces an older key (A006)."""
    hits: tuple[SecretHit, ...] = ()
    """Where the secrets are inside a string value (A005)."""
    suggestion: str | None = None
    """The specific fix: the styled key, the successor, the templated name."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """Everything about a key that does not depend on its value; computed once per key."""

    style: str | None
    styled: str | None
    reserved: ReservedSpec | None
    legacy: LegacyKey | None
    secret: str | None
    identifier: bool
    """Exempt from A003: the key names an identifier or text, or is reserved."""
    fast: int
    """Hot-path class: `_PLAIN`, `_PLAIN_ID` (numeric strings fine), `_RESERVED`, `_FLAGGED`."""


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Checker:
    """Finds violations; caches per distinct key, per clean value and per clean span name."""

    def __init__(self, config: PolicyConfig, cache_size: int = 4096) -> None:
        self.config = config
        self._on = {code: config.action(code) is not Action.IGNORE for code in config.actions}
        self._card_min: float = _CARD_MIN if self._on["A005"] else float("inf")
        self._extra_words = MappingProxyType(dict.fromkeys(config.secret_words, "custom"))
        self._cache_size = cache_size
        self._keys: dict[str, KeyInfo] = {}
        self._fast: dict[str, int] = {}
        self._plain_keys: set[str] = set()
        """Keys of class `_PLAIN` or `_PLAIN_ID`: a clean string, a float, a bool or a small
        int under them is clean."""
        self._params: dict[str, str | None] = {}
        self._clean_strings: set[str] = set()
        """Strings with no secret that are not numbers (bounded, like every cache here)."""
        self._numeric_strings: set[str] = set()
        self._reserved_clean: dict[str, dict[Any, type]] = {}
        """Per reserved key, the values found clean and their class (bounded)."""
        self.clean_names: dict[str, None] = {}
        """Span names known to pass A007 (bounded)."""
        # What `dirty_keys` reads per call: the caches are cleared in place, never
        # replaced, so this stays true.
        self._hot = (
            self._fast, self._card_min, self._clean_strings, self._numeric_strings,
            self._plain_keys, self._reserved_clean, cache_size, _NUMBER_START, MIN_SECRET_LENGTH,
        )  # fmt: skip

    # -- keys ---------------------------------------------------------------

    def key_info(self, key: str) -> KeyInfo:
        """The memoised classification of ``key``."""
        info = self._keys.get(key)
        if info is None:
            info = self._classify(key)
            if len(self._keys) >= self._cache_size:
                self._keys.clear()
                self._fast.clear()
                self._plain_keys.clear()
            self._keys[key] = info
            self._fast[key] = info.fast
            if info.fast <= _PLAIN_ID:
                self._plain_keys.add(key)
        return info

    def _classify(self, key: str) -> KeyInfo:
        config, on = self.config, self._on
        words = split_words(key)
        secret = None
        if on["A004"] and key not in config.allow_keys:
            if key in config.secret_keys:
                secret = "custom"
            elif key not in NOT_SECRET_KEYS:
                secret = secret_family(words, self._extra_words)
        style = style_problem(key) if on["A001"] else None
        reserved = config.reserved.get(key) if on["A002"] else None
        legacy = LEGACY_KEYS.get(key) if on["A006"] else None
        identifier = names_identifier(words, config.identifier_words) or reserved is not None
        if style or legacy or secret:
            fast = _FLAGGED
        elif reserved is not None:
            fast = _RESERVED
        else:
            fast = _PLAIN_ID if identifier else _PLAIN
        return KeyInfo(
            style=style,
            styled=style_key(key) if style else None,
            reserved=reserved,
            legacy=legacy,
            secret=secret,
            identifier=identifier,
            fast=fast,
        )

    def param_family(self, name: str) -> str | None:
        """The secret family of a ``name=value`` name inside a value (memoised)."""
        if name in self._params:
            return self._params[name]
        family = secret_family(split_words(name), self._extra_words)
        if len(self._params) >= self._cache_size:
            self._params.clear()
        self._params[name] = family
        return family

    # -- values -------------------------------------------------------------

    def _string_kind(self, value: str) -> int:
        if value in self._clean_strings:
            return _CLEAN
        if value in self._numeric_strings:
            return _NUMERIC
        if self._on["A005"] and len(value) >= MIN_SECRET_LENGTH and self._find_secrets(value):
            return _SECRET  # never cached: secrets are not kept around
        numeric = self._on["A003"] and parse_numeric(value) is not None
        if len(value) <= 256:
            cache = self._numeric_strings if numeric else self._clean_strings
            if len(cache) >= self._cache_size:
                cache.clear()
            cache.add(value)
        return _NUMERIC if numeric else _CLEAN

    def _hits(self, value: object) -> list[SecretHit]:
        if value.__class__ is str and self._string_kind(value) != _SECRET:  # type: ignore[arg-type]
            return []
        return self.secrets_in(value)

    def secrets_in(self, value: object) -> list[SecretHit]:
        """Secret ranges in a string value; a card-number int is one whole-value hit."""
        if isinstance(value, str):
            return self._find_secrets(value) if self._on["A005"] else []
        if isinstance(value, int) and not isinstance(value, bool) and value >= _CARD_MIN:
            return [("card_number", 0, 0)] if is_card_number(str(value)) else []
        return []

    def _find_secrets(self, value: str) -> list[SecretHit]:
        """`find_secrets`, without the ranges already redacted (the marker itself)."""
        marker = self.config.redaction_marker
        return [
            hit
            for hit in find_secrets(value, self.param_family)
            if value[hit[1] : hit[2]] != marker
        ]

    def redacted(self, value: object) -> bool:
        """Whether ``value`` is the redaction marker (in a sequence: only markers), i.e.
        a secret already removed before export, by this policy or one like it."""
        marker = self.config.redaction_marker
        if isinstance(value, (tuple, list)):
            return bool(value) and all(item == marker for item in value)
        return value == marker

    def nested_secret(self, value: object, depth: int = 0) -> str | None:
        """The first secret family inside a sequence or mapping value, or None."""
        if depth > 8:
            return None
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            hits = self._hits(value)
            return hits[0][0] if hits else None
        if isinstance(value, Mapping):
            for key, item in value.items():
                if (
                    isinstance(key, str)
                    and self.key_info(key).secret
                    and not isinstance(item, bool)
                    and not self.redacted(item)
                ):
                    return self.key_info(key).secret
                found = self.nested_secret(item, depth + 1)
                if found:
                    return found
        elif isinstance(value, (tuple, list)):
            for item in value:
                found = self.nested_secret(item, depth + 1)
                if found:
                    return found
        return None

    # -- whole checks -------------------------------------------------------

    def violations(
        self,
        key: str,
        value: object,
        *,
        typed: bool = True,
        info: KeyInfo | None = None,
        scope: str | None = None,
    ) -> list[Violation]:
        """Every rule ``key=value`` breaks, secrets first, then value rules, then key rules.

        ``scope`` is the instrumentation scope that recorded the attribute, when
        known (it words the A006 finding).

        With ``typed=False`` (stores that keep every value as a string) a
        string counts as the type it can be read as: A003 is skipped and A002
        only reports values that cannot be read as the required type.
        """
        info = info or self.key_info(key)
        found = self._secret_violations(key, value, info)
        if info.reserved is not None:
            if not found:
                found.extend(self._reserved(key, value, info.reserved, typed))
        elif typed and not found and not info.identifier and self._on["A003"]:
            number = parse_numeric(value) if isinstance(value, str) else None
            if number is not None:
                message = f"attribute {key!r} holds the number {_short(value)} as a string"
                found.append(Violation("A003", key, message, suggestion=repr(number)))
        if info.style:
            hint = f"; use {info.styled!r}" if info.styled else ""
            message = f"attribute key {key!r}: {info.style}{hint}"
            found.append(Violation("A001", key, message, suggestion=info.styled))
        if info.legacy is not None:
            message = describe_legacy(key, info.legacy, scope)
            opt_in = opt_in_for(info.legacy, scope)
            found.append(Violation("A006", key, message, opt_in, suggestion=info.legacy.successor))
        return found

    def _secret_violations(self, key: str, value: object, info: KeyInfo) -> list[Violation]:
        if info.secret and self.redacted(value):
            return []  # redacted before export: the policy did its job, nothing leaked
        if info.secret and value.__class__ is not bool:
            message = f"attribute {key!r} names a secret ({info.secret})"
            return [Violation("A004", key, message, info.secret)]
        if not self._on["A005"]:
            return []
        hits = self._hits(value)
        family = hits[0][0] if hits else None
        if family is None and isinstance(value, (tuple, list, Mapping)):
            family = self.nested_secret(value)
        if family is None:
            return []
        families = ", ".join(sorted({hit[0] for hit in hits})) or family
        message = f"attribute {key!r} holds a secret value ({families})"
        return [Violation("A005", key, message, families, tuple(hits))]

    def _reserved(
        self, key: str, value: object, spec: ReservedSpec, typed: bool
    ) -> list[Violation]:
        if not typed and isinstance(value, str):
            if spec.coerce(value) is not NO_FIX:
                return []
            problem = f"expected {spec.describe()}, got {_short(value)}"
        else:
            problem = spec.problem(value)
            if problem is None:
                return []
        fixed = spec.coerce(value)
        suggestion = None if fixed is NO_FIX else repr(fixed)
        if key == "error" and fixed is NO_FIX:
            suggestion = "True, with the span status ERROR and this text as its description"
        return [
            Violation("A002", key, f"reserved attribute {key!r}: {problem}", suggestion=suggestion)
        ]

    def name_violation(self, name: str) -> Violation | None:
        """The A007 violation of a span name, or None (clean names are memoised)."""
        if not self._on["A007"] or name.__class__ is not str or name in self.clean_names:
            return None  # a name that is not text is the enforcer's to convert
        problem = span_name_problem(name)
        if problem is None:
            if len(self.clean_names) >= self._cache_size:
                self.clean_names.clear()
            self.clean_names[name] = None
            return None
        what, templated = problem
        return Violation(
            "A007", None, f"span name {name!r} carries {what}; use {templated!r}",
            what, suggestion=templated,
        )  # fmt: skip

    def dirty_keys(self, attributes: Mapping[str, Any]) -> Mapping[str, list[Violation]]:
        """The keys of ``attributes`` that break rules, with the violations; empty when clean.

        This is the hot path, written for speed: one dict lookup per key, and
        for strings one lookup in the clean-value cache.  Whatever the fast
        tests cannot clear is confirmed with `violations`.
        """
        dirty: dict[str, list[Violation]] | None = None
        # One tuple unpacked, not nine attribute and global reads, a span.
        fast_of, card_min, clean, numeric, plain, reserved_ok, size, first, shortest = self._hot
        # Literals, not the module constants: global lookups cost on this path.
        # fast: 0 plain, 1 plain identifier, 2 reserved, 3 flagged; kind 2 is a secret.
        for key, value in attributes.items():
            # The common cases first, in the fewest steps: under a plain key a
            # string found clean (`clean` holds only strings), a float, a bool
            # or a small int; under a reserved key a value found clean before.
            try:
                if key in plain:
                    if value in clean:
                        continue
                    cls = type(value)
                    if cls is int:
                        if value < card_min:
                            continue
                    elif cls is float or cls is bool:
                        continue
                else:
                    known = reserved_ok.get(key)
                    if known is not None and known.get(value) is type(value):
                        continue
            except TypeError:  # an unhashable value (rows the doctor reads)
                pass
            try:
                fast = fast_of[key]
            except KeyError:
                fast = self.key_info(key).fast
            cls = type(value)  # a specialised call: ~100 instructions less than .__class__
            if fast <= 1:
                if cls is str:
                    if value in clean or (fast == 1 and value in numeric):
                        continue
                    # Too short for a secret and not a number: clean.  A varying
                    # short ID costs this test, not a scan and cache churn.
                    short = len(value) < shortest  # type: ignore[arg-type]
                    text = not value or value[0] not in first  # type: ignore[index]
                    if short and (fast == 1 or text):
                        # `clean` is shared by every key: a number-like string
                        # is fine under an identifier key only (A003 elsewhere).
                        if text and len(clean) < size:
                            clean.add(value)  # type: ignore[arg-type]
                        continue
                    kind = self._string_kind(value)  # type: ignore[arg-type]
                    if kind == 0 or (kind == 1 and fast == 1):
                        continue
                elif cls is int:
                    if value < card_min:  # type: ignore[operator]
                        continue
                elif cls is bool or cls is float:
                    continue
            elif fast == 2:
                # Reserved keys take few distinct values (methods, status codes,
                # ports): a value found clean once costs two look-ups after that,
                # its class compared too (201.0 == 201, True == 1).
                known = reserved_ok.get(key)
                try:
                    if known is not None and known.get(value) is cls:
                        continue
                except TypeError:  # an unhashable value (rows the doctor reads)
                    known = None
                if self.key_info(key).reserved.accepts(value) and (  # type: ignore[union-attr]
                    cls is not str
                    or value in clean
                    or value in numeric
                    or self._string_kind(value) != 2  # type: ignore[arg-type]
                ):
                    if known is None:
                        known = reserved_ok.setdefault(key, {})
                    if len(known) < size:
                        with contextlib.suppress(TypeError):
                            known[value] = cls
                    continue
            found = self.violations(key, value)
            if found:
                if dirty is None:
                    dirty = {}
                dirty[key] = found
        return dirty if dirty is not None else _NO_VIOLATIONS

    def secret_keys(self, attributes: Mapping[str, Any]) -> dict[str, list[Violation]]:
        """The keys of ``attributes`` whose key or value is a secret (events, resources)."""
        dirty = {}
        for key, found in self.dirty_keys(attributes).items():
            secrets = [v for v in found if v.code in ("A004", "A005")]
            if secrets:
                dirty[key] = secrets
        return dirty
