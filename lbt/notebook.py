"""What stage notebooks share: start (logging, params) and showing tables and figures.

Tables render as clean HTML tables (great_tables through polars' `DataFrame.style`): no shape
line, no dtype row, no quoted strings, numbers formatted. Figures are shown as PNG images, so
they render in executed notebooks and in the HTML report whatever matplotlib backend is active.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, Sequence

import polars as pl

from lbt.config import Params, load_params

if TYPE_CHECKING:  # matplotlib costs a stage without figures half a second
    from matplotlib.figure import Figure


def start(params_path: str = "params.yaml", reads: Sequence[str] = ()) -> Params:
    """Logging on, and the params sections this stage reads, validated."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", force=True)
    return load_params(params_path, list(reads))


def table(df: pl.DataFrame, title: str | None = None, decimals: int = 1, max_rows: int = 40):
    """A styled HTML table: floats to `decimals` places, missing values as "–", at most `max_rows` rows."""
    from IPython.display import HTML

    return HTML(style(df, title, decimals, max_rows).as_raw_html())


def style(df: pl.DataFrame, title: str | None = None, decimals: int = 1, max_rows: int = 40):
    """The great_tables object behind `table`."""
    shown = df.head(max_rows)
    floats = [c for c, t in shown.schema.items() if t.is_float()]
    style = shown.style
    if floats:
        style = style.fmt_number(columns=floats, decimals=decimals)
    style = style.sub_missing(missing_text="–")
    if title:
        style = style.tab_header(title=title)
    if df.height > max_rows:
        style = style.tab_source_note(f"First {max_rows} of {df.height} rows.")
    return style


def figure(fig: Figure):
    """A figure as a PNG image for display (closes nothing: object-API figures hold no global state)."""
    from IPython.display import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return Image(data=buffer.getvalue())


def metrics(data: dict, title: str | None = None):
    """A flat metrics dict ({"a.b": value}) as a two-column table."""
    flat = _flatten(data)
    return table(pl.DataFrame({"metric": list(flat), "value": [str(v) for v in flat.values()]}), title)


def _flatten(data: dict, prefix: str = "") -> dict:
    out: dict = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        out.update(_flatten(value, name + ".") if isinstance(value, dict) else {name: value})
    return out
