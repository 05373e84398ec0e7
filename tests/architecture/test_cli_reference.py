"""docs/cli-reference.md is generated from the typer app; this test fails when the page and the code disagree."""

from __future__ import annotations

from pathlib import Path

from tcrbench.cli.reference import reference

PAGE = Path(__file__).resolve().parents[2] / "docs" / "cli-reference.md"


def test_committed_reference_matches_the_command() -> None:
    expected = reference()
    assert PAGE.read_text() == expected, (
        "docs/cli-reference.md is out of date: run `python -m tcrbench.cli.reference > docs/cli-reference.md`"
    )


def test_reference_lists_every_command_and_option() -> None:
    text = reference()
    for heading in ("## `tcrbench run`", "## `tcrbench report`", "## `tcrbench data inspect`",
                    "## `tcrbench stats compare`"):
        assert heading in text
    for option in ("`--aug`", "`--objective`", "`--encoder`", "`--seeds`", "`--out`"):
        assert option in text


def test_a_new_option_changes_the_reference() -> None:
    import typer

    app = typer.Typer()

    @app.command()
    def hello(name: str = typer.Option("x", "--name", help="Who to greet.")) -> None:
        """Say hello."""

    text = reference(app)
    assert "`--name`" in text and "Who to greet." in text and "`x`" in text
