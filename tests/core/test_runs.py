from imdb_sentiment.core import runs


def test_a_checkpoint_written_in_part_is_skipped_on_resume(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    for step, state in ((5, '{"global_step": 5}'), (10, None), (12, '{"global_st')):
        folder = checkpoints / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        if state is not None:
            (folder / "trainer_state.json").write_text(state)
    assert runs.latest_trainer_checkpoint(checkpoints) == str(checkpoints / "checkpoint-5")
    assert runs.latest_trainer_checkpoint(tmp_path / "none") is None


def test_the_recorded_command_reads_as_typed_after_the_allocator_reexecution(monkeypatch):
    from imdb_sentiment.core.runs import command_line

    monkeypatch.setattr("sys.argv", ["/venv/lib/site-packages/imdb_sentiment/apps/cli.py", "train", "bilstm", "--x", "a b"])
    assert command_line() == "imdb-sentiment train bilstm --x 'a b'"
    monkeypatch.setattr("sys.argv", ["/venv/bin/imdb-sentiment", "predict"])
    assert command_line() == "imdb-sentiment predict"
    monkeypatch.setattr("sys.argv", ["bench/kill_resume.py", "--runs", "2"])
    assert command_line() == "bench/kill_resume.py --runs 2"
