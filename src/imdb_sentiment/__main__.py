"""`python -m imdb_sentiment ARGS`: the imdb-sentiment command."""

from imdb_sentiment.apps.launcher import command

command()
