"""tcrbench: an honest benchmark for self-supervised pretraining in TCR-peptide binding prediction."""

__version__ = "0.1.0"
