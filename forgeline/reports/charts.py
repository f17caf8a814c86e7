"""The report's charts (matplotlib, drawn off-screen) as PNG bytes, with the report's Korean font.

Days without data are gaps: a series is drawn over every day of the period with NaN on the missing ones,
so no line joins two days that are not consecutive (a lone day shows as its marker). Shares run from 0 to
100 %, quantities from 0.
"""

from __future__ import annotations

import io
from functools import lru_cache

import matplotlib

matplotlib.use("Agg")  # off-screen: a server has no display

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.ticker import FuncFormatter, PercentFormatter  # noqa: E402

from forgeline import i18n  # noqa: E402
from forgeline.reports.fonts import korean_font  # noqa: E402

WIDTH_IN, HEIGHT_IN, DPI = 7.0, 2.8, 150
COLOURS = ["#1f4e79", "#2e86c1", "#f39c12", "#27ae60", "#8e44ad", "#c0392b"]


@lru_cache(maxsize=1)
def _font_family() -> str:
    """Register the report's font with matplotlib once; its family name for rcParams."""
    font = korean_font()
    for path in {font.regular, font.bold}:
        font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(font.regular)).get_name()


def _figure(height: float = HEIGHT_IN) -> tuple[plt.Figure, plt.Axes]:
    plt.rcParams["font.family"] = _font_family()
    plt.rcParams["axes.unicode_minus"] = False  # Nanum has no U+2212 minus sign
    fig, ax = plt.subplots(figsize=(WIDTH_IN, height), dpi=DPI)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)  # grid lines behind bars, not across them
    return fig, ax


def _png(fig: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def _day_axis(ax: plt.Axes, days: pd.Series) -> None:
    ax.set_xlim(days.min() - pd.Timedelta(hours=12), days.max() + pd.Timedelta(hours=12))
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=10))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: i18n.short_day(mdates.num2date(x))))


def daily_lines(daily: pd.DataFrame, series: dict[str, str], share: bool, unit: str = "") -> bytes:
    """Lines over the period's days, one per ``series`` column (its label as value); gaps where data is
    missing. Shares of one series run from 0 to a little above its peak; several shares from 0 to 100 %."""
    fig, ax = _figure()
    for colour, (column, name) in zip(COLOURS, series.items(), strict=False):
        ax.plot(
            daily["day"], daily[column], marker="o", markersize=3, linewidth=1.5, color=colour, label=name
        )
    _day_axis(ax, daily["day"])
    if share:
        peak = daily[list(series)].max().max()
        peak = 0.0 if pd.isna(peak) else float(peak)
        ax.set_ylim(0, 1.0 if len(series) > 1 else min(1.0, max(0.01, peak * 1.25)))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0 if len(series) > 1 else 1))
    else:
        if not (daily[list(series)] < 0).any().any():  # quantities from 0; a signed measure keeps its sign
            ax.set_ylim(bottom=0)
        ax.set_ylabel(unit)
    if len(series) > 1:
        ax.legend(loc="lower left", ncols=len(series), fontsize=8, frameon=False, bbox_to_anchor=(0, 1.0))
    return _png(fig)


def daily_bars(daily: pd.DataFrame, column: str, unit: str) -> bytes:
    """Bars per day from 0 (a day without a reading has no bar)."""
    fig, ax = _figure()
    ax.bar(daily["day"], daily[column], width=0.8, color=COLOURS[0])
    _day_axis(ax, daily["day"])
    ax.set_ylim(bottom=0)
    ax.set_ylabel(unit)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: i18n.number(y)))
    return _png(fig)


def machine_bars(names: list[str], values: list[float | None]) -> bytes:
    """OEE per machine, horizontal, 0-100 % (a machine with OEE not measured has no bar)."""
    fig, ax = _figure(height=max(1.6, 0.35 * len(names) + 0.8))
    shown = [float("nan") if v is None else v for v in values]
    ax.barh(names, shown, color=COLOURS[1])
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.invert_yaxis()
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    return _png(fig)


def evidence_chart(frame: pd.DataFrame, unit: str) -> bytes:
    """A finding's evidence: lines over its days (the first column), a day without data a gap; a share
    (``unit`` "share") in %."""
    x, series = frame.columns[0], list(frame.columns[1:])
    days = pd.to_datetime(frame[x])
    every = pd.DataFrame({"day": pd.date_range(days.min(), days.max(), freq="D")})
    filled = every.merge(frame.rename(columns={x: "day"}).assign(day=days), on="day", how="left")
    return daily_lines(filled, {s: str(s) for s in series}, share=unit == "share", unit=unit)
