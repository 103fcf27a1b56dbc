import pytest

from imdb_sentiment.apps import launcher
from imdb_sentiment.core import allocator

FAKE = "/opt/lib/libtcmalloc_minimal.so.4"


@pytest.fixture
def installed(monkeypatch):
    monkeypatch.setattr(allocator, "find_library", lambda name: FAKE if name == "tcmalloc" else None)
    monkeypatch.setattr(allocator.sys, "platform", "linux")


def test_the_command_reexecutes_itself_once_with_the_new_environment(installed, monkeypatch):
    calls = []
    monkeypatch.setattr(launcher.os, "execve", lambda path, argv, env: calls.append((argv, env)))
    monkeypatch.setattr(launcher.os, "environ", {"PATH": "/bin"})
    monkeypatch.setattr(launcher.sys, "argv", ["imdb-sentiment", "predict", "fine film"])
    with pytest.raises(SystemExit):  # execve is faked, so the command then runs here: predict with the builtin
        launcher.command()
    (argv, env), = calls
    assert argv[1:] == ["-m", "imdb_sentiment.apps.cli", "predict", "fine film"] and env["LD_PRELOAD"] == FAKE
