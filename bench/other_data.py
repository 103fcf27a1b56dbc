"""Labelled sentiment sets from outside IMDB, for `evaluate --data` and compare's `extra_eval`.

    python bench/other_data.py --out .cache/other_data

The human-rated snippets of Hutto & Gilbert (2014, "VADER", ICWSM), which the `vaderSentiment` 3.3.2 source
distribution on PyPI ships (MIT licence): at least 20 raters scored each snippet from -4 (extremely negative) to +4.
Three sets, each written as a CSV with `text`, `label` (pos/neg) and the raters' mean `rating`:

- `rt_snippets.csv`: sentences of Rotten Tomatoes reviews (Pang & Lee 2004): the same domain, one sentence at a time;
- `amazon_snippets.csv`: sentences of Amazon product reviews (Hu & Liu 2004): another domain;
- `tweets.csv`: tweets: another genre.

A snippet is kept when the raters lean clearly one way, a mean rating of at least 1 in either direction (the
scale's first step off neutral); the others have no binary label to score. The archive is fetched with `pip
download` (or read from `--sdist`) and checked against its SHA-256.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

SDIST = "vaderSentiment-3.3.2.tar.gz"
SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
SETS = {"rt_snippets": "movieReviewSnippets_GroundTruth.txt",
        "amazon_snippets": "amazonReviewSnippets_GroundTruth.txt",
        "tweets": "tweets_GroundTruth.txt"}
MIN_ABS_RATING = 1.0


def fetch_sdist(directory: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q",
                    "-d", str(directory), "vaderSentiment==3.3.2"], check=True)
    return directory / SDIST


def ground_truth_files(sdist: Path) -> dict[str, str]:
    """{file name: text} of the rated snippets inside the source distribution's nested archive."""
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f"{sdist}: SHA-256 {digest}, expected {SDIST_SHA256}")
    with tarfile.open(sdist) as outer:
        inner_bytes = outer.extractfile("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz").read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        return {name: inner.extractfile(f"hutto_ICWSM_2014/{name}").read().decode("utf-8", errors="replace")
                for name in SETS.values()}


def labelled_rows(text: str) -> list[dict]:
    """Rows `id<TAB>mean rating<TAB>snippet` -> {text, label, rating} for the clearly rated snippets."""
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        _, rating, snippet = line.split("\t", 2)
        rating = float(rating)
        if abs(rating) >= MIN_ABS_RATING and snippet.strip():
            rows.append({"text": snippet.strip(), "label": "pos" if rating > 0 else "neg", "rating": rating})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=".cache/other_data", help="folder for the CSV files")
    parser.add_argument("--sdist", help=f"a local {SDIST} instead of downloading it")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        files = ground_truth_files(Path(args.sdist) if args.sdist else fetch_sdist(Path(tmp)))
    for name, source in SETS.items():
        rows = labelled_rows(files[source])
        with open(out / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=["text", "label", "rating"])
            writer.writeheader()
            writer.writerows(rows)
        positive = sum(r["label"] == "pos" for r in rows)
        print(f"{out / name}.csv: {len(rows)} snippets ({positive} pos, {len(rows) - positive} neg) from {source}")


if __name__ == "__main__":
    main()
