import json

import numpy as np

from sidkit.core import DataType
from sidkit.core.provenance import jsonable, make_record


def test_record_has_process_parameters_package_version_and_time():
    rec = make_record("sidkit.core.x", {"n": np.int64(3), "kind": DataType.IMAGE})
    assert rec["process"] == "sidkit.core.x"
    assert rec["parameters"] == {"n": 3, "kind": "IMAGE"}
    assert rec["package"] == "sidkit-core" and rec["version"] not in ("", "unknown")
    assert "T" in rec["time"]
    json.dumps(rec)


def test_jsonable_summarises_large_arrays():
    assert jsonable(np.zeros((100, 100))) == "<array float64 (100, 100)>"
    assert jsonable({"a": (1, 2), "b": b"x"}) == {"a": [1, 2], "b": "x"}
