"""The README's screenshots (docs/img/*.png): the pages a person reads, rendered in headless Chromium 1280 px wide.

    python scripts/screenshots.py [--first-steps first-steps] [--out docs/img] [--gpu-run DIR --gpu-name NAME]

Pages of a CPU run: the README's first steps must have run (their files are under --first-steps): the run report
(report/index.html), the compare report (cmp/index.html), and the history site built here from the two results files
of the first steps (history.db and site/ under --first-steps). Pages of the committed H100/H200 data: no GPU results
file is committed, so the page that accepts a baseline file draws them: `python -m perf claims
baselines/H100-SXM.json baselines/H200.json --html DIR` (each baseline entry's median, read as the baseline it is).
Pages of a GPU run (--gpu-run DIR: the results files of nights on one GPU, *.json in the order of their names, and
the history.db they were stored in by --perf-history): the run report of the last one against its committed
baseline, the history site, and one series page, named after --gpu-name (report-h100.png, ...).
Needs Chromium and ChromeDriver (tests/chromium.py) and the history extra."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "kernels")]

from perf.commands import claims as claims_command  # noqa: E402
from perf.commands import history as history_command  # noqa: E402
from perf.commands import report as report_command  # noqa: E402
from tests.chromium import missing, start  # noqa: E402

MAX_HEIGHT = 2600  # px: a long page is shot from its top to here


def shoot(driver, page: Path, png: Path, *, height: int | None = None) -> None:
    driver.set_window_size(1280, 900)
    driver.get(page.resolve().as_uri())
    full = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(height or full, MAX_HEIGHT))
    png.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(png))
    print(f"wrote {png} ({page})")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--first-steps", type=Path, default=ROOT / "first-steps")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    p.add_argument("--gpu-run", type=Path, help="a folder of a GPU's results files (*.json) and their history.db")
    p.add_argument("--gpu-name", default="gpu", help="the GPU's name in the screenshots' file names (h100)")
    args = p.parse_args()
    problem = missing()
    if problem:
        print(f"screenshots: {problem}", file=sys.stderr)
        return 2
    steps = args.first_steps
    runs = [steps / "first.json", steps / "run.json"]
    if not all(path.is_file() for path in runs):
        print(f"screenshots: {runs[0]} and {runs[1]} missing: run the README's first steps first", file=sys.stderr)
        return 2
    url = f"sqlite:///{(steps / 'history.db').resolve()}"
    if history_command.main(["import", "--db", url, *map(str, runs)]) or history_command.main(
            ["report", "--db", url, "-o", str(steps / "site"), "--all"]):
        return 1
    work = Path(tempfile.mkdtemp(prefix="perf-screens-"))
    os.chdir(ROOT)  # the page names the baseline files as the README does
    if claims_command.main(["baselines/H100-SXM.json", "baselines/H200.json", "--html", str(work / "claims")]):
        return 1
    gpu_pages = gpu_run_pages(args.gpu_run, work / "gpu") if args.gpu_run else []
    if gpu_pages is None:
        return 1
    driver = start(work / "profile")
    try:
        for page, name in gpu_pages:
            shoot(driver, page, args.out / f"{name}-{args.gpu_name}.png")
        shoot(driver, steps / "report" / "index.html", args.out / "report-cpu.png")
        shoot(driver, steps / "cmp" / "index.html", args.out / "compare-cpu.png")
        shoot(driver, steps / "site" / "index.html", args.out / "history-site-cpu.png")
        series = sorted((steps / "site" / "series").glob("benchmark_*.html"))[0]
        shoot(driver, series, args.out / "history-series-cpu.png")
        shoot(driver, work / "claims" / "index.html", args.out / "claims-h100-h200-baselines.png")
    finally:
        driver.quit()
    return 0


def gpu_run_pages(folder: Path, work: Path) -> list[tuple[Path, str]] | None:
    """The run report of the folder's last results file and the history site of its history.db, built under
    `work`: (page, name) pairs, or None when a command failed (it said why)."""
    runs = sorted(folder.glob("*.json"))
    database = folder / "history.db"
    if not runs or not database.is_file():
        print(f"screenshots: {folder} needs results files (*.json) and history.db", file=sys.stderr)
        return None
    url = f"sqlite:///{database.resolve()}"
    if report_command.main([str(runs[-1]), "-o", str(work / "report")]) or history_command.main(
            ["report", "--db", url, "-o", str(work / "site"), "--all"]):
        return None
    series = sorted((work / "site" / "series").glob("benchmark_*gemm*.html")) or sorted(
        (work / "site" / "series").glob("benchmark_*.html"))
    return [(work / "report" / "index.html", "report"), (work / "site" / "index.html", "history-site"),
            (series[0], "history-series")]


if __name__ == "__main__":
    raise SystemExit(main())
