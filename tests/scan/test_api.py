"""``scan()`` over files and folders, and ``modelyard.scan`` as a callable."""

from __future__ import annotations

import collections
import pickle

import pytest

import modelyard
from modelyard.scan import ScanError, ScanOptions, scan, scan_file


def test_module_is_callable(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps([1, 2]))
    assert modelyard.scan(path).verdict == "safe"
    assert modelyard.scan.scan(path).verdict == "safe"


def test_folders_are_walked_and_the_worst_verdict_wins(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "README.md").write_text("# a model\n")
    (tmp_path / "sub" / "weights").write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    report = scan(tmp_path)
    assert [result.format for result in report.files] == ["text", "pickle"]
    assert report.verdict == "unsafe"
    assert report.exit_code() == 1


def test_parallel_scan_gives_the_same_results(tmp_path):
    for index in range(10):
        (tmp_path / f"f{index}.pkl").write_bytes(pickle.dumps(list(range(index))))
    serial = scan(tmp_path)
    parallel = scan(tmp_path, jobs=2)
    assert [r.to_dict() for r in serial.files] == [r.to_dict() for r in parallel.files]


def test_missing_path_raises(tmp_path):
    with pytest.raises(ScanError, match="does not exist"):
        scan(tmp_path / "nope")


def test_empty_file_is_safe_and_unknown_binary_is_an_error(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "noise").write_bytes(bytes(range(256)) * 4)
    report = scan(tmp_path)
    verdicts = {r.path.rsplit("/", 1)[-1]: (r.format, str(r.verdict)) for r in report.files}
    assert verdicts == {"empty": ("empty", "safe"), "noise": ("unknown", "error")}
    assert report.exit_code() == 2


def test_strict_exit_code_counts_suspicious(tmp_path):
    (tmp_path / "custom.pkl").write_bytes(b"\x80\x04\x8c\x05mylib\x8c\x01C\x93)R.")
    report = scan(tmp_path)
    assert report.verdict == "suspicious"
    assert report.exit_code() == 0
    assert report.exit_code(strict=True) == 1


def test_nesting_limit(tmp_path):
    import gzip

    data = pickle.dumps([1])
    for _ in range(5):
        data = gzip.compress(data)
    path = tmp_path / "deep.gz"
    path.write_bytes(data)
    assert scan(path).verdict == "safe"
    limited = scan(path, options=ScanOptions(max_nesting=3))
    assert {f.rule_id for f in limited.findings} == {"MY-SCN-003"}


def test_only_the_named_suffixes_change_how_a_file_is_read(tmp_path):
    """``named_suffix`` lists every ending a reader goes by (the hub keys results on it)."""
    from modelyard.scan.formats import NAMED_SUFFIXES, named_suffix

    samples = [
        b"import os\nos.getcwd()\n",
        b'layer { name: "d" type: "Input" }\n',
        bytes(256),
        b"target: nemo.collections.asr.models.EncDecCTCModel\n",
    ]
    endings = (*NAMED_SUFFIXES, ".txt", ".json", ".bin", ".pkl", ".pt", ".md", ".yaml", ".h5")
    changed: set[str] = set()
    for index, content in enumerate(samples):
        path = tmp_path / f"blob{index}"
        path.write_bytes(content)
        plain = scan_file(path, name="file").format
        names = {e: f"file{e}" if e.startswith(".") else e for e in endings}
        changed |= {e for e in endings if scan_file(path, name=names[e]).format != plain}
        # a whole name is matched whole
        assert scan_file(path, name="old_model_config.yaml").format == plain
        assert named_suffix("old_model_config.yaml") == ""
    assert changed == set(NAMED_SUFFIXES)


def test_every_import_of_every_pickle_is_listed_once_with_its_safety(tmp_path):
    from modelyard.scan.report import FileResult, ImportSafety, PickleImport
    from tests.scan.conftest import zipped

    evil = b"cos\nsystem\n(S'true'\ntR."
    odd = b"\x80\x02cmypackage.layers\nDense\n)\x81."
    plain = pickle.dumps(collections.OrderedDict(a=1), protocol=2)
    path = tmp_path / "bundle.zip"
    path.write_bytes(zipped({"a.pkl": plain, "b.pkl": evil, "c.pkl": odd, "d.pkl": plain}))
    result = scan_file(path)
    assert result.imports == [
        PickleImport("collections", "OrderedDict", ImportSafety.INNOCUOUS),
        PickleImport("os", "system", ImportSafety.DANGEROUS),
        PickleImport("mypackage.layers", "Dense", ImportSafety.SUSPICIOUS),
    ]
    assert FileResult.from_dict(result.to_dict()).imports == result.imports
