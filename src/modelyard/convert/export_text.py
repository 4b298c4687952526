"""The TF-IDF features of text columns in ONNX: the words scikit-learn finds, found the same way,
weighted in double precision.

scikit-learn lowercases with ``str.lower`` and takes the words of ``(?u)\\b\\w\\w+\\b``: every
longest run of two or more word characters, which are the letters, digits and ``_`` of any
script. onnxruntime's tokenizer takes RE2 patterns, whose ``\\w`` is ASCII only, so the words are
found by the Unicode classes instead; its lowercasing needs a UTF-8 locale, named here (C.UTF-8
is built into glibc). Checked on every code point below U+30000: the lowercasings differ only
where Python's depends on the context or gives two characters (a final capital sigma, a dotted
capital I), and the words only on characters newer than Python's Unicode database.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator, TransformerMixin

from modelyard.convert.converter_graph import ConverterGraph
from modelyard.convert.errors import ConvertError

_WORDS = r"(?u)\b\w\w+\b"
_WORDS_RE2 = r"[\p{L}\p{N}_]{2,}"
_LOCALE = "C.UTF-8"
# The settings the converter reproduces, as the package's preprocessing makes them.
_SETTINGS = {
    "analyzer": "word",
    "token_pattern": _WORDS,
    "tokenizer": None,
    "preprocessor": None,
    "strip_accents": None,
    "lowercase": True,
    "ngram_range": (1, 1),
    "binary": False,
    "use_idf": True,
    "sublinear_tf": False,
    "norm": "l2",
}


class TextFeatures(TransformerMixin, BaseEstimator):
    """A fitted ``TfidfVectorizer`` whose output is in ``double`` precision (else float32)."""

    def __init__(self, vectorizer: Any = None, double: bool = False) -> None:
        self.vectorizer = vectorizer
        self.double = double


def text_features(vectorizer: Any, column: str, double: bool) -> TextFeatures:
    """``vectorizer`` (of ``column``) as our converter takes it.

    Raises:
        ConvertError: a setting differs from those the converter reproduces.
    """
    differing = [name for name, value in _SETTINGS.items() if getattr(vectorizer, name) != value]
    if differing:
        raise ConvertError(
            f"the TF-IDF features of column {column!r} have custom settings "
            f"({', '.join(differing)}), which ONNX export does not cover",
            hint="export covers the TF-IDF features modelyard's preprocessing makes",
        )
    return TextFeatures(vectorizer, double)


def _shape(operator: Any) -> None:
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    wrapper = operator.raw_operator
    tensor = DoubleTensorType if wrapper.double else FloatTensorType
    operator.outputs[0].type = tensor([None, len(wrapper.vectorizer.vocabulary_)])


def _convert(scope: Any, operator: Any, container: Any) -> None:
    """Lowercase, find the words, count the known ones (float32 holds counts exactly), then
    weigh by the idf and scale each row to unit length in double precision; a row without a
    known word stays zero."""
    import numpy as np
    from onnx import TensorProto

    graph = ConverterGraph(scope, container)
    vectorizer = operator.raw_operator.vectorizer
    words = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
    texts = graph.node("Reshape", [operator.inputs[0].full_name, graph.constant("flat", [-1])])
    lowered = graph.node("StringNormalizer", [texts], case_change_action="LOWER", locale=_LOCALE)
    tokens = graph.node(
        "Tokenizer",
        [lowered],
        op_domain="com.microsoft",
        op_version=1,
        mark=0,
        mincharnum=1,
        pad_value="#",
        tokenexp=_WORDS_RE2,
    )
    counts = graph.node(
        "TfIdfVectorizer",
        [tokens],
        mode="TF",
        min_gram_length=1,
        max_gram_length=1,
        max_skip_count=0,
        ngram_counts=[0],
        ngram_indexes=list(range(len(words))),
        pool_strings=words,
    )
    idf = np.asarray(vectorizer.idf_, dtype=np.float64)
    weighted = graph.node(
        "Mul", [graph.node("Cast", [counts], to=TensorProto.DOUBLE), graph.constant("idf", idf)]
    )
    length = graph.node("Sqrt", [graph.node("ReduceSumSquare", [weighted], axes=[1], keepdims=1)])
    tiny = graph.constant("tiny", np.asarray([np.finfo(np.float64).tiny]))
    scaled = graph.node("Div", [weighted, graph.node("Max", [length, tiny])])
    graph.cast_to_output(scaled, operator.outputs[0])


def register() -> None:
    """Register the ``TextFeatures`` converter with skl2onnx."""
    from skl2onnx import update_registered_converter

    update_registered_converter(TextFeatures, "ModelyardTextFeatures", _shape, _convert)
