"""The CLI's parsing of ``key=value`` assignments (``shikra risk set``, ``strategies set``)."""

from __future__ import annotations

import contextlib
import io

import pytest

from engine import cli
from engine.cli.common import EXIT_USAGE, CliError, parse_assignments
from engine.control_api.limits import MAX_JSON_DEPTH


def test_assignments_parse_json_values_and_nest_dotted_keys() -> None:
    assert parse_assignments(["a.b=1", "c=[1, [2]]", "d=text"], dotted=True) == {"a": {"b": 1}, "c": [1, [2]],
                                                                                 "d": "text"}


@pytest.mark.parametrize("value", ["[" * 1000, "[" * 1000 + "]" * 1000, '{"a":' * 1000])
def test_a_value_nested_deeper_than_the_api_takes_is_a_usage_error(value: str) -> None:
    with pytest.raises(CliError) as err:
        parse_assignments([f"default={value}"], dotted=True)
    assert err.value.code == EXIT_USAGE
    assert f"nests 1,000 levels of [ and {{; the control API takes at most {MAX_JSON_DEPTH}" in str(err.value)


def test_a_value_at_the_depth_limit_passes() -> None:
    deep = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert parse_assignments([f"x={deep}"], dotted=False)["x"] is not None


def test_risk_set_with_a_value_nested_1000_deep_exits_2_with_one_line_and_no_traceback() -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["risk", "set", "default=" + "[" * 1000])
    assert code == EXIT_USAGE
    assert err.getvalue() == (f"shikra: the value of 'default' nests 1,000 levels of [ and {{; the control API takes "
                              f"at most {MAX_JSON_DEPTH}\n")
