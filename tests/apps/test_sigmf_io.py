"""SigMF file path (issue 18): never modifies an existing file; metadata validated, errors name the file."""

import hashlib

import numpy as np
import pytest

from gnuradio.deepquant.apps import sigmf_io


def _digest(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_capture_without_metadata_is_left_untouched(tmp_path):
    data = tmp_path / "cap.sigmf-data"
    np.ones(5000, np.complex64).tofile(data)
    before = _digest(data)
    with pytest.raises(ValueError, match="cap.sigmf-data.*untouched"):
        sigmf_io.record_if_missing(data)
    assert _digest(data) == before
    assert not sigmf_io.meta_path(data).exists()


def test_metadata_without_capture_is_left_untouched(tmp_path):
    data = tmp_path / "cap.sigmf-data"
    mp = sigmf_io.meta_path(data)
    mp.write_text('{"global": {"core:datatype": "cf32_le", "core:sample_rate": 1e6}}')
    before = _digest(mp)
    with pytest.raises(ValueError, match="cap.sigmf-meta.*untouched"):
        sigmf_io.record_if_missing(data)
    assert _digest(mp) == before
    assert not data.exists()


def test_existing_pair_is_used_as_is(tmp_path):
    data = tmp_path / "cap.sigmf-data"
    np.arange(10, dtype=np.complex64).tofile(data)
    sigmf_io.write_meta(data, 1e6, 915e6)
    d0, m0 = _digest(data), _digest(sigmf_io.meta_path(data))
    assert sigmf_io.record_if_missing(data) == str(data)
    assert (_digest(data), _digest(sigmf_io.meta_path(data))) == (d0, m0)
    assert sigmf_io.read_meta(data)["samp_rate"] == 1e6


def test_records_when_nothing_exists(tmp_path):
    data = tmp_path / "sub" / "new.sigmf-data"
    sigmf_io.record_if_missing(data, n_packets=2)
    iq = np.fromfile(data, np.complex64)
    assert iq.size > 5120 and np.isfinite(iq).all() and np.abs(iq).max() > 0
    meta = sigmf_io.read_meta(data)
    assert meta["samp_rate"] == 20e6 and meta["datatype"] == "cf32_le"


@pytest.mark.parametrize(
    "content, problem",
    [
        ("not json {", "JSON"),
        ("[1, 2]", "global"),
        ('{"global": {"core:datatype": "cf32_le"}}', "sample_rate"),
        ('{"global": {"core:datatype": "cf32_le", "core:sample_rate": 0}}', "positive"),
        ('{"global": {"core:datatype": "cf32_le", "core:sample_rate": -1}}', "positive"),
        ('{"global": {"core:datatype": "cf32_le", "core:sample_rate": NaN}}', "finite"),
        ('{"global": {"core:datatype": "cf32_le", "core:sample_rate": Infinity}}', "finite"),
        ('{"global": {"core:datatype": "cf32_le", "core:sample_rate": "20e6"}}', "number"),
        ('{"global": {"core:datatype": "ci16_le", "core:sample_rate": 1e6}}', "cf32_le"),
        ('{"global": {"core:datatype": "cf32_le", "core:sample_rate": 1e6}, "captures": [3]}', "captures"),
        (
            '{"global": {"core:datatype": "cf32_le", "core:sample_rate": 1e6}, "captures": [{"core:frequency": null}]}',
            "frequency",
        ),
    ],
)
def test_read_meta_rejects_malformed_metadata_naming_the_file(tmp_path, content, problem):
    data = tmp_path / "bad.sigmf-data"
    sigmf_io.meta_path(data).write_text(content)
    with pytest.raises(ValueError) as e:
        sigmf_io.read_meta(data)
    assert "bad.sigmf-meta" in str(e.value) and problem in str(e.value)


def test_read_meta_missing_file_names_it(tmp_path):
    with pytest.raises(ValueError, match="none.sigmf-meta"):
        sigmf_io.read_meta(tmp_path / "none.sigmf-data")
