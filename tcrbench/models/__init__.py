"""Encoders' shared parts and heads: transformer and CNN encoders, pooling, classifier and objective heads."""

from tcrbench.models.cnn import CNNConfig, CNNEncoder
from tcrbench.models.heads import ClassifierHead, MLMHead, ProjectionHead, classification_loss
from tcrbench.models.pooling import POOLINGS, pool
from tcrbench.models.transformer import TransformerConfig, TransformerEncoder

__all__ = [
    "POOLINGS",
    "CNNConfig",
    "CNNEncoder",
    "ClassifierHead",
    "MLMHead",
    "ProjectionHead",
    "TransformerConfig",
    "TransformerEncoder",
    "classification_loss",
    "pool",
]
