"""ONNX: models from skl2onnx and the onnx helpers are safe; escaping external data, custom
domains and inconsistent tensors are reported."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, external_data_helper, helper, numpy_helper

from modelyard.scan import scan
from tests.scan.conftest import rule_ids


def _model(nodes, initializers=(), opsets=(("", 17),)):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        initializer=list(initializers),
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid(domain, v) for domain, v in opsets]
    )


def _external_model(location, offset=0, length=8):
    weight = numpy_helper.from_array(np.ones(2, dtype=np.float32), "w")
    external_data_helper.set_external_data(weight, location=location, offset=offset, length=length)
    weight.data_location = TensorProto.EXTERNAL
    weight.ClearField("raw_data")
    return _model([helper.make_node("Add", ["x", "w"], ["y"])], [weight])


def test_skl2onnx_models_are_safe(tmp_path):
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    for estimator in (LogisticRegression(max_iter=500), RandomForestClassifier(n_estimators=3)):
        model = to_onnx(estimator.fit(x, y), x[:1])
        (tmp_path / f"{type(estimator).__name__}.onnx").write_bytes(model.SerializeToString())
    report = scan(tmp_path)
    assert {(r.format, str(r.verdict)) for r in report.files} == {("onnx", "safe")}
    assert not [f for r in report.files for f in r.findings]


def test_external_data_next_to_the_model_is_safe_and_loads(tmp_path):
    (tmp_path / "weights.bin").write_bytes(np.ones(2, dtype=np.float32).tobytes())
    onnx.save(_external_model("weights.bin"), tmp_path / "model.onnx")
    onnx.load(tmp_path / "model.onnx")
    assert scan(tmp_path / "model.onnx").files[0].verdict == "safe"


def test_external_data_written_by_onnx_is_safe(tmp_path):
    weights = [numpy_helper.from_array(np.full(n, n, dtype=np.float32), f"w{n}") for n in (3, 5)]
    nodes = [
        helper.make_node("Add", ["x", "w3"], ["t"]),
        helper.make_node("Add", ["t", "w5"], ["y"]),
    ]
    onnx.save_model(
        _model(nodes, weights), tmp_path / "model.onnx", save_as_external_data=True,
        all_tensors_to_one_file=True, location="model.onnx.data", size_threshold=0,
    )  # fmt: skip
    stored = onnx.load(tmp_path / "model.onnx", load_external_data=False)
    assert [tensor.data_location for tensor in stored.graph.initializer] == [1, 1]
    report = scan(tmp_path)
    assert [(r.path.rsplit("/", 1)[-1], r.format, r.verdict) for r in report.files] == [
        ("model.onnx", "onnx", "safe"),
        ("model.onnx.data", "tensor-data", "safe"),
    ]
    assert report.files[1].findings[0].rule_id == "MY-SCN-005"
    # On its own, the data file is bytes in no format: never called safe.
    assert scan(tmp_path / "model.onnx.data").verdict == "error"


def test_a_pickle_posing_as_external_data_is_still_judged(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    onnx.save(_external_model("weights.bin", 0, 8), tmp_path / "model.onnx")
    by_name = {r.path.rsplit("/", 1)[-1]: r for r in scan(tmp_path).files}
    assert by_name["weights.bin"].verdict == "unsafe"


@pytest.mark.parametrize(
    ("offset", "length", "data_bytes", "message"),
    [
        (0, 4, 8, "length 4 does not hold its 8 bytes"),
        (4, 8, 8, "runs past the end of 'weights.bin' (8 bytes)"),
        (0, 8, 6, "runs past the end"),
    ],
)
def test_external_data_span_must_hold_the_tensor(tmp_path, offset, length, data_bytes, message):
    (tmp_path / "weights.bin").write_bytes(bytes(data_bytes))
    onnx.save(_external_model("weights.bin", offset, length), tmp_path / "model.onnx")
    result = scan(tmp_path / "model.onnx").files[0]
    assert result.verdict == "error" and rule_ids(result) == {"MY-ONX-003"}
    assert message in result.findings[0].message
    with pytest.raises(ValueError):  # what the onnx package makes of such a tensor
        numpy_helper.to_array(onnx.load(tmp_path / "model.onnx").graph.initializer[0])


@pytest.mark.parametrize("location", ["/etc/hostname", "../secret.bin", "a/../../secret.bin"])
def test_external_data_escaping_the_folder_is_unsafe(tmp_path, location):
    (tmp_path / "m").mkdir()
    onnx.save(_external_model(location), tmp_path / "m" / "model.onnx")
    result = scan(tmp_path / "m" / "model.onnx").files[0]
    assert result.verdict == "unsafe" and "MY-ONX-001" in rule_ids(result)


def test_external_data_through_a_symlink_is_unsafe(tmp_path):
    # onnx >= 1.16 refuses such links itself; older versions and other runtimes follow them.
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.array([42, 7], dtype=np.float32).tobytes())
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "weights.bin").symlink_to(secret)
    onnx.save(_external_model("weights.bin"), tmp_path / "m" / "model.onnx")
    result = scan(tmp_path / "m" / "model.onnx").files[0]
    assert result.verdict == "unsafe" and "MY-ONX-001" in rule_ids(result)


def test_custom_domain_is_suspicious_unless_a_local_function(tmp_path):
    custom = _model(
        [helper.make_node("Evil", ["x"], ["y"], domain="com.example")],
        opsets=(("", 17), ("com.example", 1)),
    )
    onnx.save(custom, tmp_path / "custom.onnx")
    result = scan(tmp_path / "custom.onnx").files[0]
    assert result.verdict == "suspicious" and rule_ids(result) == {"MY-ONX-002"}
    function = helper.make_function(
        "com.example", "Evil", ["a"], ["b"], [helper.make_node("Relu", ["a"], ["b"])],
        [helper.make_opsetid("", 17)],
    )  # fmt: skip
    custom.functions.append(function)
    onnx.save(custom, tmp_path / "local.onnx")
    assert scan(tmp_path / "local.onnx").files[0].verdict == "safe"


def test_tensor_with_wrong_byte_size_is_an_error(tmp_path):
    weight = numpy_helper.from_array(np.ones(3, dtype=np.float32), "w")
    weight.dims[:] = [4]
    onnx.save(_model([helper.make_node("Add", ["x", "w"], ["y"])], [weight]), tmp_path / "m.onnx")
    result = scan(tmp_path / "m.onnx").files[0]
    assert result.verdict == "error" and "MY-ONX-003" in rule_ids(result)


def test_truncated_onnx_is_not_safe(tmp_path):
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression

    x = np.random.default_rng(0).random((20, 3), dtype=np.float32)
    data = to_onnx(LinearRegression().fit(x, x[:, 0]), x[:1]).SerializeToString()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    assert scan(tmp_path / "cut.onnx").files[0].verdict != "safe"


def test_external_data_in_a_subfolder_of_the_model_is_its_data(tmp_path):
    folder = tmp_path / "repo" / "onnx"
    (folder / "weights").mkdir(parents=True)
    (folder / "weights" / "w.bin").write_bytes(np.ones(2, dtype=np.float32).tobytes())
    onnx.save(_external_model("weights/w.bin"), folder / "model.onnx")
    onnx.load(folder / "model.onnx")
    report = scan(tmp_path / "repo")
    assert [(r.path.rsplit("/", 1)[-1], r.format, r.verdict) for r in report.files] == [
        ("model.onnx", "onnx", "safe"),
        ("w.bin", "tensor-data", "safe"),
    ]
    assert report.files[0].data_files == ["weights/w.bin"]


def test_missing_external_data_is_reported_once_per_file(tmp_path):
    weights = [numpy_helper.from_array(np.full(n, n, dtype=np.float32), f"w{n}") for n in (3, 5)]
    nodes = [
        helper.make_node("Add", ["x", "w3"], ["t"]),
        helper.make_node("Add", ["t", "w5"], ["y"]),
    ]
    (tmp_path / "data").mkdir()
    onnx.save_model(
        _model(nodes, weights), tmp_path / "model.onnx", save_as_external_data=True,
        all_tensors_to_one_file=True, location="data/model.onnx.data", size_threshold=0,
    )  # fmt: skip
    (tmp_path / "data" / "model.onnx.data").unlink()
    with pytest.raises(onnx.checker.ValidationError):  # what the onnx package makes of it
        onnx.load(tmp_path / "model.onnx")
    result = scan(tmp_path / "model.onnx").files[0]
    assert result.verdict == "error" and [f.rule_id for f in result.findings] == ["MY-ONX-004"]
    assert "'data/model.onnx.data', which is not in the model's folder" in (
        result.findings[0].message
    )


@pytest.mark.parametrize("location", ["C:\\secrets\\key.bin", "..\\secret.bin", "//host/share/w"])
def test_windows_and_network_locations_are_unsafe(tmp_path, location):
    onnx.save(_external_model(location), tmp_path / "model.onnx")
    result = scan(tmp_path / "model.onnx").files[0]
    assert result.verdict == "unsafe" and rule_ids(result) == {"MY-ONX-001"}
