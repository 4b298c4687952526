"""The allow and deny lists."""

from __future__ import annotations

from importlib import resources

import pytest

from modelyard.scan.pickle.values import Global
from modelyard.scan.policy import SINK_REASONS, Judgement, judge
from modelyard.scan.sinks import DATA_FILE, SINK_KINDS


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch", "FloatStorage"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "dtype"),
        ("collections", "OrderedDict"),
        ("sklearn.linear_model._logistic", "LogisticRegression"),
        ("sklearn.tree._tree", "Tree"),
        ("pandas.core.internals.managers", "BlockManager"),
        ("xgboost.sklearn", "XGBClassifier"),
        ("builtins", "set"),
    ],
)
def test_what_real_models_need_is_allowed(module, name):
    assert judge(Global(module, name)).judgement is Judgement.ALLOWED


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("os", "system"),
        ("posix", "system"),
        ("nt", "system"),
        ("subprocess", "Popen"),
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("builtins", "getattr"),
        ("builtins", "__import__"),
        ("builtins", "open"),
        ("runpy", "run_path"),
        ("importlib", "import_module"),
        ("pkgutil", "resolve_name"),
        ("operator", "attrgetter"),
        ("operator", "methodcaller"),
        ("functools", "partial"),
        ("types", "FunctionType"),
        ("marshal", "loads"),
        ("ctypes", "CDLL"),
        ("cProfile", "run"),
        ("timeit", "timeit"),
        ("pdb", "run"),
        ("code", "InteractiveInterpreter"),
        ("pydoc", "locate"),
        ("imaplib", "IMAP4_stream"),
        ("uuid", "_get_command_stdout"),
        ("multiprocessing.util", "spawnv_passfds"),
        ("pip", "main"),
        ("webbrowser", "open"),
        ("socket", "create_connection"),
        ("shutil", "rmtree"),
        ("torch", "load"),
        ("torch.hub", "load"),
        ("torch.storage", "_load_from_bytes"),
        ("joblib", "load"),
        ("numpy", "load"),
        ("pandas", "read_pickle"),
        ("pickle", "loads"),
        ("dill._dill", "_create_code"),
        ("sklearn.datasets", "fetch_openml"),
        ("pandas", "HDFStore"),
        ("pandas", "ExcelWriter"),
        ("sklearn.callback", "ScoringMonitor"),
        ("sklearn.callback._transport", "Listener"),
        ("torch", "serialization.os.system"),
        ("numpy", "testing._private.utils.os.system"),
    ],
)
def test_gadgets_are_denied_with_a_reason(module, name):
    decision = judge(Global(module, name))
    assert decision.judgement is Judgement.DENIED
    assert decision.reason


@pytest.mark.parametrize(
    ("module", "name"),
    [("mylib.layers", "Custom"), ("torch.nn.modules.linear", "linear"), ("numpy", "frompyfunc")],
)
def test_anything_else_is_unknown(module, name):
    assert judge(Global(module, name)).judgement is Judgement.UNKNOWN


def test_every_sink_kind_has_a_reason():
    assert set(SINK_REASONS) == set(SINK_KINDS)


@pytest.mark.parametrize(
    ("module", "name", "sink"),
    [
        ("_osx_support", "_read_output", "os.system"),
        ("torch.utils.collect_env", "run", "subprocess.Popen"),
        ("scipy.io", "savemat", "builtins.open"),
    ],
)
def test_a_global_that_reaches_a_sink_is_denied_with_its_path(module, name, sink):
    decision = judge(Global(module, name))
    assert decision.judgement is Judgement.DENIED
    assert decision.path[0] == f"{module}.{name}" and decision.path[-1] == sink
    assert sink in decision.reason and " → ".join(decision.path) in decision.reason


def test_no_allowed_global_reaches_a_sink():
    """The allow list's families leave out every callable the sinks table lists."""
    lines = resources.files("modelyard.scan.data").joinpath(DATA_FILE).read_text().splitlines()
    listed = [line.split("\t")[0] for line in lines if not line.startswith("#")]
    allowed = []
    for qualname in listed:
        parts = qualname.split(".")
        for end in range(1, len(parts)):
            found = Global(".".join(parts[:end]), ".".join(parts[end:]))
            if judge(found).judgement is Judgement.ALLOWED:
                allowed.append(found.qualname)
    assert not allowed
