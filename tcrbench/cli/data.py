"""`tcrbench data synth` and `tcrbench data inspect`: make the default dataset, look at any dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from tcrbench.errors import UsageError

# The library's defaults, spelt out so that `--help` needs neither polars nor the data layer (a test holds them equal
# to tcrbench.data.schema.DEFAULT_MAX_LEN, tcrbench.data.synthetic's DEFAULT_* and synthetic_corpus.DEFAULT_CORPUS).
DEFAULT_MAX_LEN = 30
DEFAULT_PEPTIDES, DEFAULT_POSITIVES, DEFAULT_NEGATIVE_RATIO, DEFAULT_DIFFICULTY = 16, 24, 3, 0.5
DEFAULT_CORPUS = 20_000

app = typer.Typer(
    help="Make the synthetic default dataset, or check and summarise a table of TCR-peptide pairs.",
    no_args_is_help=True,
)

ColumnsOpt = Annotated[
    Optional[str],
    typer.Option(
        "--columns",
        help="Which column is which, e.g. peptide=antigen,cdr3b=TCR,label=interaction; "
        "FIELD= leaves an optional field (cdr3a, cdr1a, cdr2a, cdr1b, cdr2b, mhc) out.",
    ),
]
Cdr3Opt = Annotated[
    Literal["keep", "strip"],
    typer.Option(
        "--cdr3",
        help="keep CDR3s as written, or strip the conserved leading C and trailing F/W (where both are "
        "present) so IMGT-style and NetTCR-style tables line up.",
    ),
]
LowercaseOpt = Annotated[
    bool, typer.Option("--lowercase", help="Upper-case lowercase sequences instead of rejecting them.")
]
MaxLenOpt = Annotated[int, typer.Option("--max-len", min=1, help="Longest sequence accepted.")]
DuplicatesOpt = Annotated[
    Literal["keep", "drop", "error"],
    typer.Option(
        "--duplicates", help="Repeated (peptide, TCR) pairs: keep and count them, drop all but the first, or fail."
    ),
]


@app.command()
def synth(
    out: Annotated[Path, typer.Argument(help="File to write: .csv, .tsv or .parquet.")],
    n_peptides: Annotated[int, typer.Option("--n-peptides", min=1, help="Number of peptides.")] = DEFAULT_PEPTIDES,
    positives: Annotated[int, typer.Option("--positives", min=1, help="Binders per peptide.")] = DEFAULT_POSITIVES,
    negative_ratio: Annotated[
        int, typer.Option("--negative-ratio", min=1, help="Non-binders per binder.")
    ] = DEFAULT_NEGATIVE_RATIO,
    difficulty: Annotated[
        float, typer.Option("--difficulty", min=0.0, max=1.0, help="0: clean planted rule; 1: much noise.")
    ] = DEFAULT_DIFFICULTY,
    negatives: Annotated[
        Literal["swapped", "background"],
        typer.Option(
            "--negatives",
            help="swapped: other peptides' binders (no TCR-only shortcut); background: a separate "
            "pool of TCRs (reproduces the shortcut of real data).",
        ),
    ] = "swapped",
    seed: Annotated[int, typer.Option("--seed", help="Same seed and options, same file.")] = 0,
    corpus: Annotated[
        Optional[Path],
        typer.Option(
            "--corpus",
            help="Also write an unlabelled pretraining corpus for this table (a known-answer control; see --control).",
        ),
    ] = None,
    control: Annotated[
        Literal["positive", "negative"],
        typer.Option(
            "--control",
            help="positive: the corpus CDR3s carry the table's binding motifs; negative: matched CDR3s without them.",
        ),
    ] = "positive",
    corpus_size: Annotated[int, typer.Option("--corpus-size", min=1, help="Rows of the corpus.")] = DEFAULT_CORPUS,
) -> None:
    """Write the synthetic default dataset (deterministic from --seed), and optionally a control corpus."""
    from tcrbench.data.readers import write_table
    from tcrbench.data.synthetic import synthesize
    from tcrbench.data.synthetic_corpus import control_corpus

    frame = synthesize(
        n_peptides=n_peptides,
        n_positives_per_peptide=positives,
        negative_ratio=negative_ratio,
        difficulty=difficulty,
        negatives=negatives,
        seed=seed,
    )
    if corpus is not None and corpus.resolve() == out.resolve():
        raise UsageError(f"--corpus {corpus}: the same file as the table")
    write_table(frame, out)
    typer.echo(
        f"wrote {frame.height:,} rows ({n_peptides} peptides, 1:{negative_ratio}, {negatives} negatives, "
        f"difficulty {difficulty:g}, seed {seed}) to {out}"
    )
    if corpus is not None:
        rows = control_corpus(control, corpus_size, n_peptides=n_peptides, difficulty=difficulty, seed=seed)
        write_table(rows, corpus)
        typer.echo(f"wrote a {control}-control corpus of {rows.height:,} unlabelled CDR3s to {corpus}")


@app.command()
def inspect(
    path: Annotated[Path, typer.Argument(help="CSV, TSV or Parquet table.")],
    columns: ColumnsOpt = None,
    cdr3: Cdr3Opt = "keep",
    lowercase: LowercaseOpt = False,
    max_len: MaxLenOpt = DEFAULT_MAX_LEN,
    duplicates: DuplicatesOpt = "keep",
    as_json: Annotated[bool, typer.Option("--json", help="Print the full summary as JSON.")] = False,
    top: Annotated[int, typer.Option("--top", min=0, help="Peptides shown in the table; 0 shows all.")] = 10,
    table_format: Annotated[
        Optional[str],
        typer.Option(
            "--format",
            help="Database export to convert: vdjdb[:min_score=1], mcpas, airr, scirpy, or none (default: detected).",
        ),
    ] = None,
    binders_only: Annotated[
        bool, typer.Option("--binders-only", help="A table of binders only (no label column), as --negatives reads.")
    ] = False,
) -> None:
    """Validate a table and summarise it: classes per peptide, lengths, duplicates, shortcut warning."""
    # the summary includes the shortcut and leak audit (tcrbench.data.audit) in text and under "audit" in --json
    from tcrbench.data.inspect import inspect_table, render_text
    from tcrbench.data.readers import load_table

    loaded = load_table(
        path,
        columns=columns,
        cdr3=cdr3,
        lowercase=lowercase,
        max_len=max_len,
        duplicates=duplicates,
        positives_only=binders_only,
        table_format=table_format,
    )
    summary = inspect_table(loaded.frame, loaded.report)
    typer.echo(json.dumps(summary, indent=2) if as_json else render_text(summary, top=top))
