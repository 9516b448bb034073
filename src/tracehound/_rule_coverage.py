"""Which part of tracehound detects each rule of the catalogue (none: not detected yet).

`tracehound rules` marks the rules nothing detects, as the design asks, so a
user does not wait for a finding that cannot come.  ``tests/test_rule_coverage``
keeps this table in step with the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["DETECTORS", "detectors"]

_RUNTIME, _DOCTOR, _HEADERS, _PYTEST, _K8S = "runtime", "doctor", "headers", "pytest", "k8s"

DETECTORS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        # the inbound header parser: the runtime propagator, `tracehound headers`, and
        # the doctor over recorded request headers
        "P001": (_RUNTIME, _DOCTOR, _HEADERS),
        "P002": (_RUNTIME, _DOCTOR, _HEADERS),
        "P003": (_RUNTIME, _DOCTOR, _HEADERS),
        "P004": (_RUNTIME, _DOCTOR, _HEADERS),
        "P005": (_DOCTOR,),
        "P006": (_RUNTIME, _DOCTOR, _HEADERS),
        "P007": (_DOCTOR,),
        "C001": (_DOCTOR,),
        "C002": (_DOCTOR,),
        "C003": (_DOCTOR,),
        "C004": (_RUNTIME, _DOCTOR),
        "C005": (_RUNTIME,),
        "C006": (_RUNTIME,),
        "C007": (_DOCTOR,),
        "L001": (_RUNTIME, _PYTEST),
        "L002": (_RUNTIME,),
        "L003": (_RUNTIME, _PYTEST),
        "L004": (_DOCTOR,),
        "L005": (_DOCTOR,),
        "L006": (_DOCTOR,),
        "L007": (_RUNTIME,),
        "L008": (_RUNTIME,),
        "L009": (_RUNTIME, _PYTEST),
        "L010": (_RUNTIME,),
        "L011": (_DOCTOR,),
        # the attribute policy: the runtime processor and the doctor's attribute family
        **{f"A00{n}": (_RUNTIME, _DOCTOR) for n in range(1, 8)},
        # the cluster family: `tracehound k8s`, and manifests among `tracehound check` inputs
        **{f"K00{n}": (_DOCTOR, _K8S) for n in range(1, 10)},
        "G001": (_DOCTOR,),
        "G002": (_DOCTOR,),
    }
)
"""Rule code → the parts that report it: ``runtime`` (guards, propagator, attribute
processor), ``doctor`` (`tracehound check`), ``headers`` (`tracehound headers`),
``pytest`` (the plugin's own checks), ``k8s`` (`tracehound k8s`)."""


def detectors(code: str) -> tuple[str, ...]:
    """The parts that detect ``code`` (empty: nothing yet)."""
    return DETECTORS.get(code, ())
