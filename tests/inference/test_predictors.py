import json
import shutil

import numpy as np
import pytest

from imdb_sentiment.apps.cli import main
from imdb_sentiment.core.runs import RunError
from imdb_sentiment.inference import predictors as predict
from imdb_sentiment.inference.evaluate import predict_items
from imdb_sentiment.inference.io import Item, read_items
from imdb_sentiment.inference.predictors import load_predictor, teacher_logits


@pytest.fixture(scope="module")
def predictors(bilstm_run, transformer_run):
    return [load_predictor(bilstm_run), load_predictor(transformer_run)]


def test_one_interface_over_both_kinds_with_per_item_errors(predictors):
    texts = ["A great, wonderful, superb film.", "", "   ", 42, "An awful, terrible, boring waste."]
    for predictor in predictors:
        results = predictor.predict(texts)
        assert [r.error for r in results] == [None, "empty review", "empty review", "not text (got int)", None]
        assert results[0].label == "positive" and results[0].p_positive > 0.5
        assert results[4].label == "negative" and results[4].p_positive < 0.5


def test_long_reviews_are_truncated_and_say_so(predictors):
    long_review = " ".join(["great film"] * 200)
    for predictor in predictors:
        assert predictor.predict([long_review, "great film"])[0].truncated
        assert not predictor.predict(["great film"])[0].truncated


def test_batching_does_not_change_predictions(bilstm_run):
    texts = [f"the film was {'great ' * n}and {'awful ' * (5 - n)}" for n in range(6)]
    one_by_one = [load_predictor(bilstm_run, batch_size=1).predict([t])[0].p_positive for t in texts]
    batched = [r.p_positive for r in load_predictor(bilstm_run, batch_size=4).predict(texts)]
    assert batched == pytest.approx(one_by_one, abs=1e-5)


def test_bilstm_inference_pads_to_few_shapes_without_changing_predictions(bilstm_run, monkeypatch):
    # Every new (batch, length) shape costs memory that oneDNN keeps, so a server must meet few of them.
    texts = [" ".join(["great"] * n + ["dull"] * (n % 3)) for n in range(1, 40)]
    monkeypatch.setattr(predict, "PAD_MULTIPLE", 1)
    exact = [r.p_positive for r in load_predictor(bilstm_run, batch_size=7).predict(texts)]
    monkeypatch.setattr(predict, "PAD_MULTIPLE", 16)
    predictor = load_predictor(bilstm_run, batch_size=7)
    widths = []
    predictor.model.register_forward_pre_hook(lambda module, args: widths.append(args[0].shape[1]))
    rounded = [r.p_positive for r in predictor.predict(texts)]
    assert rounded == pytest.approx(exact, abs=1e-5)
    assert widths and all(w % 16 == 0 for w in widths)


def test_file_readers_name_bad_items(tmp_path):
    txt = tmp_path / "reviews.txt"
    txt.write_bytes(b"good one\n\xff\xfe broken\n\n")
    items = read_items(file=str(txt))
    assert [i.source for i in items] == ["reviews.txt:1", "reviews.txt:2", "reviews.txt:3"]
    assert items[1].error.startswith("reviews.txt line 2: not UTF-8") and items[2].text == ""
    csv_file = tmp_path / "r.csv"
    # a spreadsheet's BOM before the header, and one row with bytes that are not UTF-8
    csv_file.write_bytes(b'\xef\xbb\xbfreview,id\ngreat,1\n"bad \xff byte",2\n"two\nlines",3\n')
    items = read_items(file=str(csv_file), column="review")
    assert [i.text for i in items] == ["great", None, "two\nlines"]
    assert items[1].error == "r.csv row 3: not UTF-8" and items[0].error is None and items[2].error is None
    assert "no column 'text'" in read_items(file=str(csv_file))[0].error
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text('{"text": "fine"}\n{"text": 3}\nnot json\n{"other": 1}\n')
    items = read_items(file=str(jsonl))
    assert items[0].text == "fine" and items[1].text == 3
    assert items[2].error.startswith("invalid JSON") and items[3].error == "no field 'text'"
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("multi\nline review")
    (folder / "b.txt").write_bytes(b"\xff")
    items = read_items(file=str(folder))
    assert items[0].text == "multi\nline review" and "not UTF-8" in items[1].error


def test_predict_items_keeps_reading_errors(predictors):
    records = predict_items([Item("x", None, "bad bytes"), Item("y", "great superb")], predictors)
    assert all(p == {"error": "bad bytes"} for p in records[0]["predictions"].values())
    assert {p["label"] for p in records[1]["predictions"].values()} == {"positive"}


def test_cli_json_lines_text_and_stdin(bilstm_run, transformer_run, capsys, monkeypatch):
    assert main(["predict", "--run", str(bilstm_run), "--run", str(transformer_run), "--json",
                 "Wonderful and moving.", ""]) == 1
    captured = capsys.readouterr()
    assert "1 of 2 reviews could not be labelled" in captured.err
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert lines[0]["predictions"][bilstm_run.name]["label"] == "positive"
    assert lines[1]["predictions"][transformer_run.name] == {"error": "empty review"}

    import io
    import sys
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"awful terrible\nsuperb great\n")))
    assert main(["predict", "--run", str(bilstm_run)]) == 0
    out = capsys.readouterr().out
    assert "stdin:1" in out and "negative" in out and "stdin:2" in out and "positive" in out


def test_cli_rejects_bad_runs_clearly(tmp_path, bilstm_run, capsys):
    assert main(["predict", "--run", str(tmp_path), "hello"]) == 2
    assert "not a run directory" in capsys.readouterr().err
    old = tmp_path / "old"
    old.mkdir()
    (old / "run.json").write_text('{"kind": "bilstm", "format_version": 0}')
    assert main(["predict", "--run", str(old), "hello"]) == 2
    assert "incompatible version" in capsys.readouterr().err
    assert main(["predict", "--run", str(bilstm_run), "--file", str(tmp_path / "none.txt")]) == 2
    assert "input not found" in capsys.readouterr().err


def test_cli_names_unfinished_and_corrupt_runs(tmp_path, bilstm_run, capsys):
    unfinished = tmp_path / "unfinished"
    shutil.copytree(bilstm_run, unfinished, ignore=shutil.ignore_patterns("model.safetensors"))
    assert main(["predict", "--run", str(unfinished), "hello"]) == 2
    assert "training never finished" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt"
    shutil.copytree(bilstm_run, corrupt)
    (corrupt / "model.safetensors").write_bytes(b"cut short")
    assert main(["predict", "--run", str(corrupt), "hello"]) == 2
    assert "cannot load the saved model" in capsys.readouterr().err
    (corrupt / "run.json").write_text('{"kind": "bil')
    assert main(["evaluate", str(corrupt)]) == 2
    assert "run.json is not valid JSON" in capsys.readouterr().err


@pytest.mark.parametrize("fixture", ["bilstm_run", "transformer_run"])
def test_int8_predictions_follow_the_float_model(fixture, request, imdb_dir):
    from imdb_sentiment.core.data import load_splits

    run = request.getfixturevalue(fixture)
    texts = load_splits(str(imdb_dir), allow_partial=True)["test"].texts[:40]
    full, int8 = load_predictor(run), load_predictor(run, quantize="int8")
    assert int8.name == f"{full.name}-int8" and int8.quantized == "int8"
    p_full = np.array([p.p_positive for p in full.predict(texts)])
    p_int8 = np.array([p.p_positive for p in int8.predict(texts)])
    assert not np.array_equal(p_full, p_int8)  # the weights really are int8 ...
    # ... and close to the float model's. int8 on a tiny, briefly trained model can move a review that sits near
    # 0.5 by several points (0.08 seen in CI), so the bound is on the typical change, not the largest.
    assert np.abs(p_full - p_int8).mean() < 0.02
    assert ((p_full >= 0.5) == (p_int8 >= 0.5)).mean() >= 0.9


def test_evaluate_reads_pos_neg_folders_csv_and_jsonl(bilstm_run, tmp_path, capsys):
    from imdb_sentiment.inference.evaluate import evaluate_labelled

    for label, word in (("pos", "wonderful superb"), ("neg", "awful boring")):
        (tmp_path / "set" / label).mkdir(parents=True)
        for i in range(3):
            (tmp_path / "set" / label / f"{i}.txt").write_text(f"The film was {word}.\nIt really was {word}.")
    result = evaluate_labelled(bilstm_run, tmp_path / "set")
    assert result["n"] == 6 and not result["skipped"] and result["accuracy_ci95"][0] <= result["accuracy"]

    (tmp_path / "set.csv").write_text("review,sentiment\n\"Superb, wonderful.\",Positive\nAwful and dull.,0\n"
                                      "Loved it,TRUE\n")
    result = evaluate_labelled(bilstm_run, tmp_path / "set.csv", "review", "sentiment")
    assert result["n"] == 3 and sum(result["confusion"].values()) == 3

    (tmp_path / "set.jsonl").write_text('{"text": "wonderful", "label": "pos"}\n{not json\n'
                                        '{"text": "", "label": "neg"}\n{"text": "awful", "label": "negative"}\n')
    result = evaluate_labelled(bilstm_run, tmp_path / "set.jsonl")
    assert result["n"] == 2 and [s["source"] for s in result["skipped"]] == ["set.jsonl:2", "set.jsonl:3"]

    assert main(["evaluate", str(bilstm_run), "--data", str(tmp_path / "set.jsonl"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 2


def test_evaluate_names_an_unknown_label_and_its_line(bilstm_run, tmp_path, capsys):
    (tmp_path / "bad.csv").write_text("text,label\ngood film,pos\nodd film,meh\n")
    assert main(["evaluate", str(bilstm_run), "--data", str(tmp_path / "bad.csv")]) == 2
    assert "bad.csv:3: label 'meh' in column 'label'" in capsys.readouterr().err


@pytest.mark.parametrize("fixture", ["bilstm_run", "transformer_run"])
def test_bf16_predictions_follow_the_float_model_and_are_never_the_runs_own(fixture, request, imdb_dir, capsys):
    import torch

    from imdb_sentiment.core.data import load_splits
    from imdb_sentiment.inference.evaluate import test_scores

    if not (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()):
        pytest.skip("this CPU has no native bf16")
    run = request.getfixturevalue(fixture)
    test = load_splits(str(imdb_dir), allow_partial=True)["test"]
    full, bf16 = load_predictor(run), load_predictor(run, precision="bf16")
    assert bf16.name == f"{full.name}-bf16" and bf16.changed and not full.changed
    p_full = np.array([p.p_positive for p in full.predict(test.texts[:40])])
    p_bf16 = np.array([p.p_positive for p in bf16.predict(test.texts[:40])])
    assert not np.array_equal(p_full, p_bf16)  # the matrix multiplies really ran in bf16 ...
    assert np.abs(p_full - p_bf16).mean() < 0.02  # ... and stay close to fp32's
    saved = np.load(run / "test_probabilities.npy")
    assert not np.array_equal(test_scores(bf16, test), saved)  # scored afresh, not read from the run
    assert np.array_equal(np.load(run / "test_probabilities.npy"), saved)  # and the run's own left alone
    assert main(["predict", "--run", str(run), "--precision", "bf16", "A great film."]) == 0
    assert f"{full.name}-bf16: positive" in capsys.readouterr().out


def test_int8_and_bf16_together_are_refused(bilstm_run):
    with pytest.raises(RunError, match="choose one"):
        load_predictor(bilstm_run, quantize="int8", precision="bf16")


def test_teacher_logits_follow_the_input_order(transformer_run):
    texts = ["short", "a much longer review " * 10, "mid length review here"]
    logits = teacher_logits(transformer_run, texts, batch_size=2, progress=False)
    one_by_one = np.concatenate([teacher_logits(transformer_run, [t], progress=False) for t in texts])
    assert logits.shape == (3, 2) and np.allclose(logits, one_by_one, atol=1e-4)
    assert teacher_logits(transformer_run, [], progress=False).shape == (0, 2)  # a student without copies


def test_windows_cover_a_long_review_and_the_margin_is_their_mean(bilstm_run, transformer_run):
    from imdb_sentiment.core.text import windows

    assert windows(list(range(10)), 4) == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    assert windows([1, 2], 4) == [[1, 2]]
    long = "A dull plot, " * 30 + "but a superb, wonderful, moving ending."
    for run in (bilstm_run, transformer_run):
        plain, whole, surest = (load_predictor(run, long_text=m) for m in ("truncate", "windows", "windows_max"))
        per_window = whole.in_length_order(whole._encode_windows([long])[0], whole._margins)
        assert len(per_window) > 1 and plain.predict([long])[0].truncated
        assert whole.predict([long])[0].margin == pytest.approx(per_window.mean(), abs=1e-5)
        assert surest.predict([long])[0].margin == pytest.approx(per_window[np.argmax(np.abs(per_window))], abs=1e-5)
        short = "A fine film."
        assert whole.predict([short])[0].margin == pytest.approx(plain.predict([short])[0].margin, abs=1e-5)
    with pytest.raises(RunError, match="--long_text"):
        load_predictor(bilstm_run, long_text="all")
