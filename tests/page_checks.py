"""What a person sees of a page open in the browser (tests/chromium.py): sideways scrolling, tables beyond the
window, images that did not load, and each table's cells as shown."""

from __future__ import annotations

from pathlib import Path

# What a person sees, measured in the page: every <details> opened first, so that folded rows count too.
OPEN_ALL = "document.querySelectorAll('details').forEach(function(d){d.open=true;});"

TOO_WIDE = """
var width = document.documentElement.clientWidth, out = [];
if (document.documentElement.scrollWidth > width) out.push('page scrolls sideways: ' +
    document.documentElement.scrollWidth + ' > ' + width + ' px');
document.querySelectorAll('table').forEach(function(t, i){
  var box = t.getBoundingClientRect();
  if (box.width > 0 && box.right > width + 0.5) out.push('table ' + i + ' (' + t.rows[0].innerText.slice(0, 60) +
      ') ends at ' + Math.round(box.right) + ' px, beyond ' + width);
});
return out;"""

IMAGES = """
return Array.from(document.images).filter(function(img){return !(img.complete && img.naturalWidth > 0);})
  .map(function(img){return img.alt || img.src.slice(0, 60);});"""

# Each table's cells as shown: [table index][row][cell] = [visible text, left, right] (header row excluded).
CELLS = """
return Array.from(document.querySelectorAll(arguments[0])).map(function(t){
  return Array.from(t.tBodies[0].rows).map(function(r){
    return Array.from(r.cells).map(function(c){var b = c.getBoundingClientRect();
      return [c.innerText.trim(), b.left, b.right];});});});"""


def open_page(driver, path: Path) -> None:
    driver.get(Path(path).resolve().as_uri())
    driver.execute_script(OPEN_ALL)


def layout_problems(driver) -> list[str]:
    """What a person at this window width would miss: sideways scrolling, tables beyond the window, images that
    did not load."""
    problems = list(driver.execute_script(TOO_WIDE))
    problems += [f"image did not load: {name}" for name in driver.execute_script(IMAGES)]
    return problems


def shown_cells(driver, selector: str = "table") -> list:
    return driver.execute_script(CELLS, selector)
