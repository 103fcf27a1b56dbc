import zipfile

import numpy as np
import pytest

from imdb_sentiment.core.text import Vocab
from imdb_sentiment.models.embeddings import EmbeddingError, load_glove

GLOVE_TXT = "the 0.1 0.2 0.3\ngood 1.0 1.0 1.0\nat&t x 0.5 0.5 0.5\nbad -1.0 -1.0 -1.0\n"


def vocab():
    return Vocab(["<pad>", "<unk>", "the", "good", "missing", "at&t x"])


def test_text_file_of_any_dimension_with_coverage(tmp_path):
    path = tmp_path / "glove.test.3d.txt"
    path.write_text(GLOVE_TXT)
    glove = load_glove(vocab(), str(path))
    assert glove.matrix.shape == (6, 3)
    np.testing.assert_allclose(glove.matrix[3], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(glove.matrix[5], [0.5, 0.5, 0.5])  # a word with a space in it
    assert not glove.matrix[0].any()  # <pad> stays zero
    assert glove.matched == 3 and glove.coverage == pytest.approx(3 / 4)


def test_zip_with_several_members_needs_one_named(tmp_path):
    archive = tmp_path / "glove.6B.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("glove.6B.3d.txt", GLOVE_TXT)
        zf.writestr("glove.6B.2d.txt", "the 9 9\n")
    with pytest.raises(EmbeddingError, match="name one"):
        load_glove(vocab(), str(archive))
    glove = load_glove(vocab(), f"{archive}:glove.6B.2d.txt")
    assert glove.matrix.shape == (6, 2) and glove.matched == 1


def test_bad_files_are_reported(tmp_path):
    with pytest.raises(EmbeddingError, match="not found"):
        load_glove(vocab(), str(tmp_path / "nope.txt"))
    bad = tmp_path / "bad.txt"
    bad.write_text("the 0.1 0.2\ngood 0.1 oops\n")
    with pytest.raises(EmbeddingError, match="line 2"):
        load_glove(vocab(), str(bad))
    unrelated = tmp_path / "other.txt"
    unrelated.write_text("zebra 0.1 0.2\n")
    with pytest.raises(EmbeddingError, match="no word of the vocabulary"):
        load_glove(vocab(), str(unrelated))


def test_packaged_glove_6b_50d():
    glove = load_glove(Vocab(["<pad>", "<unk>", "the", "n't", "qwzxv"]))
    assert glove.matrix.shape == (5, 50)
    np.testing.assert_allclose(glove.matrix[2][:3], [0.418, 0.24968, -0.41242], rtol=1e-5)  # glove.6B.50d "the"
    assert glove.matched == 2
