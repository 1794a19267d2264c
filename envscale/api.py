"""The public façade: compile specs, load domains, build environments.

Everything here is defined in the layers below (see docs/design.md); this module only
gathers the names a user of the library needs.
"""

from __future__ import annotations

from envscale.compiler.artifacts import ARTIFACTS
from envscale.compiler.build import compile_file, compile_source, read_spec, spec_hash
from envscale.dsl.diagnostics import Diagnostic, SpecError
from envscale.runtime.domain import Domain
from envscale.runtime.environment import CallResult, Environment
from envscale.runtime.errors import DataError, ToolError
from envscale.runtime.limits import Limits
from envscale.runtime.load import load

__all__ = [
    "ARTIFACTS",
    "CallResult",
    "DataError",
    "Diagnostic",
    "Domain",
    "Environment",
    "Limits",
    "SpecError",
    "ToolError",
    "compile_file",
    "compile_source",
    "load",
    "read_spec",
    "spec_hash",
]
