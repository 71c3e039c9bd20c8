"""One exception hierarchy for every failure flopcount reports to a user.

The CLI maps these to exit codes in one place (``cli.py``): usage errors exit 2, failures exit 1.
Each message is one line that names the problem.
"""

from __future__ import annotations


class FlopcountError(Exception):
    """Base class: a problem flopcount can explain in one line."""

    exit_code = 1


class UsageError(FlopcountError):
    """The user asked for something malformed or unknown (exit code 2)."""

    exit_code = 2


class UnknownModelError(UsageError):
    def __init__(self, name: str, suggestions: list[str] | None = None):
        self.name = name
        self.suggestions = suggestions or []
        hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown model '{name}'{hint}")


class InputSpecError(UsageError):
    """A malformed input size such as '1x3xabc'."""


class ModelLoadError(UsageError):
    """An import path or factory that does not exist."""


class ConfigError(UsageError):
    """A broken budget, reference or device file."""


class ModelBuildError(FlopcountError):
    """The model factory raised."""


class ForwardError(FlopcountError):
    """The model's forward failed on the given input."""


class FormulaError(FlopcountError):
    """A formula raised on a call it should have counted: a bug in flopcount, reported as such."""


class DuplicateRegistrationError(ValueError):
    """A formula or model was registered twice under the same key."""
