"""Inputs that used to cost a traceback, lost rows or gigabytes: each now gets its own error, or is bounded."""
import json
import subprocess
import sys

import pytest

from imdb_sentiment.apps.cli import main
from imdb_sentiment.core.text import MAX_REVIEW_CHARS, clip
from imdb_sentiment.inference.io import iter_items, read_items


def test_a_csv_row_with_an_extra_field_gets_its_own_error(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('review,label\n"good film",pos,extra\n"bad film",neg\n')
    first, second = read_items(file=str(path), column="review")
    assert "3 fields, the header names 2" in first.error and second.text == "bad film"
    assert read_items(file=str(path), column="missing")[1].error == "no column 'missing' (columns: review, label)"


def test_a_csv_field_past_the_csv_modules_limit_is_read_and_the_rows_after_it_too(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text('text,label\n"' + "a " * 100_000 + '",pos\nfine film,pos\n')
    items = read_items(file=str(path))
    assert [item.error for item in items] == [None, None] and items[1].text == "fine film"


def test_a_huge_one_line_review_keeps_both_ends_in_bounded_memory(tmp_path):
    path = tmp_path / "one_line.txt"
    with open(path, "w") as f:
        f.write("start " + "filler " * 3_000_000 + "the end\nsecond review\n")  # 21 MB on one line
    first, second = iter_items(file=str(path))
    assert first.text.startswith("start filler") and first.text.endswith("filler the end")
    assert len(first.text) <= 2 * MAX_REVIEW_CHARS + 1 and second.text == "second review"


def test_predicting_a_200_mb_line_stays_small(tmp_path):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:
        block = b"a dull and tedious film " * 40_000  # about 1 MB
        for _ in range(200):
            f.write(block)
        f.write(b"\n")
    code = ("import resource, sys; from imdb_sentiment.apps.cli import main; rc = main(['predict', '--file', sys.argv[1],"
            " '--json']); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, file=sys.stderr);"
            " sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["predictions"]["builtin"]["truncated"] is True
    assert int(result.stderr.strip().splitlines()[-1]) < 1500  # MB of peak memory, the model included


def test_clip_keeps_short_reviews_whole():
    assert clip("short review") == "short review"
    assert clip("x" * 10 + "y" * 10, max_chars=10) == "xxxxx yyyyy"


def test_a_folder_without_reviews_is_an_error_not_silence(tmp_path, capsys):
    assert main(["predict", "--file", str(tmp_path)]) == 2
    assert "holds no .txt files" in capsys.readouterr().err


def test_shards_split_a_file_between_processes(tmp_path, capsys):
    path = tmp_path / "reviews.txt"
    path.write_text("".join(f"review number {k}\n" for k in range(7)))
    sources = []
    for shard in ("0/3", "1/3", "2/3"):
        assert main(["predict", "--file", str(path), "--shard", shard, "--json"]) == 0
        sources += [json.loads(line)["source"] for line in capsys.readouterr().out.splitlines()]
    assert sorted(sources, key=lambda s: int(s.split(":")[1])) == [f"reviews.txt:{k}" for k in range(1, 8)]
    with pytest.raises(SystemExit):
        main(["predict", "--file", str(path), "--shard", "3/3"])


def test_probe_into_an_unwritable_place_prints_its_table_then_one_error_line(tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    assert main(["probe", "--run", "builtin", "--cases", "3", "--out", str(tmp_path / "a_file" / "out")]) == 2
    out, err = capsys.readouterr()
    assert "negated positive" in out and len(err.strip().splitlines()) == 1 and "the table above" in err


def test_training_under_a_file_is_one_error_line(tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    assert main(["train", "tfidf", "--output_dir", str(tmp_path / "a_file" / "run")]) == 2
    assert "cannot write to" in capsys.readouterr().err


def test_evaluate_prints_before_saving_so_a_read_only_run_loses_nothing(imdb_dir, tmp_path, capsys, monkeypatch):
    from imdb_sentiment.core import runs

    assert main(["train", "tfidf", "--data", str(imdb_dir), "--allow_partial_dataset", "--min_df", "1", "--C", "1",
                 "--output_dir", str(tmp_path / "run")]) == 0
    capsys.readouterr()

    def read_only(path, document):
        raise runs.RunError(f"cannot write {path}: Read-only file system")

    monkeypatch.setattr(runs, "write_json", read_only)
    assert main(["evaluate", str(tmp_path / "run")]) == 0
    out, err = capsys.readouterr()
    assert "accuracy" in out and "Read-only file system; the metrics above were not saved" in err
