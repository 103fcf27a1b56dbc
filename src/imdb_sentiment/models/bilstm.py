"""The BiLSTM sentiment classifier, with three ways to run its LSTM over padded batches, and its saved runs.

- "padded_exact": the fast CPU path. Each direction runs the plain padded LSTM kernel; the backward direction
  reads every review reversed within its own length, so padding never enters a review's state. Outputs equal
  `pack_padded_sequence` to float precision at a fraction of its CPU cost.
- "packed": `pack_padded_sequence`, the textbook path and the right one on CUDA (cuDNN handles it natively).
- "naive": the padded batch straight through `nn.LSTM`, reading the output at the last padded position:
  the forward state has then run through all the padding. It is here to show the collapse that causes.

All three share one `nn.LSTM`'s weights, so a model trained with one encoder runs with another.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from imdb_sentiment.core import runs
from imdb_sentiment.core.config import BiLSTMArgs, BiLSTMConfig
from imdb_sentiment.core.data import Reviews
from imdb_sentiment.core.text import PAD_ID, Vocab
from imdb_sentiment.models.batches import EncodedReviews, encode_texts

ENCODERS = ("padded_exact", "packed", "naive")
POOLINGS = ("final", "max")


def padding_mask(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """(B, T) True on real tokens."""
    return torch.arange(max_length, device=lengths.device)[None, :] < lengths[:, None]


def final_states(per_direction: list[torch.Tensor], lengths: torch.Tensor) -> torch.Tensor:
    """(B, T, H) outputs per direction, each in the order it read the reviews -> (B, 2H): each direction's output at
    a review's own last real step."""
    last = (lengths - 1)[:, None, None].expand(-1, 1, per_direction[0].size(-1))  # (B, 1, H)
    return torch.cat([out.gather(1, last).squeeze(1) for out in per_direction], dim=-1)


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence's first `length` steps, leaving its padding where it is. Its own inverse."""
    steps = torch.arange(x.size(1), device=x.device)[None, :]  # (1, T)
    index = torch.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)  # (B, T)
    return x.gather(1, index[:, :, None].expand_as(x))


class BiLSTMEncoder(nn.Module):
    # The naive encoder as one LSTM per direction rather than one bidirectional LSTM: what OpenVINO's int8 rewrite
    # needs (quantize.py).
    split_directions = False

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0,
                 mode: str = "padded_exact"):
        super().__init__()
        if mode not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {mode!r}")
        self.mode = mode
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True, bidirectional=True,
                            dropout=dropout if num_layers > 1 else 0.0)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, E), lengths (B,) -> outputs (B, T, 2H) with zeros on padding, final states (B, 2H)."""
        if self.mode == "packed":
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            outputs, (h_n, _) = self.lstm(packed)
            outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=x.size(1))
            return outputs, torch.cat([h_n[-2], h_n[-1]], dim=-1)
        if self.mode == "naive":
            if self.split_directions:
                whole = torch.full_like(lengths, x.size(1))  # every review as long as the batch: the same outputs
                outputs = self._aligned(*self._padded_exact_directions(x, whole), whole)
            else:
                outputs, _ = self.lstm(x)
            return outputs, outputs[:, -1]
        return self._padded_exact(x, lengths)

    def pool(self, x: torch.Tensor, lengths: torch.Tensor, pooling: str) -> torch.Tensor:
        """x (B, T, E), lengths (B,) -> (B, 2H): each direction's max over a review's own steps, or its final state.

        Padded-exact pools each direction where it ran, the backward one still reversed within each review's length:
        a max over a review's steps and its last step need no realignment. Skipping the (B, T, 2H) gather, concat and
        masking, and their backward, saves about a tenth of a CPU training step.
        """
        if self.mode == "padded_exact":
            per_direction = self._padded_exact_directions(x, lengths)
            if pooling == "final":
                return final_states(per_direction, lengths)
        else:
            outputs, final = self(x, lengths)
            if pooling == "final":
                return final
            per_direction = [outputs]
        # Adding -inf on padding keeps it out of the max and costs nothing in the backward pass.
        padding = torch.zeros(x.shape[:2], dtype=x.dtype, device=x.device)
        padding = padding.masked_fill_(~padding_mask(lengths, x.size(1)), float("-inf"))[:, :, None]  # (B, T, 1)
        return torch.cat([(out + padding).amax(dim=1) for out in per_direction], dim=-1)

    def _padded_exact(self, x, lengths):
        per_direction = self._padded_exact_directions(x, lengths)
        return self._aligned(*per_direction, lengths), final_states(per_direction, lengths)

    def _padded_exact_directions(self, x, lengths) -> list[torch.Tensor]:
        """The last layer's (B, T, H) outputs per direction; the backward one reversed within each review's length."""
        layer_input = x
        for layer in range(self.lstm.num_layers):
            if layer > 0:
                layer_input = F.dropout(self._aligned(*directions, lengths), self.lstm.dropout, self.training)
            directions = [self._run_direction(layer_input, f"l{layer}"),
                          self._run_direction(reverse_within_length(layer_input, lengths), f"l{layer}_reverse")]
        return directions

    @staticmethod
    def _aligned(forward_out, backward_out, lengths):
        """(B, T, 2H) outputs as pad_packed_sequence gives them: in reading order, zeros on padding."""
        mask = padding_mask(lengths, forward_out.size(1))[:, :, None].to(forward_out.dtype)
        return torch.cat([forward_out, reverse_within_length(backward_out, lengths)], dim=-1) * mask

    def _run_direction(self, x: torch.Tensor, name: str) -> torch.Tensor:
        # torch.lstm is the op behind nn.LSTM.forward; calling it per direction lets the backward direction see
        # reviews reversed within their lengths while keeping nn.LSTM's parameters and state-dict layout.
        params = [getattr(self.lstm, f"{kind}_{name}") for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        zeros = x.new_zeros(1, x.size(0), self.lstm.hidden_size)
        out, _, _ = torch.lstm(x, (zeros, zeros), params, True, 1, 0.0, self.training, False, True)
        return out


class BiLSTMClassifier(nn.Module):
    """Embedding -> BiLSTM -> pooled states -> one logit (positive review)."""

    def __init__(self, vocab_size: int, embedding_dim: int = 50, hidden_size: int = 256, num_layers: int = 1,
                 dropout: float = 0.5, pooling: str = "max", encoder: str = "padded_exact",
                 pretrained: torch.Tensor | None = None, freeze_embeddings: bool = False):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.pooling = pooling
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD_ID)
        if pretrained is not None:
            self.embedding.weight.data.copy_(torch.as_tensor(pretrained))
        self.embedding.weight.requires_grad_(not freeze_embeddings)
        self.dropout = nn.Dropout(dropout)
        self.encoder = BiLSTMEncoder(embedding_dim, hidden_size, num_layers, dropout, encoder)
        self.head = nn.Linear(2 * hidden_size, 1)

    def forward(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """input_ids (B, T), lengths (B,) -> logits (B,)."""
        embedded = self.dropout(self.embedding(input_ids))  # (B, T, E)
        pooled = self.encoder.pool(embedded, lengths, self.pooling)  # (B, 2H)
        return self.head(self.dropout(pooled)).squeeze(-1)


def count_parameters(model: nn.Module) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"params": total, "trainable_params": trainable}


def build_model(args: BiLSTMArgs, vocab_size: int, pretrained: np.ndarray | None = None) -> BiLSTMClassifier:
    embedding_dim = pretrained.shape[1] if pretrained is not None else args.embedding_dim
    return BiLSTMClassifier(vocab_size, embedding_dim, args.hidden_size, args.num_layers, args.dropout,
                            args.pooling, args.encoder, pretrained, args.freeze_embeddings)


def encode(reviews: Reviews, vocab: Vocab, args: BiLSTMArgs) -> EncodedReviews:
    return EncodedReviews(encode_texts(reviews.texts, vocab, args.max_length, args.truncation), reviews.labels)


def save_weights(model: torch.nn.Module, path: str | Path) -> None:
    """The model's weights as safetensors, each tensor copied to its own CPU storage: on CUDA the LSTM's weights are
    views into one flat cuDNN buffer, which `safetensors.torch.save_model` (and `load_model`) refuse."""
    save_file({name: t.detach().to("cpu", copy=True).contiguous() for name, t in model.state_dict().items()},
              str(path))


def load_weights(model: torch.nn.Module, path: str | Path) -> None:
    """Weights saved by `save_weights` (or in half precision, as the built-in model's) copied into `model`'s own
    tensors, on whatever device they are."""
    model.load_state_dict(load_file(str(path)))


def load_bilstm_run(run_dir: str | Path, encoder: str | None = None):
    """(model, vocab, config) of a finished BiLSTM run; `encoder` swaps the LSTM path (e.g. "packed" on CUDA).
    Weights stored in half precision (the built-in model's) are loaded into float32."""
    run_dir = runs.resolve(run_dir)
    cfg = runs.load_run_config(run_dir, "bilstm", BiLSTMConfig, "model.safetensors")
    if encoder:
        cfg.model.encoder = encoder
    vocab = Vocab.load(run_dir / "vocab.json")
    model = build_model(cfg.model, len(vocab), np.zeros((len(vocab), _embedding_dim(run_dir)), np.float32)
                        if cfg.model.embeddings == "glove" else None)
    load_weights(model, run_dir / "model.safetensors")
    return model.eval(), vocab, cfg


def _embedding_dim(run_dir: Path) -> int:
    from safetensors import safe_open

    with safe_open(str(run_dir / "model.safetensors"), "pt") as f:
        return f.get_slice("embedding.weight").get_shape()[1]
