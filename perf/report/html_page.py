"""index.html: one self-contained page (no server, no network) of the report's sections (perf/report/sections.py),
its plots inline as data URIs, and every result. Readable at 1280 px: text wraps, long cells fold into <details>,
numbers stay on one line, so no table is wider than the window. A contents line links every section; each verdict
count links its section; each benchmark of a verdict's table links its row among all results, and that row links
its family's plot."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import replace
from pathlib import Path
from typing import Mapping, Sequence

from perf.report.markdown import title
from perf.report.plots.figure import RunInfo
from perf.report.sections import results_table, sections, sorted_records
from perf.report.table import text_html

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;max-width:1240px;color:#222;
padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.82rem;margin:.5rem 0;max-width:100%}
th,td{border:1px solid #ddd;padding:.2rem .4rem;text-align:left;vertical-align:top}
td{overflow-wrap:anywhere}th{background:#f4f4f4;font-weight:600}
td.n{white-space:nowrap;text-align:right;overflow-wrap:normal}td.w{white-space:nowrap;overflow-wrap:normal}
tr.regression td{background:#fde2e2}tr.improvement td{background:#e3f6e3}tr.unreliable td{background:#fff1dc}
tr.changed td{background:#fff7c2}tr.holds td{background:#e3f6e3}tr.contradicted td{background:#fde2e2}
tr.accepted td{background:#e8eefc}tr.not-measured td{background:#f4f4f4}tr:target td{outline:2px solid #1f77b4}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.85rem;color:#555}
details summary{cursor:pointer}.note{color:#444}.long{white-space:normal}nav{font-size:.85rem;line-height:1.6}
nav a{margin-right:.8rem}code{background:#f4f4f4;padding:0 .2rem;border-radius:3px}
input[type=search]{font-size:1rem;padding:.3rem .5rem;width:24rem;max-width:100%}.hint{color:#555;font-style:italic}
"""

# Opens the <details> around a link's target (a row of a folded table), so that following the link shows it.
OPEN_TARGET_JS = """<script>
function openTarget(){var t=location.hash&&document.getElementById(decodeURIComponent(location.hash.slice(1)));
for(var e=t;e;e=e.parentElement){if(e.tagName==='DETAILS'){e.open=true;}}if(t){t.scrollIntoView();}}
window.addEventListener('hashchange',openTarget);window.addEventListener('load',openTarget);
</script>"""

PLOT_CAPTIONS = {
    "baseline_vs_now.png": "Each benchmark's median time over its reference median: the grey bar is the reference's "
                           "95% CI, the dot and whiskers the run's median and CI, coloured by verdict; the short "
                           "bars above and below each point are its tolerance, beyond which a change counts.",
    "gemm_layer_throughput.png": "Sum of the layer GEMMs' FLOPs over the sum of their median times, per model "
                                 "(logits excluded).",
    "roofline.png": "Achieved TFLOP/s over arithmetic intensity; the roofs are min(peak, intensity x bandwidth).",
    "kernel_throughput.png": "Kernels over the number of tokens, ours against the reference provider.",
    "kernel_time.png": "Kernel median times with their 95% confidence intervals.",
    "decode_steps.png": "Decode steps modelled from the measured decode GEMMs and attention.",
    "decode_attention.png": "Decode attention bandwidth over the KV-cache length.",
    "sweeps.png": "Measured throughput over the swept dimension; triangles mark the predicted wave-quantization dips.",
}
# The plot that shows a family's benchmarks best (each benchmark's row links it); any family: baseline_vs_now.
FAMILY_PLOTS = {"gemm": "gemm_layer_throughput", "kernel": "kernel_throughput", "decode": "decode_attention",
                "sweep": "sweeps"}
OPEN_ROWS = 150  # the table of all results starts open up to this many rows


def section_id(heading: str) -> str:
    """The anchor of a section: its heading's words, without the count in parentheses."""
    return "s-" + re.sub(r"[^a-z0-9]+", "-", re.sub(r"\(.*?\)", "", heading).lower()).strip("-")


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def plot_link(record: Mapping, stems: set[str]) -> str:
    """The anchor of the plot that shows a record: its family's plot, else the baseline plot, else none."""
    family = str(record.get("family", "")).split("/")[0]
    for stem in (FAMILY_PLOTS.get(family), "baseline_vs_now"):
        if stem in stems and (stem != "baseline_vs_now" or record.get("baseline")):
            return f"#plot-{stem}"
    return ""


def index_html(doc: Mapping, pngs: Sequence[Path], *, title_suffix: str = "") -> str:
    env = doc.get("environment") or {}
    info = RunInfo.of(doc)
    page_title = html.escape(title(doc, title_suffix))
    found = sections(doc)
    records = sorted_records(doc)
    contents = [(section_id(h), h) for h, _, _ in found]
    if pngs:
        contents.append(("plots", "Plots"))
    if records:
        contents.append(("all-results", "All results"))
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width,initial-scale=1'><title>{page_title}</title>"
             f"<style>{CSS}</style></head><body>",
             f"<h1>{page_title}</h1>",
             f"<p class='note'>Run of {html.escape(info.date)}, commit <code>{html.escape(str(env.get('commit') or 'unknown'))}"
             f"</code>, {len(doc['results'])} benchmarks.</p>",
             "<nav>" + "".join(f"<a href='#{i}'>{html.escape(h)}</a>" for i, h in contents) + "</nav>"]
    headings = {h.split(" (")[0].lower(): section_id(h) for h, _, _ in found}
    for heading, table, note in found:
        parts.append(f"<h2 id='{section_id(heading)}'>{html.escape(heading)}</h2>")
        if note:
            parts.append(f"<p class='note'>{text_html(note)}</p>")
        if table is not None and heading == "Verdicts":
            table = replace(table, links=tuple("#" + headings.get(VERDICT_SECTIONS.get(row[0], ""), "all-results")
                                               for row in table.rows))
        if table is not None:
            parts.append(table.html())
    if pngs:
        parts.append("<h2 id='plots'>Plots</h2>")
        for png in pngs:
            caption = html.escape(PLOT_CAPTIONS.get(png.name, png.stem))
            parts.append(f"<figure id='plot-{html.escape(png.stem)}'><img alt='{html.escape(png.stem)}' "
                         f"src='{_data_uri(png)}'><figcaption>{caption}</figcaption></figure>")
    if records:
        stems = {p.stem for p in pngs}
        table = results_table(records, anchored=True)
        table = replace(table, links=tuple(plot_link(r, stems) for r in records))
        parts.append(f"<h2 id='all-results'>All results</h2><details{' open' if len(records) <= OPEN_ROWS else ''}>"
                     f"<summary>{len(records)} benchmarks (each links its family's plot)</summary>{table.html()}"
                     "</details><p class='note'>Times are medians in ms; change = now / reference - 1 (positive is "
                     "slower); tolerance = the change that counts, set by the largest term of the noise model; "
                     "noise = both medians' 95% CI half-widths combined; * = re-measured.</p>")
    parts.append(OPEN_TARGET_JS)
    parts.append("</body></html>")
    return "\n".join(parts)


VERDICT_SECTIONS = {"regression": "regressions", "improvement": "improvements", "unreliable": "unreliable"}
