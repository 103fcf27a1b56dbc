import pytest
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from imdb_sentiment.models.bilstm import BiLSTMClassifier, BiLSTMEncoder, reverse_within_length


def reference(encoder, x, lengths):
    """Textbook packed bidirectional LSTM with the encoder's weights."""
    lstm = nn.LSTM(x.size(-1), encoder.lstm.hidden_size, encoder.lstm.num_layers, batch_first=True,
                   bidirectional=True)
    lstm.load_state_dict(encoder.lstm.state_dict())
    out, (h_n, _) = lstm(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
    return out, torch.cat([h_n[-2], h_n[-1]], -1)


@pytest.mark.parametrize("num_layers", [1, 2])
def test_padded_exact_equals_pack_padded_sequence(num_layers):
    torch.manual_seed(num_layers)
    encoder = BiLSTMEncoder(6, 8, num_layers, dropout=0.3).eval()
    x = torch.randn(5, 12, 6, requires_grad=True)
    lengths = torch.tensor([12, 1, 5, 9, 12])
    expected_out, expected_final = reference(encoder, x, lengths)
    out, final = encoder(x, lengths)
    torch.testing.assert_close(out, expected_out, atol=1e-5, rtol=0)
    torch.testing.assert_close(final, expected_final, atol=1e-5, rtol=0)
    assert not out[1, 1:].any()  # padding positions are zero, as pad_packed_sequence leaves them
    # Gradients flow through the same arithmetic too.
    (grad,) = torch.autograd.grad(out.sum() + final.sum(), x)
    (expected_grad,) = torch.autograd.grad(expected_out.sum() + expected_final.sum(), x)
    torch.testing.assert_close(grad, expected_grad, atol=1e-5, rtol=0)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("pooling", ["max", "final"])
def test_pooling_without_realignment_equals_pooling_packed_outputs(num_layers, pooling):
    torch.manual_seed(num_layers)
    encoder = BiLSTMEncoder(6, 8, num_layers).eval()
    x = torch.randn(4, 11, 6, requires_grad=True)
    lengths = torch.tensor([11, 1, 7, 4])
    out, final = reference(encoder, x, lengths)
    if pooling == "max":  # the reviews' own steps only: LSTM outputs are negative too, so padding's zeros would win
        expected = torch.stack([out[i, :n].amax(0) for i, n in enumerate(lengths)])
    else:
        expected = final
    pooled = encoder.pool(x, lengths, pooling)
    torch.testing.assert_close(pooled, expected, atol=1e-5, rtol=0)
    (grad,) = torch.autograd.grad(pooled.sum(), x)
    (expected_grad,) = torch.autograd.grad(expected.sum(), x)
    torch.testing.assert_close(grad, expected_grad, atol=1e-5, rtol=0)
    encoder.mode = "packed"
    torch.testing.assert_close(encoder.pool(x, lengths, pooling), expected, atol=1e-5, rtol=0)


def test_packed_mode_is_the_reference_and_naive_is_not():
    torch.manual_seed(0)
    encoder = BiLSTMEncoder(4, 5).eval()
    x, lengths = torch.randn(3, 10, 4), torch.tensor([10, 2, 6])
    encoder.mode = "packed"
    torch.testing.assert_close(encoder(x, lengths)[1], reference(encoder, x, lengths)[1])
    encoder.mode = "naive"
    naive_final = encoder(x, lengths)[1]
    expected = reference(encoder, x, lengths)[1]
    torch.testing.assert_close(naive_final[0, :5], expected[0, :5])  # full-length review: forward state agrees
    assert (naive_final[1] - expected[1]).abs().max() > 1e-3  # padded review: it read the padding


def test_reverse_within_length_is_its_own_inverse():
    x = torch.arange(12.0).reshape(2, 6, 1)
    lengths = torch.tensor([6, 3])
    flipped = reverse_within_length(x, lengths)
    assert flipped[1, :, 0].tolist() == [8.0, 7.0, 6.0, 9.0, 10.0, 11.0]
    torch.testing.assert_close(reverse_within_length(flipped, lengths), x)


def test_classifier_shapes_freezing_and_padding_invariance():
    torch.manual_seed(0)
    pretrained = torch.randn(20, 4)
    model = BiLSTMClassifier(20, 4, 6, pretrained=pretrained, freeze_embeddings=True).eval()
    assert not model.embedding.weight.requires_grad
    torch.testing.assert_close(model.embedding.weight.data, pretrained)
    ids = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]])
    logits = model(ids, torch.tensor([3, 5]))
    assert logits.shape == (2,)
    # Extra padding changes nothing for a padding-correct model.
    wider = torch.cat([ids, torch.zeros(2, 4, dtype=torch.long)], 1)
    torch.testing.assert_close(model(wider, torch.tensor([3, 5])), logits, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="pooling"):
        BiLSTMClassifier(20, pooling="mean")
