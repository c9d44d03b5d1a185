"""The one table of Thalex error codes keys the client's typed errors."""

from __future__ import annotations

from qengine.io import error_codes, errors

CODES = {name: value for name, value in vars(error_codes).items()
         if name.isupper() and isinstance(value, int)}


def test_every_typed_error_stands_for_a_code_of_the_table():
    typed = [cls for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.ThalexError)
             and cls is not errors.ThalexError]
    assert len(typed) == 21
    assert {cls.CODE for cls in typed} <= set(CODES.values())
    for cls in typed:
        error = errors.error_for_code(cls.CODE, "m", "private/insert")
        assert type(error) is cls
        assert error.code == cls.CODE


def test_codes_are_distinct_and_the_permanent_ones_come_from_the_table():
    assert len(set(CODES.values())) == len(CODES)
    assert errors.PERMANENT_CODES == error_codes.PERMANENT
    assert set(CODES.values()) >= error_codes.PERMANENT
    assert errors.is_permanent(errors.error_for_code(error_codes.AUTH_FAILED, "bad key"))
    assert not errors.is_permanent(errors.error_for_code(error_codes.THROTTLED, "slow down"))


def test_a_code_without_a_class_is_a_plain_thalex_error_carrying_it():
    error = errors.error_for_code(error_codes.TEMPORARY_FAILURE, "try again")
    assert type(error) is errors.ThalexError
    assert error.code == 20
