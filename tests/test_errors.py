"""Each error carries the exit code the CLI documents: 1 nothing matched, 2 usage,
3 home locked, 4 data or file-system error."""

from __future__ import annotations

import pytest

from termvault import errors
from termvault.archive.objects import RemoteError, RemoteUnavailableError

CODES = {
    errors.TermvaultError: 4,
    errors.UsageError: 2,
    errors.InvalidIdError: 2,
    errors.ConfigError: 2,
    errors.NotFoundError: 1,
    errors.HomeNotFoundError: 1,
    errors.AmbiguousIdError: 2,
    errors.LockedError: 3,
    errors.DataError: 4,
    errors.IntegrityError: 4,
    errors.ConflictError: 4,
    errors.HomeError: 4,
    RemoteError: 4,
    RemoteUnavailableError: 4,
}


@pytest.mark.parametrize(("cls", "code"), CODES.items(), ids=lambda c: getattr(c, "__name__", str(c)))
def test_each_error_carries_its_documented_exit_code(cls, code):
    assert cls.exit_code == code
    assert issubclass(cls, errors.TermvaultError)


def test_a_subclass_keeps_its_base_code_unless_its_header_names_one():
    class Quiet(errors.LockedError):
        pass

    class Loud(errors.LockedError, exit_code=4):
        pass

    assert (Quiet.exit_code, Loud.exit_code, errors.LockedError.exit_code) == (3, 4, 3)
