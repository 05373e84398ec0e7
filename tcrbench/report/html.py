"""The board as one self-contained HTML file: inline CSS, PNG plots as data URIs, no script, no request.

Every string that comes from data or plugins (labels, reasons, peptide names, versions) goes through
:func:`esc`; a Content-Security-Policy that allows only inline styles and data: images backs that up, so a
hostile label cannot run or fetch anything even if a renderer change forgot to escape it.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from tcrbench import __version__
from tcrbench.report import curves
from tcrbench.report import format as fmt
from tcrbench.report.corpus import corpus_text
from tcrbench.report.data_audit import audit_lines
from tcrbench.report.dynamics.plot import curve_plot
from tcrbench.report.dynamics.text import headers as dynamics_headers
from tcrbench.report.dynamics.text import summary_lines, table_rows
from tcrbench.report.figure import Plot
from tcrbench.report.merge import Ranking
from tcrbench.report.model import BoardRow, Leaderboard, fraction_text, grouped
from tcrbench.report.plots import board_plots
from tcrbench.report.published import caption, published_lines, score_text

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1400px;
padding:0 16px;color:#222;background:#fff}
h1{font-size:22px}h2{font-size:18px;margin-top:32px}h3{font-size:16px}
table{border-collapse:collapse;margin:12px 0;font-size:13px}.scroll{overflow-x:auto}
th,td{border:1px solid #ddd;padding:4px 8px;vertical-align:top}
th{background:#f3f3f3;text-align:left;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.reference td{background:#f5f8fc;font-weight:600}
tr.failed td{color:#a00;background:#fff6f6}
tr.shortcut td{color:#555}
tr.group th{text-align:left;background:#eef1f5;font-size:.95em;padding-top:.6em}
.badge{display:inline-block;font-size:11px;padding:0 6px;margin-left:4px;border-radius:8px;white-space:nowrap}
.badge.labels{background:#fde0c5;color:#7a3b00;border:1px solid #e08214}
.badge.ref{background:#dbe7f5;color:#1d3f6e}
.badge.shortcut{background:#eee;color:#444;border:1px solid #999}
.banner{border-left:5px solid #e08214;background:#fff7ec;padding:8px 12px;margin:8px 0}
.banner.shortcut,.banner.pretraining_loses{border-color:#b2182b;background:#fdeeee}
.meta{color:#444;font-size:13px}
.flag{font-family:ui-monospace,monospace;font-size:12px}
figure{margin:16px 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:12px;max-width:900px}
footer{margin-top:40px;color:#888;font-size:12px}
"""


def esc(value: object) -> str:
    """Text from data, safe in element content and in quoted attributes."""
    return html.escape(str(value), quote=True)


def _table(headers: Sequence[str], rows: Iterable[tuple[str, Sequence[tuple[str, bool]]]], cls: str) -> str:
    """``rows``: (tr class, [(already-escaped cell html, numeric?)])."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for tr_class, cells in rows:
        if tr_class == "group":  # a section heading spanning the table
            body.append(f'<tr class="group"><th colspan="{len(headers)}">{cells[0][0]}</th></tr>')
            continue
        tds = "".join(f'<td class="num">{c}</td>' if numeric else f"<td>{c}</td>" for c, numeric in cells)
        body.append(f'<tr class="{esc(tr_class)}">{tds}</tr>')
    return (
        f'<div class="scroll"><table class="{esc(cls)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _config_cell(row: BoardRow) -> str:
    out = esc(row.label)
    if row.is_reference:
        out += ' <span class="badge ref">reference</span>'
    if row.shortcut:
        out += ' <span class="badge shortcut">shortcut</span>'
    return out


def _flags_cell(row: BoardRow) -> str:
    parts = [f'<span class="flag" title="{esc(fmt.FLAG_HELP.get(f, ""))}">{esc(f)}</span>' for f in row.flags]
    if row.note:
        parts.append(f'<span title="{esc(row.note)}">(note)</span>')
    return ", ".join(parts)


def _row_class(row: BoardRow) -> str:
    if row.status == "failed":
        return "failed"
    if row.is_reference:
        return "reference"
    return "shortcut" if row.shortcut else "row"


def _board_table(board: Leaderboard) -> str:
    """The board with a heading row per section (published models, recipes, from scratch, baselines)."""
    rows: list[tuple[str, list[tuple[str, bool]]]] = []
    for name, section in grouped(board.rows):
        rows.append(("group", [(esc(name), False)]))
        rows += _section_rows(board, section)
    return _table(fmt.headers(board), rows, "board")


def _section_rows(board: Leaderboard, section: list[BoardRow]) -> list[tuple[str, list[tuple[str, bool]]]]:
    rows = []
    for r in section:
        text = fmt.cells(r, board)
        cells = [(esc(t), n) for t, n in zip(text, fmt.numeric(board))]
        cells[1] = (_config_cell(r), False)
        cells[3] = ('<span class="badge labels">uses labels</span>' if r.uses_labels else "", False)
        cells[-1] = (_flags_cell(r), False)
        rows.append((_row_class(r), cells))
    return rows


def _banners(board: Leaderboard) -> str:
    return "".join(
        f'<div class="banner {esc(b.kind)}"><strong>{esc(b.kind.replace("_", " "))}</strong>: {esc(b.message)}</div>'
        for b in board.banners
    )


def _meta(board: Leaderboard) -> str:
    m = board.meta
    ratio = "assumed 1/(k-1)" if m.ratio_assumed else fmt.num(m.test_train_ratio)
    items = [
        f"data: {esc(m.data_source or 'unknown')}; run folder: {esc(m.run_dir or '-')}; "
        f"config hash: <code>{esc(m.config_hash or '-')}</code>",
        f"metric: <strong>{esc(board.metric)}</strong>, mean ± sd over {len(m.folds)} folds × {len(m.seeds)} seed(s); "
        "macro AUROC: per-peptide AUROC averaged over peptides, then over folds",
        f"corrected resampled t-test (Nadeau–Bengio), n_test/n_train = {esc(ratio)}; {esc(m.pairing or 'no comparison')}; "
        f"Holm across all {len(board.compared())} comparisons",
    ]
    if m.references:
        refs = "; ".join(f"{esc(p)} rows against {esc(k)}" for p, k in m.references.items())
        same = "protocol and label fraction" if len(m.label_fractions) > 1 else "protocol"
        items.append(
            f"each diff is against the supervised arm of the same {same} ({refs}); simple baselines "
            "against the fine-tuned one"
        )
    if any(f < 1.0 for f in m.label_fractions):
        shares = ", ".join(fraction_text(f) for f in m.label_fractions)
        items.append(
            f"label fractions: {esc(shares)} of each training fold's labelled rows (nested subsets); each fraction "
            "is its own configuration, and pretraining saw every sequence"
        )
    items += [f"<strong>{esc(line)}</strong>" for line in audit_lines(m.data_audit)]
    if m.corpus is not None:
        items.append(esc(corpus_text(m.corpus)))
    if m.framing:
        items.append(f"framing of the neural arms: {esc(m.framing)} ({esc(fmt.FRAMINGS.get(m.framing, ''))})")
    if m.pretrain_on and m.pretrain_on != "train":
        items.append(f"pretraining saw {esc(m.pretrain_on)} sequences (transductive)")
    if m.versions:
        items.append("versions: " + ", ".join(f"{esc(k)} {esc(v)}" for k, v in sorted(m.versions.items())))
    return '<ul class="meta">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _figures(plots: Sequence[Plot]) -> str:
    return "".join(
        f'<figure class="plot {esc(p.name)}"><img src="{p.data_uri}" alt="{esc(p.title)}">'
        f"<figcaption><strong>{esc(p.title)}.</strong> {esc(p.caption)}</figcaption></figure>"
        for p in plots
    )


def _peptides(board: Leaderboard, h: str, limit: int = 40) -> str:
    t = board.per_peptide
    if t is None or not t.keys:
        return ""
    tags = {r.key: (f"#{r.rank}" if r.rank is not None else r.key) for r in board.rows}
    headers = ["peptide", "positives", *(tags[k] for k in t.keys)]
    body = []
    for j, (p, n) in enumerate(zip(t.peptides[:limit], t.n_positives[:limit])):
        cells = [(esc(p), False), (esc(n), True)]
        cells += [(esc(fmt.num(t.auroc[i][j])), True) for i in range(len(t.keys))]
        body.append(("row", cells))
    legend = "; ".join(f"{esc(tags[k])} = {esc(k)}" for k in t.keys)
    more = (
        f" The {limit} peptides with most positives of {len(t.peptides)} are shown; leaderboard.json has all."
        if len(t.peptides) > limit
        else ""
    )
    return f"<{h}>Per-peptide AUROC</{h}><p>{esc(t.how)}.{esc(more)} Columns: {legend}.</p>" + _table(
        headers, body, "peptides"
    )


def _learning_curve(board: Leaderboard, h: str) -> str:
    section = board.learning_curves
    if section is None:
        return ""
    headers, rows, numeric = curves.table(section)
    body = [("row", [(esc(c), n) for c, n in zip(cells, numeric)]) for cells in rows]
    return f"<{h}>Learning curve</{h}><p>{esc(curves.caption(section))}</p>" + _table(headers, body, "learning_curve")


def _detectable_note(board: Leaderboard) -> str:
    if not fmt.optional_columns(board)[1]:
        return ""
    return f'<p class="meta">{esc(fmt.DETECTABLE_HEADER)}: {esc(fmt.DETECTABLE_HELP)}.</p>'


def _published(board: Leaderboard, h: str) -> str:
    if board.published is None:
        return ""
    body = [
        (
            "shortcut" if x.shortcut else ("published" if x.source == "published" else "row"),
            [(esc(x.method), False), (esc(x.source), False), (esc(score_text(x, fmt.num)), True)],
        )
        for x in published_lines(board)
    ]
    return f"<{h}>Published results</{h}><p>{esc(caption(board))}</p>" + _table(
        ["method", "source", board.published.metric], body, "published"
    )


def _dynamics(board: Leaderboard, h: str) -> str:
    section = board.dynamics
    if section is None:
        return ""
    out = [
        f"<{h}>Training dynamics</{h}>",
        f"<p>{esc(section.metric)} of the encoder at each evaluated pretraining step (mean and corrected "
        f"{section.confidence * 100:g}% CI over folds × seeds), its gain over the supervised arm paired by fold "
        f"and seed, and the pretraining loss then. Rule — {esc(section.rule)}.</p>",
        f'<div class="banner best_checkpoint"><strong>best checkpoint</strong>: {esc(section.warning)}.</div>',
    ]
    inner = f"h{int(h[1:]) + 1}"
    for i, curve in enumerate(section.curves):
        lines = "".join(f"<li>{esc(line)}</li>" for line in summary_lines(curve, fmt.num))
        body = [("row", [(esc(c), j < 5) for j, c in enumerate(cells)]) for cells in table_rows(curve, fmt.num)]
        out.append(
            f'<section class="dynamics"><{inner}>{esc(curve.name)}</{inner}>'
            f'<ul class="meta">{lines}</ul>'
            + _figures([curve_plot(curve, section, i)])
            + _table(dynamics_headers(section), body, "dynamics")
            + "</section>"
        )
    return "".join(out)


def _failures(board: Leaderboard, h: str) -> str:
    if not board.failures:
        return ""
    body = [
        (
            "failed",
            [
                (esc(f.label), False),
                (esc(f.protocol), False),
                (esc(f.fold), True),
                (esc(f.seed), True),
                (esc(f.reason or "(no reason recorded)"), False),
            ],
        )
        for f in board.failures
    ]
    return f"<{h}>Failures</{h}>" + _table(["configuration", "protocol", "fold", "seed", "reason"], body, "failures")


def _flag_legend(board: Leaderboard) -> str:
    used = dict.fromkeys(f for r in board.rows for f in r.flags)
    if not used:
        return ""
    return (
        '<ul class="meta">'
        + "".join(f'<li><span class="flag">{esc(f)}</span>: {esc(fmt.FLAG_HELP.get(f, ""))}</li>' for f in used)
        + "</ul>"
    )


def _run_section(board: Leaderboard, level: int, banners: bool = True) -> str:
    h, sub = f"h{level}", f"h{level + 1}"
    return "".join(
        [
            f"<{h}>{esc(board.meta.title)}</{h}>",
            _banners(board) if banners else "",
            _meta(board),
            _board_table(board),
            _detectable_note(board),
            _flag_legend(board),
            _figures(board_plots(board)),
            _learning_curve(board, sub),
            _published(board, sub),
            _peptides(board, sub),
            _dynamics(board, sub),
            _failures(board, sub),
        ]
    )


def _ranking_section(r: Ranking, metric: str) -> str:
    headers = ["mean rank", "method", "protocol", "labels", *r.datasets]
    body = []
    for row in r.rows:
        cells = [
            (esc(fmt.num(row.mean_rank, 2)), True),
            (esc(row.label), False),
            (esc(row.protocol), False),
            ('<span class="badge labels">uses labels</span>' if row.uses_labels else "", False),
        ]
        for s, k in zip(row.scores, row.ranks):
            text = f"{fmt.num(s)} ({fmt.num(k, 1)})" if s is not None and k is not None else fmt.num(s)
            cells.append((esc(text), True))
        body.append(("row" if row.ranked else "failed", cells))
    out = [
        f"<h2>Ranking across datasets</h2><p>Methods ranked per dataset by mean {esc(metric)} (rank in brackets, "
        "1 = best), then by mean rank.</p>",
        _table(headers, body, "ranking"),
    ]
    if r.friedman is not None:
        f = r.friedman
        out.append(
            f"<p>Friedman chi² = {esc(fmt.num(f.statistic, 2))}, df = {f.df}, p = {esc(fmt.pval(f.p))}; "
            f"Iman–Davenport F = {esc(fmt.num(f.iman_davenport_f, 2))}, p = {esc(fmt.pval(f.iman_davenport_p))}; "
            f"Nemenyi CD = {esc(fmt.num(r.cd, 2))} (alpha = {r.alpha:g}).</p>"
        )
    elif r.note:
        out.append(f"<p>No Friedman test: {esc(r.note)}.</p>")
    return "".join(out)


def render_html(board: Leaderboard) -> str:
    """The whole page as one string."""
    if board.kind == "merged" and board.ranking is not None:
        body = [
            f"<h1>{esc(board.meta.title)}</h1>",
            _banners(board),
            _ranking_section(board.ranking, board.metric),
            _figures(board_plots(board)),
        ]
        for name, sub in zip(board.ranking.datasets, board.datasets):
            body.append(
                f'<section class="dataset"><h2>Dataset: {esc(name)}</h2>{_run_section(sub, 3, banners=False)}</section>'
            )
    else:
        body = [_run_section(board, 1)]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(board.meta.title)}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + f"\n<footer>tcrbench {esc(__version__)}</footer>\n</body></html>\n"
    )
