"""Running a benchmark: configuration, the grid of cells, data preparation, evaluation and the runner."""
