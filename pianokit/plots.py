"""Charts of ratings (matplotlib, from the `report` extra): the timeline of a recording and the
ratings of each group with their 80% intervals."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np

from pianokit.atomic import atomic_path
from pianokit.dimensions import GROUP_TITLES, GROUPS, poles
from pianokit.errors import InputError

PLOT_SUFFIXES = (".png", ".svg")


def require_matplotlib() -> None:
    """One clear line when matplotlib (the `report` extra) is missing; imports nothing."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise InputError("plots and reports need matplotlib: pip install 'pianokit[report]'")


def check_plot_path(path: str | os.PathLike) -> None:
    if Path(path).suffix.lower() not in PLOT_SUFFIXES:
        raise InputError(f"{path}: a plot is written as .png or .svg")


def _pyplot():
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def timeline_figure(rating, dimensions):
    """One panel per PercePiano group: each dimension's rating (1-7) over the recording, plotted at
    the middle of every window."""
    plt = _pyplot()
    values = np.asarray(rating.window_ratings) * 7.0
    middle = (np.asarray(rating.window_starts_s) + np.asarray(rating.window_ends_s)) / 2
    fig, axes = plt.subplots(len(GROUPS), 1, figsize=(9, 13), sharex=True)
    for ax, (group, dims) in zip(axes, GROUPS.items()):
        for dim in dims:
            if dim in dimensions:
                aspect, low, high = poles(dim)
                label = f"{low} -> {high}" if len(dims) > 1 else f"{low} (1) -> {high} (7)"
                ax.plot(middle, values[:, dimensions.index(dim)], marker="o", markersize=3, label=label)
        ax.set_ylim(1, 7)
        ax.set_ylabel(GROUP_TITLES[group], rotation=0, ha="right", va="center")
        ax.axhline(4, color="grey", linewidth=0.5)
        ax.legend(loc="upper left", fontsize=7, ncol=2, frameon=False)
    axes[-1].set_xlabel("time (s), window middles")
    fig.suptitle(f"{Path(rating.path).name}: ratings over time (1-7)")
    fig.tight_layout()
    return fig


def ratings_figure(rows: list[dict]):
    """Each dimension's rating (dot) and 80% interval (bar) on 1-7, poles at both ends, groups
    named at the left and separated by lines."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 0.36 * len(rows) + 1.2))
    y = np.arange(len(rows))[::-1]
    group = None
    for yi, row in zip(y, rows):
        if row["group"] != group:
            group = row["group"]
            ax.text(-0.62, yi, group, transform=ax.get_yaxis_transform(), ha="left", va="center", fontsize=9,
                    fontweight="bold")
            if yi != y[0]:
                ax.axhline(yi + 0.5, color="#ccc", linewidth=0.6)
        if row["interval_80_1_to_7"]:
            low, high = row["interval_80_1_to_7"]
            ax.plot([low, high], [yi, yi], color="#9ab", linewidth=5, solid_capstyle="round")
        ax.plot(row["rating_1_to_7"], yi, "o", color="#234")
        ax.text(0.9, yi, row["low_pole"], ha="right", va="center", fontsize=8)
        ax.text(7.1, yi, row["high_pole"], ha="left", va="center", fontsize=8)
    ax.set_yticks([])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlim(1, 7)
    ax.set_xticks(range(1, 8))
    ax.axvline(4, color="grey", linewidth=0.5)
    ax.set_xlabel("rating (1-7); bar: 80% interval from held-out errors")
    fig.subplots_adjust(left=0.36, right=0.8, top=0.98, bottom=1.0 / (0.36 * len(rows) + 1.2))
    return fig


def save(fig, path: str | os.PathLike) -> None:
    """Write ``fig`` as PNG or SVG (by suffix), atomically."""
    check_plot_path(path)
    path = Path(path)
    plt = _pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lower()[1:], dpi=110)
    plt.close(fig)


def data_uri(fig) -> str:
    """``fig`` as a base64 PNG data URI (for a self-contained HTML page)."""
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
