"""Train, measure and explain sentiment classifiers on IMDB."""

__version__ = "0.1.0"
