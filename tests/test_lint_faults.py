"""Hostile model configs for `perf lint`: every number is bounded by what a real model could have before any check
loops over it (h = a = 10**18 answers at once), and every unreadable file or field of the wrong type is one line
`perf lint: error: FILE: field: expected ...` (exit 2), never a traceback; a name with terminal escape codes is
shown escaped, and a head size set in the config is named as such."""

import os
import subprocess
from pathlib import Path

import pytest

import forked
from perf.commands.suite_process import checkout_pythonpath

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(__file__).parent / "fixtures" / "faults" / "lint"


def lint(name: str, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([checkout_pythonpath(ROOT), os.environ.get("PYTHONPATH", "")])}
    return forked.run_perf(["lint", str(LINT / name), "--gpu", "H100", *args], cwd=ROOT, env=env, timeout=60)


@pytest.mark.parametrize("name, message", [
    ("huge_hidden.json", "model 'gpt_neox': field 'hidden_size' must be at most 1048576 (beyond any real model), "
                         "got an integer of 19 digits"),
    ("huge.toml", "model 'm': field 'hidden' must be at most 1048576 (beyond any real model), got an integer of 19 "
                  "digits"),
    ("int_1e300.json", "model 'gpt_neox': field 'hidden_size' must be at most 1048576 (beyond any real model), got "
                       "an integer of 301 digits"),
    ("float_1e300.json", "field 'hidden_size' must be a positive integer, got 1e+300"),
    ("digits_5000.json", "not a model config (an integer of more than 4300 digits)"),
    ("model_type_object.json", "field 'model_type' must be a string, got {'a': 1}"),
    ("deep.json", "not a model config (JSON nested too deeply)"),
    ("deep.toml", "not a model file (TOML nested too deeply)"),
    ("not_utf8.json", "not a JSON text file (not UTF-8 at byte 45)"),
    ("not_utf8.toml", "not a TOML text file (not UTF-8 at byte 31)"),
    ("wrong_types.toml", "field 'family': expected a string, got 3"),
    ("model_not_tables.toml", "field 'model': expected [[model]] tables, got 'm'"),
    ("expected_violations_number.toml", "model 'm': field 'expected_violations': expected a list of rule ids, got 5"),
])
def test_a_hostile_config_is_one_line(name, message):
    done = lint(name)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == f"perf lint: error: {LINT / name}: {message}\n"


def test_a_name_with_terminal_escape_codes_is_shown_escaped():
    done = lint("escape_name.json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "\x1b" not in done.stdout and "evil\\x1b[2J\\x1b[31mred (" in done.stdout


def test_a_head_size_set_in_the_config_is_named_as_such():
    done = lint("head_dim_7.json")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the head size 7 (head_dim in the config; h/a = 512/8 would be 64) is divisible by 1, not 64" in done.stdout
    assert "512/8 = 7" not in done.stdout
