"""The under-training banner: a supervised neural arm near chance, or far below a simple baseline."""

from __future__ import annotations

from tcrbench.report.board import build_board


def kinds(board):
    return [b for b in board.banners if b.kind == "undertrained"]


def test_near_chance_supervised_arm_raises_the_banner_with_its_numbers(make_rows):
    rows = make_rows({("supervised", "finetune"): [[0.51, 0.49, 0.52]], ("pre", "finetune"): [[0.53, 0.50, 0.52]],
                      ("logreg_kmer", "baseline"): [[0.55, 0.56, 0.54]]})
    banners = kinds(build_board(rows))
    assert len(banners) == 1
    message = banners[0].message
    assert message.startswith("The neural arms are under-trained; a pretraining comparison here says little")
    assert "0.507" in message and "within 0.03 of chance" in message


def test_far_below_the_best_simple_baseline_raises_it_too(make_rows):
    rows = make_rows({("supervised", "finetune"): [[0.70, 0.71, 0.69]], ("pre", "finetune"): [[0.72, 0.70, 0.71]],
                      ("logreg_kmer", "baseline"): [[0.85, 0.86, 0.84]]})
    banners = kinds(build_board(rows))
    assert len(banners) == 1 and "0.150 below the simple baseline logreg_kmer (0.850)" in banners[0].message


def test_a_competent_supervised_arm_raises_none(make_rows):
    rows = make_rows({("supervised", "finetune"): [[0.80, 0.81, 0.79]], ("pre", "finetune"): [[0.82, 0.80, 0.81]],
                      ("logreg_kmer", "baseline"): [[0.85, 0.86, 0.84]]})
    assert kinds(build_board(rows)) == []
