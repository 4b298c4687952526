"""The allow-list unpickler modelyard uses when it must read a pickle itself."""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest

from modelyard.scan import ForbiddenGlobalError, safe_loads


def test_loads_allow_listed_objects():
    value = {"a": np.arange(3), "b": OrderedDict(x=1), "c": {1, 2}}
    loaded = safe_loads(pickle.dumps(value))
    assert loaded["b"] == value["b"] and loaded["c"] == value["c"]
    assert (loaded["a"] == value["a"]).all()


def test_old_protocols_map_python2_names():
    assert safe_loads(pickle.dumps({1, 2}, protocol=0)) == {1, 2}


def test_refuses_a_gadget_without_running_it(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with pytest.raises(ForbiddenGlobalError, match="system"):
        safe_loads(pickle.dumps(Payload()))
    assert not marker.exists()


def test_refuses_unknown_classes():
    with pytest.raises(ForbiddenGlobalError, match="allow list"):
        safe_loads(pickle.dumps(pytest.MonkeyPatch))
