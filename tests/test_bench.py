"""The spectral benchmark's two methods measure the same spectrum, and it reports the fastest repeat."""
import json

import pytest

from nfl_utils import bench


def case(capsys, method, repeat):
    bench.main(["_case", method, "3000", "48", "5", "cpu", str(repeat)])
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_stream_and_svd_cases_agree_and_the_fastest_repeat_is_reported(capsys):
    st, sv = case(capsys, "stream", 3), case(capsys, "svd", 2)
    assert st["rho1"] == pytest.approx(sv["rho1"], rel=1e-10)
    assert st["pistar_C"] == pytest.approx(sv["pistar_C"], abs=1e-10)
    assert len(st["all_seconds"]) == 3 and len(sv["all_seconds"]) == 2
    assert st["seconds"] == min(st["all_seconds"]) and sv["seconds"] == min(sv["all_seconds"])
    assert 0 <= st["dlr"] <= 1
