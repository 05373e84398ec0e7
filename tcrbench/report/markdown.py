"""The board as GitHub-flavoured Markdown that also reads well in a terminal (padded pipe tables)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from tcrbench.report import curves
from tcrbench.report import format as fmt
from tcrbench.report.corpus import corpus_text
from tcrbench.report.data_audit import audit_lines
from tcrbench.report.dynamics.text import headers as dynamics_headers
from tcrbench.report.dynamics.text import summary_lines, table_rows
from tcrbench.report.merge import Ranking
from tcrbench.report.model import Leaderboard, fraction_text, grouped
from tcrbench.report.published import caption, published_lines, score_text

_SPECIAL = str.maketrans({"|": r"\|", "<": r"\<", ">": r"\>", "`": r"\`", "*": r"\*", "\\": "\\\\"})


def escape(text: object) -> str:
    """Text from data, inert in Markdown: no table breaks, no HTML, no emphasis."""
    return " ".join(str(text).split()).translate(_SPECIAL)


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool] | None = None) -> str:
    """A pipe table padded to column width, so the raw text lines up too."""
    head = [escape(h) for h in headers]
    body = [[escape(c) for c in r] for r in rows]
    widths = [max([_width(h)] + [_width(r[i]) for r in body]) for i, h in enumerate(head)]
    right = right or [False] * len(head)

    def line(cells: Sequence[str]) -> str:
        padded = [
            (" " * (w - _width(c)) + c) if r else (c + " " * (w - _width(c))) for c, w, r in zip(cells, widths, right)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if r else ("-" * (w + 2)) for w, r in zip(widths, right)) + "|"
    return "\n".join([line(head), rule, *(line(r) for r in body)])


def _meta_lines(board: Leaderboard) -> list[str]:
    m = board.meta
    ratio = "assumed 1/(k-1)" if m.ratio_assumed else fmt.num(m.test_train_ratio, 3)
    lines = [
        f"- data: {escape(m.data_source or 'unknown')}; run: `{escape(m.run_dir or '-')}`; "
        f"config hash `{escape(m.config_hash or '-')}`",
        f"- metric: **{escape(board.metric)}** (mean ± sd over folds × seeds; {len(m.folds)} folds × {len(m.seeds)} "
        f"seed(s)); macro AUROC = per-peptide AUROC averaged over peptides, then over folds",
        f"- test: corrected resampled t-test (Nadeau–Bengio), n_test/n_train = {ratio}; "
        f"{escape(m.pairing or 'no comparison')}; Holm across all {len(board.compared())} comparisons",
    ]
    refs = "; ".join(f"{escape(p)} rows → {escape(k)}" for p, k in m.references.items())
    if refs:
        same = "protocol and label fraction" if len(m.label_fractions) > 1 else "protocol"
        lines.append(
            f"- each diff is against the supervised arm of the same {same} ({refs}); simple baselines "
            "against the fine-tuned one"
        )
    if any(f < 1.0 for f in m.label_fractions):
        shares = ", ".join(fraction_text(f) for f in m.label_fractions)
        lines.append(
            f"- label fractions: {shares} of each training fold's labelled rows (nested subsets); each fraction is "
            "its own configuration, and pretraining saw every sequence"
        )
    lines += [f"- **{escape(line)}**" for line in audit_lines(m.data_audit)]
    if m.corpus is not None:
        lines.append(f"- {escape(corpus_text(m.corpus))}")
    if m.framing:
        lines.append(f"- framing of the neural arms: `{escape(m.framing)}` ({fmt.FRAMINGS.get(m.framing, '')})")
    if m.pretrain_on and m.pretrain_on != "train":
        lines.append(
            f"- pretraining saw `{escape(m.pretrain_on)}` sequences (transductive), not only the training fold"
        )
    if m.versions:
        lines.append("- versions: " + ", ".join(f"{escape(k)} {escape(v)}" for k, v in sorted(m.versions.items())))
    return lines


def _banners(board: Leaderboard) -> list[str]:
    return [f"> **⚠ {escape(b.kind.replace('_', ' '))}**: {escape(b.message)}\n" for b in board.banners]


def _flags(board: Leaderboard) -> list[str]:
    used = dict.fromkeys(f for r in board.rows for f in r.flags)
    return [f"- `{escape(f)}`: {fmt.FLAG_HELP.get(f, '')}" for f in used]


def _learning_curve(board: Leaderboard, h: str) -> list[str]:
    section = board.learning_curves
    if section is None:
        return []
    headers, rows, numeric = curves.table(section)
    return [f"{h} Learning curve", "", escape(curves.caption(section)), "", table(headers, rows, numeric), ""]


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _failures(board: Leaderboard, h: str, limit: int = 50) -> list[str]:
    if not board.failures:
        return []
    rows = [
        [f.label, f.protocol, str(f.fold), str(f.seed), _short(f.reason or "(no reason recorded)")]
        for f in board.failures[:limit]
    ]
    out = [f"{h} Failures", "", table(["configuration", "protocol", "fold", "seed", "reason"], rows)]
    if len(board.failures) > limit:
        out.append(f"\n… and {len(board.failures) - limit} more (see leaderboard.json).")
    return out + [""]


def _peptides(board: Leaderboard, h: str, limit: int = 20) -> list[str]:
    t = board.per_peptide
    if t is None or not t.keys:
        return []
    ranks = {r.key: (f"#{r.rank}" if r.rank is not None else r.key) for r in board.rows}
    headers = ["peptide", "positives", *(ranks[k] for k in t.keys)]
    rows = [
        [p, str(n), *(fmt.num(t.auroc[i][j]) for i in range(len(t.keys)))]
        for j, (p, n) in enumerate(zip(t.peptides[:limit], t.n_positives[:limit]))
    ]
    more = (
        f" (the {limit} with most positives of {len(t.peptides)}; all in leaderboard.json)"
        if len(t.peptides) > limit
        else ""
    )
    return [
        f"{h} Per-peptide AUROC",
        "",
        f"Columns are the configurations by their rank (#) above. {escape(t.how)}{more}. "
        "– : no fold had enough positives.",
        "",
        table(headers, rows, [False, True, *([True] * len(t.keys))]),
        "",
    ]


def _published(board: Leaderboard, h: str) -> list[str]:
    lines = published_lines(board)
    if board.published is None:
        return []
    rows = [[x.method + (" (shortcut)" if x.shortcut else ""), x.source, score_text(x, fmt.num)] for x in lines]
    return [
        f"{h} Published results",
        "",
        escape(caption(board)),
        "",
        table(["method", "source", escape(board.published.metric)], rows, [False, False, True]),
        "",
    ]


def _dynamics(board: Leaderboard, h: str) -> list[str]:
    section = board.dynamics
    if section is None:
        return []
    out = [
        f"{h} Training dynamics",
        "",
        f"{escape(section.metric)} of the encoder at each evaluated pretraining step (mean and corrected "
        f"{section.confidence * 100:g}% CI over folds × seeds), its gain over the supervised arm paired by fold "
        f"and seed, and the pretraining loss then. Rule — {escape(section.rule)}.",
        "",
        f"> **⚠ best checkpoint**: {escape(section.warning)}.",
        "",
    ]
    for curve in section.curves:
        out += [f"{h}# {escape(curve.name)}", ""]
        out += [f"- {escape(line)}" for line in summary_lines(curve, fmt.num)] + [""]
        out += [table(dynamics_headers(section), table_rows(curve, fmt.num), [True, True, True, True, True, False]), ""]
    return out


def render_run(board: Leaderboard, level: int = 1, *, banners: bool = True) -> str:
    """One run's board; ``level`` is its heading depth, ``banners`` False where a merged board shows them."""
    h = "#" * level
    out = [f"{h} {escape(board.meta.title)}", ""]
    if banners:
        out += _banners(board)
    out += _meta_lines(board) + [""]
    for name, rows in grouped(board.rows):  # one table per section, ranks across the whole board
        out += [f"**{escape(name)}**", ""]
        out.append(table(fmt.headers(board), [fmt.cells(r, board) for r in rows], fmt.numeric(board)))
        out.append("")
    if fmt.optional_columns(board)[1]:
        out += [f"{escape(fmt.DETECTABLE_HEADER)}: {escape(fmt.DETECTABLE_HELP)}.", ""]
    flags = _flags(board)
    if flags:
        out += ["Flags:", "", *flags, ""]
    out += (
        _learning_curve(board, h + "#")
        + _published(board, h + "#")
        + _peptides(board, h + "#")
        + _dynamics(board, h + "#")
    )
    out += _failures(board, h + "#")
    return "\n".join(out).rstrip() + "\n"


def _ranking(r: Ranking, metric: str) -> list[str]:
    headers = ["mean rank", "method", "protocol", "labels", *(f"{d}" for d in r.datasets)]
    rows = []
    for row in r.rows:
        per = [
            f"{fmt.num(s)} ({fmt.num(k, 1)})" if s is not None and k is not None else fmt.num(s)
            for s, k in zip(row.scores, row.ranks)
        ]
        rows.append(
            [fmt.num(row.mean_rank, 2), row.label, row.protocol, "uses labels" if row.uses_labels else "", *per]
        )
    out = [
        f"Methods ranked per dataset by mean {escape(metric)} (rank in brackets, 1 = best), then by mean rank.",
        "",
        table(headers, rows, [True, False, False, False, *([True] * len(r.datasets))]),
        "",
    ]
    if r.friedman is not None and r.nemenyi is not None:
        f = r.friedman
        out.append(
            f"Friedman chi² = {fmt.num(f.statistic, 2)}, df = {f.df}, p = {fmt.pval(f.p)}; Iman–Davenport "
            f"F = {fmt.num(f.iman_davenport_f, 2)}, p = {fmt.pval(f.iman_davenport_p)}; Nemenyi critical "
            f"difference CD = {fmt.num(r.cd, 2)} (alpha = {r.alpha:g}, {f.n_methods} methods, "
            f"{f.n_datasets} datasets)."
        )
        if r.cliques:
            groups = "; ".join("{" + ", ".join(escape(m) for m in c) + "}" for c in r.cliques)
            out.append(f"Not shown to differ (mean ranks within CD): {groups}.")
        out.append("")
    elif r.note:
        out += [f"No Friedman test: {escape(r.note)}.", ""]
    return out


def render_markdown(board: Leaderboard) -> str:
    """The whole report: a run board, or a merged board with its ranking and one section per dataset."""
    if board.kind != "merged" or board.ranking is None:
        return render_run(board)
    out = [f"# {escape(board.meta.title)}", ""]
    out += _banners(board)
    out += ["## Ranking across datasets", ""] + _ranking(board.ranking, board.metric)
    for name, sub in zip(board.ranking.datasets, board.datasets):
        out += [f"## Dataset: {escape(name)}", "", render_run(sub, level=3, banners=False)]
    return "\n".join(out).rstrip() + "\n"
