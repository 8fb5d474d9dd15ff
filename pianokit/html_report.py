"""`pianokit score --report out.html`: one self-contained HTML page (no external files or scripts):
the ratings explained, a chart per recording, the timeline, what changed between two recordings,
and the model card facts."""

from __future__ import annotations

import datetime
import html
import os

from pianokit import __version__
from pianokit.atomic import write_text
from pianokit.explain import difference_rows, dimension_rows, leaning, summary_of_changes
from pianokit.plots import data_uri, ratings_figure, timeline_figure
from pianokit.report import FOOTNOTE, model_facts

STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:0.5rem 0 1.5rem;font-size:0.9rem}td,th{padding:0.2rem 0.5rem;border-bottom:1px solid #ddd}
th{text-align:left;background:#f4f6f8}td.n{text-align:right;font-variant-numeric:tabular-nums}
.warn{background:#fff3cd;padding:0.5rem;border-left:4px solid #e0a800}.changed{font-weight:bold}
img{max-width:100%;height:auto}figure{margin:1rem 0}figcaption{font-size:0.85rem;color:#555}
"""


def _e(value) -> str:
    return html.escape("-" if value is None else str(value))


def _num(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _recording_section(index: int, rating, scorer) -> str:
    rows = dimension_rows(rating, scorer)
    parts = [f'<section id="recording-{index}"><h2>{_e(os.path.basename(rating.path))}</h2>',
             f"<p>{_e(rating.path)}: {rating.duration_s:.1f} s, {len(rating.window_starts_s)} window(s)</p>"]
    parts += [f'<p class="warn">Warning: {_e(w)}</p>' for w in rating.warnings]
    parts.append('<table><thead><tr><th scope="col">1 means</th><th scope="col">7 means</th><th scope="col">Rating (1-7)</th><th scope="col">Reading</th>'
                 '<th scope="col">Percentile</th><th scope="col">80% interval</th><th scope="col">Ensemble +-</th>'
                 '<th scope="col">CV r</th><th scope="col">CV within-passage r</th></tr></thead><tbody>')
    group = None
    for row in rows:
        if row["group"] != group:
            group = row["group"]
            parts.append(f'<tr><th colspan="9" scope="rowgroup">{_e(group)}</th></tr>')
        interval = row["interval_80_1_to_7"]
        parts.append(
            f"<tr><td>{_e(row['low_pole'])}</td><td>{_e(row['high_pole'])}</td>"
            f'<td class="n">{_num(row["rating_1_to_7"])}</td><td>{_e(leaning(row))}</td>'
            f'<td class="n">{_num(row["percentile"], 0)}</td>'
            f'<td class="n">{_e(f"{interval[0]:.1f} - {interval[1]:.1f}" if interval else None)}</td>'
            f'<td class="n">{_num(row["ensemble_sd_1_to_7"])}</td><td class="n">{_num(row["cv_r"], 2)}</td>'
            f'<td class="n">{_num(row["cv_within_passage_r"], 2)}</td></tr>')
    parts.append("</tbody></table>")
    name = _e(os.path.basename(rating.path))
    parts.append(f'<figure><img src="{data_uri(ratings_figure(rows))}" alt="Ratings of {name} per dimension with '
                 f'80% intervals"><figcaption>Ratings by group (dot) with their 80% intervals (bar).</figcaption>'
                 "</figure>")
    if len(rating.window_starts_s) > 1:
        parts.append(f'<figure><img src="{data_uri(timeline_figure(rating, scorer.dimensions))}" '
                     f'alt="Timeline of {name}: ratings over time"><figcaption>Ratings of every window over the '
                     "recording.</figcaption></figure>")
    parts.append("</section>")
    return "\n".join(parts)


def _comparison_section(a, b, scorer) -> str:
    rows = difference_rows(a, b, scorer)
    parts = ['<section id="comparison"><h2>What changed from A to B</h2>',
             f"<p>A: {_e(a.path)}<br>B: {_e(b.path)}</p>", f"<p><strong>{_e(summary_of_changes(rows))}</strong></p>",
             '<table><thead><tr><th scope="col">Dimension (1 means - 7 means)</th><th scope="col">A</th><th scope="col">B</th>'
             '<th scope="col">B - A</th><th scope="col">Standard error</th><th scope="col">Verdict</th></tr></thead>'
             "<tbody>"]
    for row in rows:
        cls = ' class="changed"' if row["changed"] else ""
        label = f"{row['aspect']}: {row['low_pole']} - {row['high_pole']}"
        parts.append(f"<tr{cls}><td>{_e(label)}</td><td class=\"n\">"
                     f"{_num(row['a_1_to_7'])}</td><td class=\"n\">{_num(row['b_1_to_7'])}</td>"
                     f"<td class=\"n\">{row['change_1_to_7']:+.1f}</td>"
                     f"<td class=\"n\">{_num(row['standard_error_1_to_7'])}</td><td>{_e(row['verdict'])}</td></tr>")
    parts.append("</tbody></table><p>A change counts when it exceeds 1.645 standard errors; the standard error comes "
                 "from the model's errors between performances of the same passage on held-out folds.</p></section>")
    return "\n".join(parts)


def _model_section(scorer) -> str:
    facts = model_facts(scorer)
    meta = scorer.metadata
    cv_mean, within = facts["cv_mean"] or {}, facts["cv_within_passage_mean"] or {}
    baselines = (meta.cv_metrics or {}).get("baselines_mean", {})
    audio = meta.extra.get("training_audio") or {}
    items = [("Model", f"{facts['name']} ({facts['architecture']}, {facts['members']} member(s)), run on "
                       f"{facts['provider']}"),
             ("Evaluation", f"{facts['cv_folds']} folds, {facts['cv_split']} split; {facts['cv_protocol'] or '-'}"),
             ("Mean accuracy (19 dimensions)", f"R² {_num(cv_mean.get('r2'), 3)}, r {_num(cv_mean.get('r'), 3)}; "
                                               f"within-passage R² {_num(within.get('r2'), 3)}, "
                                               f"r {_num(within.get('r'), 3)}"),
             *[(f"Baseline: {name}", f"R² {_num((b.get('mean') or {}).get('r2'), 3)}, within-passage R² "
                                     f"{_num((b.get('within_passage_mean') or {}).get('r2'), 3)}")
               for name, b in baselines.items()],
             ("Training audio", ", ".join(f"{k}: {v.get('rows')} recordings" for k, v in
                                          (audio.get("sources") or {}).items()) or "-"),
             ("Feature settings", f"{meta.feature_config.sample_rate} Hz, {meta.feature_config.n_mels} mel bands, "
                                  f"windows of {meta.window.seconds(meta.feature_config)} s"
                                  + ("" if meta.feature_config.noise_floor_db is None else
                                     f", pink noise added {meta.feature_config.noise_floor_db:g} dB below the recording"))]
    rows = "".join(f'<tr><th scope="row">{_e(k)}</th><td>{_e(v)}</td></tr>' for k, v in items)
    return f'<section id="model"><h2>About the model</h2><table><tbody>{rows}</tbody></table><p>{_e(FOOTNOTE)}</p></section>'


def render(results, scorer, compare: bool = False) -> str:
    """The whole page as one string."""
    created = datetime.datetime.now().isoformat(timespec="seconds")
    body = [f"<h1>Piano performance ratings</h1><p>pianokit {_e(__version__)}, {_e(created)}. Ratings on the 19 "
            "PercePiano dimensions, on the raters' 1-7 scale between the two poles of each dimension.</p>"]
    if compare:
        body.append(_comparison_section(results[0], results[1], scorer))
    body += [_recording_section(k, r, scorer) for k, r in enumerate(results)]
    body.append(_model_section(scorer))
    return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>pianokit report: {_e(', '.join(os.path.basename(r.path) for r in results[:3]))}</title>\n"
            f"<style>{STYLE}</style>\n</head>\n<body>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n")


def write_report(results, scorer, path: str | os.PathLike, compare: bool = False) -> None:
    write_text(path, render(results, scorer, compare))
