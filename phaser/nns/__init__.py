"""Nearest-neighbour search over libraries of known crystals (``phaser nns build``).

:mod:`~phaser.nns.embedding` turns a pattern into a vector, :mod:`~phaser.nns.library`
builds, stores and searches libraries; the ``nns`` initializer
(:class:`phaser.initializers.nns.NNSInit`) starts a reconstruction from the nearest entries.
"""

from phaser.nns.embedding import EMBEDDINGS, EncoderEmbedding, FeatureEmbedding, make_embedding
from phaser.nns.library import LIBRARY_FORMAT, Library, build_library, load_library

__all__ = ["EMBEDDINGS", "EncoderEmbedding", "FeatureEmbedding", "LIBRARY_FORMAT", "Library",
           "build_library", "load_library", "make_embedding"]
