"""Accuracy tables: a run's model beside its in-house baselines, plain and within-passage.

Works on the summary dict that `pianokit fit` writes to metrics.json (pianokit.train.summarise).
"""

from __future__ import annotations

from pianokit.baselines import BASELINES

SHORT = {"train_mean": "mean", "player_mean": "player", "passage_mean": "passage", "ridge": "ridge",
         "symbolic": "symbolic"}


def _get(block: dict | None, dim: str | None, metric: str) -> float | None:
    if not block:
        return None
    values = block["mean"] if dim is None else block["per_dimension"].get(dim)
    return None if values is None else values.get(metric)


def _cell(value: float | None, width: int = 7) -> str:
    return f"{value:{width}.3f}" if value is not None else f"{'-':>{width}}"


def summary_rows(summary: dict) -> list[dict]:
    """One row per dimension plus 'MEAN': the model's R², r, MAE, within-passage R² and r, and each
    baseline's R² and within-passage R² (None where not measured)."""
    model, baselines = summary["model"], summary.get("baselines", {})
    rows = []
    for dim in [*model["per_dimension"], None]:
        row = {"dimension": dim or "MEAN",
               "r2": _get(model, dim, "r2"), "r": _get(model, dim, "r"), "mae": _get(model, dim, "mae"),
               "within_r2": _get(model.get("within_passage"), dim, "r2"),
               "within_r": _get(model.get("within_passage"), dim, "r")}
        for name in BASELINES:
            b = baselines.get(name)
            row[f"{name}_r2"] = _get(b, dim, "r2")
            row[f"{name}_within_r2"] = _get(b.get("within_passage") if b else None, dim, "r2")
        rows.append(row)
    return rows


def text_table(summary: dict) -> str:
    """Fixed-width table for the terminal."""
    head = (f"{'dimension':40} {'R2':>7} {'r':>7} {'wp R2':>7} {'wp r':>7} | "
            + " ".join(f"{SHORT[b] + ' R2':>11}" for b in BASELINES))
    lines = [f"{'':40} {'model':^31} | {'baselines: plain R2 (within-passage R2)':^47}", head]
    for row in summary_rows(summary):
        label = row["dimension"]
        if label == "MEAN":
            label = f"MEAN ({summary.get('folds', '?')} folds, {summary.get('split', '?')})"
        base = " ".join(f"{_cell(row[f'{b}_r2'], 5)} ({_cell(row[f'{b}_within_r2'], 5).strip():>5})"
                        if row[f"{b}_r2"] is not None else f"{'-':>11}" for b in BASELINES)
        lines.append(f"{label:40} {_cell(row['r2'])} {_cell(row['r'])} {_cell(row['within_r2'])} "
                     f"{_cell(row['within_r'])} | {base}")
    lines.append("wp = within-passage: deviations from each passage's mean over its renditions in the test set.")
    return "\n".join(lines)


def markdown_means(entries: list[tuple[str, dict]], reliability: dict | None = None) -> str:
    """Markdown table, one row per (name, summary): mean plain and within-passage R² and r of the model
    and the mean R² (plain / within-passage) of each baseline."""
    lines = ["| run | split | R² | r | within-passage R² | within-passage r | "
             + " | ".join(f"{SHORT[b]} R² (wp)" for b in BASELINES) + " |",
             "|---|---|---|---|---|---|" + "---|" * len(BASELINES)]
    for name, summary in entries:
        mean = summary_rows(summary)[-1]
        base = " | ".join(f"{mean[f'{b}_r2']:.3f} ({mean[f'{b}_within_r2']:.3f})"
                          if mean[f"{b}_r2"] is not None and mean[f"{b}_within_r2"] is not None
                          else (f"{mean[f'{b}_r2']:.3f}" if mean[f"{b}_r2"] is not None else "-")
                          for b in BASELINES)
        lines.append(f"| {name} | {summary.get('split', '-')} | {_fmt(mean['r2'])} | {_fmt(mean['r'])} | "
                     f"{_fmt(mean['within_r2'])} | {_fmt(mean['within_r'])} | {base} |")
    if reliability:
        overall, within = reliability["overall"], reliability["within_passage"]
        lines.append(f"| label reliability (ceiling: R² = reliability, r = its root) | - | {overall:.3f} | "
                     f"{overall ** 0.5:.3f} | {within:.3f} | {within ** 0.5:.3f} | "
                     + " | ".join("-" for _ in BASELINES) + " |")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
