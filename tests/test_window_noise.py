"""scripts/window_noise.py: a window cut short counts the false alarms a hot start would raise."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "window_noise.py"


def _module():
    spec = importlib.util.spec_from_file_location("window_noise", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(tmp_path, name, hot_start_ms):
    # 40 samples of 1.0 ms, the first 12 slower (a GPU still settling); baseline 1.0 ms, tolerance 5%.
    samples = [hot_start_ms] * 12 + [1.0] * 28
    record = {"id": "kernel:x", "family": "kernel", "method": "cuda-events", "samples_ms": samples,
              "baseline": {"median_ms": 1.0}, "tolerance": 0.05}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"results": [record]}))
    return str(path)


def test_a_short_window_over_a_hot_start_raises_false_alarms(tmp_path, capsys):
    a, b = _run(tmp_path, "a", 1.2), _run(tmp_path, "b", 1.0)
    _module().main([a, b, "--fractions", "1,0.25"])
    rows = {line.split()[1]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["1.00"][-1] == "0"  # the whole window: the median is past the hot start
    assert rows["0.25"][-1] == "1"  # the first 10 samples: run a's median is 1.2 ms, 20% over
    assert float(rows["0.25"][3]) == pytest.approx(18.23, abs=0.01)  # |log(1.2 / 1.0)| between the runs


def test_bad_input_names_the_file_or_the_option(tmp_path, capsys):
    a = _run(tmp_path, "a", 1.0)
    with pytest.raises(SystemExit, match="missing.json"):
        _module().main([a, str(tmp_path / "missing.json")])
    with pytest.raises(SystemExit) as stop:
        _module().main([a, a, "--fractions", "0"])
    assert stop.value.code == 2 and "--fractions" in capsys.readouterr().err
