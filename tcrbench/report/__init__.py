"""Leaderboards from result rows: the board (model, rows, pairing, build), its renderers and reporters.

Start at tcrbench.report.board (load_board, build_board); docs/reports.md maps every module to its job.
"""
