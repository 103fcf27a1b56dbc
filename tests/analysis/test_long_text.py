"""analysis/long_text.py: the report's long-review section from bench/long_text.py's files."""

import json

from imdb_sentiment.analysis.long_text import long_text_blocks, long_text_finding, read_long_text


def write(folder, name, run, modes, sample=None):
    result = {"run": run, "modes": modes, "longest_quarter": {"reviews": 6267}}
    if sample:
        result["sample_of_longest_quarter"] = sample
    (folder / name).write_text(json.dumps(result))


def test_each_model_is_judged_on_its_largest_set_of_long_reviews(tmp_path):
    write(tmp_path, "a.json", "runs/bilstm", {
        "truncate": {"accuracy_longest_quarter": 0.88, "reviews_per_s_longest_quarter": 400.0},
        "windows": {"accuracy_longest_quarter": 0.90, "reviews_per_s_longest_quarter": 100.0,
                    "mcnemar_p_vs_truncate_longest_quarter": 0.01}})
    write(tmp_path, "b.json", "runs/big", {
        "truncate": {"accuracy_longest_quarter_sample": 0.90, "reviews_per_s_longest_quarter": 12.0},
        "windows_max": {"accuracy_longest_quarter_sample": 0.93, "reviews_per_s_longest_quarter": 3.0,
                        "mcnemar_p_vs_truncate": 1e-5}}, sample=2000)
    write(tmp_path, "c.json", "runs/big", {
        "truncate": {"accuracy_longest_quarter_sample": 0.95, "reviews_per_s_longest_quarter": 12.0}}, sample=400)
    rows = read_long_text(tmp_path)
    assert [(r["model"], r["reviews"], r["sample"]) for r in rows] == [
        ("bilstm", 6267, False), ("big", 2000, True), ("big", 400, True)]
    finding = long_text_finding(rows)
    assert "bilstm goes from 88.00% truncated to 90.00% averaging its windows' margins (McNemar p = 0.01" in finding
    assert "big goes from 90.00% truncated to 93.00% trusting its surest window" in finding and "0.25x" in finding
    header, table = long_text_blocks(rows)[2][1:]
    assert header[-3:] == ["truncated (as trained)", "windows, mean margin", "windows, surest"]
    assert table[2][-2:] == ["-", "-"]


def test_no_files_no_section(tmp_path):
    assert read_long_text(tmp_path / "missing") == [] and long_text_blocks([]) == []
    assert long_text_finding([]) is None
