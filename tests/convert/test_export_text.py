"""``export_text``: TF-IDF features in ONNX find scikit-learn's words in every script."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")

from modelyard.convert import export_text
from modelyard.learn.backends.onnx import OnnxModel

# Python lowercases these with context (a final sigma) or into two characters.
_LOWERED_OTHERWISE = {"\u0130", "\u03a3"}


def test_words_of_every_script_are_found_and_weighted_as_scikit_learn_does():
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import StringTensorType
    from sklearn.feature_extraction.text import TfidfVectorizer

    known = [
        chr(point)
        for point in range(0x21, 0x30000, 11)
        if unicodedata.category(chr(point)) not in ("Cn", "Cs", "Co")
        and chr(point) not in _LOWERED_OTHERWISE
    ]
    # Runs of characters of every kind (letters, digits, marks, punctuation) and doubled ones.
    texts = [
        "".join(known[start : start + 30])
        + " "
        + " ".join(char * 2 for char in known[start : start + 30]).upper()
        for start in range(0, len(known), 30)
    ]
    vectorizer = TfidfVectorizer().fit(texts)
    export_text.register()
    exported = to_onnx(
        export_text.text_features(vectorizer, "text", double=True),
        initial_types=[("text", StringTensorType([None, 1]))],
        target_opset={"": 15, "ai.onnx.ml": 3},
    )

    features = OnnxModel(exported.SerializeToString(), "regression").outputs(
        np.asarray(texts, dtype=object).reshape(-1, 1)
    )
    (values,) = features.values()
    assert len(vectorizer.vocabulary_) > 1000
    np.testing.assert_allclose(values, vectorizer.transform(texts).toarray(), atol=1e-12)
