"""The three pages a person reads, looked at in a real browser (Debian's Chromium, headless, 1280 px wide): the run
report, the compare report and the history site (and the claims page of the committed baselines). Each must fit the
window (no table wider than it, no sideways scroll), show every value the data has (no empty or off-screen cell),
load every image, resolve every link inside the page; the history site's search box must filter its series."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from perf.commands import claims as claims_command
from perf.commands import compare as compare_command
from perf.commands import history as history_command
from perf.report import files, sections
from perf.report.sections import results_table, sorted_records
from tests.page_checks import layout_problems, open_page, shown_cells
from tests.test_history_store import START, doc as night_doc, with_pairs
from tests.test_report import BASE_ENV, ENV, synthetic_doc

pytest_plugins = ["tests.chromium"]

ROOT = Path(__file__).resolve().parents[1]
TIMING = {"max_time_s": 0.1, "noise_target": 0.01, "min_samples": 10, "warmup_s": 0.05, "cold_l2": True}


def run_doc() -> dict:
    """A simulated H100 run whose timing settings differ from the baseline's in one key (as in the first steps)."""
    document = synthetic_doc(environment={**ENV, "timing": {**TIMING, "max_time_s": 2.0}})
    document["baseline_environment"] = {**BASE_ENV, "timing": TIMING}
    return document


@pytest.fixture(scope="module")
def run_report(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("run-report")
    document = run_doc()
    files.write_report(document, out)
    return document, out / "index.html"


def expected_tables(document: dict) -> list:
    """The tables of a run report's page, in page order, as the data has them."""
    found = [table for _, table, _ in sections.sections(document) if table is not None]
    return found + ([results_table(sorted_records(document), anchored=True)] if document["results"] else [])


def missing_values(shown: list, expected: list) -> list[str]:
    """Cells where the data has a value that the page shows empty, or beyond the window."""
    out = []
    assert len(shown) == len(expected), f"{len(shown)} tables on the page, {len(expected)} in the data"
    for shown_table, table in zip(shown, expected):
        assert len(shown_table) == len(table.rows), (table.header, len(shown_table), len(table.rows))
        for row_shown, row in zip(shown_table, table.rows):
            for (text, left, right), value, name in zip(row_shown, row, table.header):
                if str(value).strip() and (not text or right <= left or right > 1280):
                    out.append(f"{table.header[0]}={row[0]!r}: {name} is {value!r} in the data, shown {text!r} at "
                               f"{left:.0f}-{right:.0f} px")
    return out


def broken_links(driver) -> list[str]:
    return driver.execute_script("""
        return Array.from(document.querySelectorAll("a[href^='#']")).map(function(a){return a.getAttribute('href');})
          .filter(function(h){return h.length > 1 && !document.getElementById(decodeURIComponent(h.slice(1)));});""")


def test_the_run_report_fits_the_window_and_shows_every_value(browser, run_report):
    document, page = run_report
    open_page(browser, page)
    assert layout_problems(browser) == []
    assert missing_values(shown_cells(browser), expected_tables(document)) == []
    assert browser.execute_script("return document.images.length") >= 5  # the plots, inline
    assert broken_links(browser) == []


def test_the_run_reports_environment_shows_what_differs_first_and_the_claims_table_its_headers(browser, run_report):
    _, page = run_report
    open_page(browser, page)
    environment = browser.execute_script(
        "return Array.from(document.querySelectorAll('#s-environment + p + table tbody tr')).map("
        "function(r){return r.innerText;});")
    assert environment[0].startswith("driver") and environment[1].startswith("timing")
    assert "timing.max_time_s 0.1 -> 2" in environment[1] and "noise_target 0.01 ->" not in environment[1]
    headers = browser.execute_script(
        "return Array.from(document.querySelectorAll('#s-claims + p + table th')).map(function(h){"
        "var b = h.getBoundingClientRect(); return [h.innerText, b.right];});")
    assert [h for h, _ in headers] == ["claim", "verdict", "measured", "paper", "source"]
    assert all(0 < right <= 1280 for _, right in headers)
    note = browser.execute_script("return document.querySelector('#s-improvements + p').innerHTML")
    assert "<code>python -m perf refresh</code>" in note and "`" not in note


def test_a_verdicts_benchmark_links_its_row_and_the_row_its_familys_plot(browser, run_report):
    document, page = run_report
    open_page(browser, page)
    regression = next(r for r in document["results"] if r["verdict"] == "regression")
    link = browser.find_element("css selector", "#s-regressions ~ table a")
    assert link.text == regression["key"]
    link.click()
    row = browser.find_element("css selector", "tr:target")
    assert row.text.startswith(regression["key"]) and row.is_displayed()
    plot = row.find_element("css selector", "a").get_attribute("href")
    assert plot.endswith("#plot-gemm_layer_throughput")
    tolerance = row.find_elements("css selector", "td")[4].text
    assert tolerance.startswith("±") and tolerance.endswith("%")


@pytest.fixture(scope="module")
def compare_report(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("compare")
    a, b = work / "a.json", work / "b.json"
    a.write_text(json.dumps(run_doc()))
    b.write_text(json.dumps(synthetic_doc(seed=1, speed=0.97, slow_key="gemm/gpt3-2.7b:mlp_up:bf16:b4:s2048:t1")))
    assert compare_command.main([str(a), str(b), "-o", str(work / "cmp"), "--no-fail"]) == 0
    return work / "cmp" / "index.html"


def test_the_compare_report_fits_the_window_and_shows_every_value(browser, compare_report):
    open_page(browser, compare_report)
    assert layout_problems(browser) == []
    empty = browser.execute_script("""
        return Array.from(document.querySelectorAll('td')).filter(function(c){var b = c.getBoundingClientRect();
          return b.right > document.documentElement.clientWidth;}).length;""")
    assert empty == 0
    assert "Compared files" in browser.find_element("id", "s-compared-files").text
    assert broken_links(browser) == []


@pytest.fixture(scope="module")
def history_site(tmp_path_factory) -> Path:
    """30 nights of two benchmarks and a pair: gemm/stepped 5% slower from night 18, where torch changed too, and
    regressing on the last nights; the step accepted; a pair whose ratio rose."""
    work = tmp_path_factory.mktemp("history")
    url = f"sqlite:///{work / 'h.db'}"
    paths = []
    for night in range(30):
        step = 1.05 if night >= 18 else 1.0
        document = night_doc(night, {"gemm/stepped": step * (1 + 0.003 * ((night * 7) % 5 - 2)),
                                     "gemm/flat": 1 + 0.003 * ((night * 3) % 5 - 2)},
                             torch="2.12.0" if night >= 18 else "2.11.0")
        for r in document["results"]:
            r["tolerance"], r["reference"] = 0.03, {"source": "baseline", "text": "baseline: H200.json"}
            if r["key"] == "gemm/stepped" and night >= 27:
                r["verdict"] = "regression"
        document = with_pairs(document, {"rms:m4096": 1.2 * (1.06 if night >= 15 else 1.0)})
        path = work / f"n{night}.json"
        path.write_text(json.dumps(document))
        paths.append(str(path))
    assert history_command.main(["import", "--db", url, *paths]) == 0
    when = (START + dt.timedelta(days=20)).isoformat()
    from perf.history import reference, store
    db = store.open_database(url)
    try:
        reference.accept(db, "H200", ["gemm/stepped"], "ci", "the new torch's GEMM path",
                         when=dt.datetime.fromisoformat(when))
    finally:
        db.engine.dispose()
    out = work / "site"
    assert history_command.main(["report", "--db", url, "-o", str(out),
                                 "--commit-url", "https://example.org/compare/{before}...{after}"]) == 0
    return out


def test_the_history_site_fits_the_window_marks_accepted_steps_and_links_commit_ranges(browser, history_site):
    open_page(browser, history_site / "index.html")
    assert layout_problems(browser) == []
    assert broken_links(browser) == []
    open_rows = browser.find_elements("css selector", "#open-regressions ~ table tr.regression")
    assert open_rows and open_rows[0].text.startswith("gemm/stepped")
    accepted = browser.find_element("css selector", "#benchmark-changes + table tr.accepted")
    assert "gemm/stepped" in accepted.text and "the new torch's GEMM path" in accepted.text
    commits = accepted.find_element("css selector", "td:nth-child(4) a").get_attribute("href")
    assert commits == f"https://example.org/compare/{17:040x}...{18:040x}"
    for table in shown_cells(browser, "#benchmark-changes + table, #open-regressions ~ table"):
        assert all(text and right <= 1280 for row in table for text, _, right in row[:8])


def test_the_history_sites_search_box_filters_the_series(browser, history_site):
    open_page(browser, history_site / "index.html")
    visible = "return Array.from(document.querySelectorAll('tr.series')).filter(function(r){return r.offsetParent;})" \
              ".map(function(r){return r.cells[0].innerText;});"
    assert sorted(browser.execute_script(visible)) == ["gemm/flat", "gemm/stepped", "kernel/rms:m4096"]
    box = browser.find_element("id", "search")
    box.send_keys("stepped")
    assert browser.execute_script(visible) == ["gemm/stepped"]
    box.clear()
    box.send_keys("rms")
    assert browser.execute_script(visible) == ["kernel/rms:m4096"]


def test_a_series_page_draws_its_nights_with_the_tolerance_band_and_the_environment_change(browser, history_site):
    open_page(browser, history_site / "index.html")
    browser.find_element("link text", "gemm/stepped").click()
    assert browser.title == "gemm/stepped on H200"
    assert layout_problems(browser) == []
    svg = browser.find_element("css selector", "svg.trend")
    assert 0 < svg.rect["width"] <= 1280 and svg.rect["height"] > 150
    assert len(svg.find_elements("css selector", "circle.night")) == 30
    assert len(svg.find_elements("css selector", "rect.tolerance")) == 30
    (environment,) = svg.find_elements("css selector", "line.environment")
    assert "torch 2.11.0 -> 2.12.0" in svg.text
    assert len(svg.find_elements("css selector", "line.change-point")) == 1
    nights = shown_cells(browser, "h2 + p + table")[0]
    assert len(nights) == 30 and nights[0][6][0] == "±3.0%" and nights[0][7][0] == "regression"


def test_the_claims_page_of_the_committed_baselines_shows_every_value(browser, tmp_path):
    baselines = [ROOT / "baselines" / "H100-SXM.json", ROOT / "baselines" / "H200.json"]
    assert claims_command.main([*map(str, baselines), "--html", str(tmp_path / "claims")]) == 0
    open_page(browser, tmp_path / "claims" / "index.html")
    assert layout_problems(browser) == []
    claims = shown_cells(browser, "h2 + p + table")
    assert len(claims) == 2
    for table in claims:
        for claim, verdict, measured, paper, source in table:
            assert claim[0] and verdict[0] and paper[0] and source[0]
            assert all(0 < cell[2] <= 1280 for cell in (claim, verdict, measured, paper, source))
