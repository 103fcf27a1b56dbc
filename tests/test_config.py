from pathlib import Path

import pytest

from imdb_sentiment.cli import build_parser
from imdb_sentiment.compare import CONFIG_CLASSES, config_kind
from imdb_sentiment.config import (BiLSTMConfig, CompareConfig, ConfigError, TfidfConfig, TransformerConfig,
                                   load_config, overrides_from_namespace)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
MODEL_CONFIGS = sorted(p for p in CONFIGS.glob("*.toml") if p.name != "compare.toml")


@pytest.mark.parametrize("path", MODEL_CONFIGS, ids=lambda p: p.name)
def test_every_model_config_loads_and_starts_with_its_command(path):
    kind = config_kind(path)
    config = load_config(CONFIG_CLASSES[kind], path)
    assert path.read_text().startswith(f"# imdb-sentiment train {kind} --config configs/{path.name}")
    assert config.train.output_dir.startswith("runs/")
    assert isinstance(config, {"bilstm": BiLSTMConfig, "tfidf": TfidfConfig, "transformer": TransformerConfig}[kind])


def test_the_comparison_lists_every_model_config():
    compare = load_config(CompareConfig, CONFIGS / "compare.toml").compare
    assert (CONFIGS / "compare.toml").read_text().startswith("# imdb-sentiment compare --config configs/compare.toml")
    listed = {Path(p).name for p in compare.configs}
    assert listed == {p.name for p in MODEL_CONFIGS} - {"distilbert.toml"}  # distilbert needs the Hub and a GPU
    assert compare.configs == CompareConfig().compare.configs


def test_variants_differ_only_where_they_should():
    glove = load_config(BiLSTMConfig, CONFIGS / "bilstm_glove.toml").model
    frozen = load_config(BiLSTMConfig, CONFIGS / "bilstm_glove_frozen.toml").model
    naive = load_config(BiLSTMConfig, CONFIGS / "bilstm_naive.toml").model
    scratch = load_config(BiLSTMConfig, CONFIGS / "bilstm_scratch.toml").model
    assert (glove.embeddings, glove.freeze_embeddings, glove.encoder) == ("glove", False, "padded_exact")
    assert frozen.freeze_embeddings and scratch.embeddings == "random"
    assert (naive.encoder, naive.pooling, naive.pad_to_max_length) == ("naive", "final", True)


def test_cli_flags_override_the_file(tmp_path):
    args = build_parser().parse_args(["train", "bilstm", "--config", str(CONFIGS / "bilstm_glove.toml"),
                                      "--batch_size", "8", "--max_train_samples", "none", "--freeze_embeddings",
                                      "true"])
    config = load_config(BiLSTMConfig, args.config, overrides_from_namespace(args))
    assert config.train.batch_size == 8 and config.train.output_dir == "runs/bilstm-glove"
    assert config.data.max_train_samples is None and config.model.freeze_embeddings is True
    bare = build_parser().parse_args(["train", "bilstm", "--resume", "--freeze_embeddings", "false"])
    config = load_config(BiLSTMConfig, None, overrides_from_namespace(bare))
    assert config.train.resume is True and config.model.freeze_embeddings is False


def test_bad_files_and_values_are_reported(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nhiden_size = 3\n")
    with pytest.raises(ConfigError, match=r"unknown field\(s\) \['hiden_size'\] in \[model\]"):
        load_config(BiLSTMConfig, bad)
    bad.write_text("[optimizer]\nlr = 1\n")
    with pytest.raises(ConfigError, match="unknown section"):
        load_config(BiLSTMConfig, bad)
    with pytest.raises(ConfigError, match="encoder must be one of"):
        load_config(BiLSTMConfig, overrides={"model.encoder": "cudnn"})
    with pytest.raises(ConfigError, match="not found"):
        load_config(BiLSTMConfig, tmp_path / "missing.toml")
