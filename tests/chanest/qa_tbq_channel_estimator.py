"""The channel-estimator blocks in real GNU Radio flowgraphs: pilot blocks built from per-antenna
snapshots with stream_to_vector, agreement with the numpy estimator, MSE, bad-input handling,
parameter checks and the GRC descriptions."""

import os
import subprocess

import numpy as np
import pytest
from gnuradio import blocks, gr

from gnuradio import deepquant as dq
from gnuradio.deepquant.chanest import bounds as B
from gnuradio.deepquant.chanest.system import ChannelSetup, h_to_rowmajor

NT, NU, TP = 10, 4, 12
S = ChannelSetup(NT, NU, TP, 4.0)


def _pilot_snapshots(num, seed=3):
    """(y (num, TP*NT), H row-major (num, NT*NU)), y as TP consecutive NT-antenna snapshots."""
    y, h = S.sample_complex(num, np.random.default_rng(seed))
    return y.astype(np.complex64), h_to_rowmajor(h, NT, NU)


def _run(block, y, snapshots=True):
    tb = gr.top_block()
    if snapshots:  # per-antenna snapshots (vlen NT) -> pilot blocks (vlen TP*NT)
        src = blocks.vector_source_c(y.ravel().tolist(), False, NT)
        s2v = blocks.stream_to_vector(gr.sizeof_gr_complex * NT, TP)
        tb.connect(src, s2v, block)
    else:
        src = blocks.vector_source_c(y.ravel().tolist(), False, TP * NT)
        tb.connect(src, block)
    snk = blocks.vector_sink_c(NT * NU)
    tb.connect(block, snk)
    tb.run()
    return np.array(snk.data(), dtype=np.complex64).reshape(-1, NT * NU)


def test_tbq_block_in_flowgraph_matches_numpy_and_paper():
    y, H = _pilot_snapshots(1500)
    blk = dq.tbq_channel_estimator(NT, NU, TP, 1.0, method="soft_to_hard", model="")
    out = _run(blk, y)
    assert out.shape == (1500, NT * NU)
    np.testing.assert_allclose(out, blk(y), atol=1e-5)
    mse = np.mean(np.abs(out - H) ** 2) / 2
    assert mse < 1.06 * B.scalar_adc_limit(S, 8)
    assert blk.adc_bits_per_block() == 240 and blk.rate() == pytest.approx(1.0)
    assert blk.adc_bits_spent() == 240 * 1500 and blk.blocks_processed() == 1500
    assert blk.bad_count == 0


def test_baseline_blocks_same_ports():
    y, H = _pilot_snapshots(1000, seed=4)
    mmse = dq.mmse_channel_estimator(NT, NU, TP, 4.0)
    out = _run(mmse, y, snapshots=False)
    assert np.mean(np.abs(out - H) ** 2) / 2 == pytest.approx(B.mmse(S), rel=0.12)
    assert mmse.adc_bits_per_block() is None and mmse.adc_bits_spent() == 0
    uni = dq.uniform_adc_channel_estimator(NT, NU, TP, 1, 4.0)
    out = _run(uni, y)
    assert np.mean(np.abs(out - H) ** 2) / 2 == pytest.approx(B.blmmse(S), rel=0.1)
    assert uni.rate() == 1.0
    hl = dq.tbq_channel_estimator(NT, NU, TP, 0.667, method="hardware_limited", snr=4.0)
    out = _run(hl, y)
    assert hl.estimator.num_levels == 4
    assert np.mean(np.abs(out - H) ** 2) / 2 < 1.3 * B.eta_sc(S, 4)


def test_bad_pilot_blocks_give_zero_and_are_counted():
    y, _ = _pilot_snapshots(20, seed=5)
    y[3, 7] = np.nan
    y[11, 0] = np.inf
    blk = dq.tbq_channel_estimator(NT, NU, TP, 1 / 3, method="passing_gradient")
    out = _run(blk, y, snapshots=False)
    assert blk.bad_count == 2
    assert np.all(out[[3, 11]] == 0)
    good = np.ones(20, bool)
    good[[3, 11]] = False
    np.testing.assert_allclose(out[good], blk(y[good]), atol=1e-5)


def test_parameter_checks():
    with pytest.raises(ValueError):
        dq.tbq_channel_estimator(NT, NU, 2, 1.0)  # tau_p < nu
    with pytest.raises(ValueError):
        dq.tbq_channel_estimator(NT, NU, TP, 0.0)
    with pytest.raises(ValueError):
        dq.tbq_channel_estimator(NT, NU, TP, 1.0, method="lloyd")
    with pytest.raises(ValueError):
        dq.tbq_channel_estimator(NT, NU, TP, 1.0, training="sometimes")
    with pytest.raises(ValueError, match="shipped rates"):
        dq.tbq_channel_estimator(NT, NU, TP, 2.5)
    with pytest.raises(ValueError):
        dq.uniform_adc_channel_estimator(NT, NU, TP, bits=0)
    with pytest.raises(ValueError):
        dq.mmse_channel_estimator(NT, NU, TP, snr=-1.0)


GRC = """options:
  parameters: {{id: chanest_qa, generate_options: no_gui, output_language: python}}
  states: {{state: enabled}}
blocks:
- name: src
  id: blocks_vector_source_x
  parameters: {{type: complex, vector: '[0j]*{m}', repeat: 'False', vlen: '{m}', tags: '[]'}}
  states: {{state: enabled}}
- name: est
  id: deepquant_tbq_channel_estimator
  parameters: {{nt: '10', nu: '4', tau_p: '12', rate: '1.0', method: "'soft_to_hard'", training: "'optimal'", model: '', snr: '4.0'}}
  states: {{state: enabled}}
- name: mmse
  id: deepquant_mmse_channel_estimator
  parameters: {{nt: '10', nu: '4', tau_p: '12', snr: '4.0'}}
  states: {{state: enabled}}
- name: uni
  id: deepquant_uniform_adc_channel_estimator
  parameters: {{nt: '10', nu: '4', tau_p: '12', bits: '1', snr: '4.0', num_levels: '0'}}
  states: {{state: enabled}}
- name: snk0
  id: blocks_null_sink
  parameters: {{type: complex, vlen: '40', num_inputs: '1', bus_structure_sink: '[[0,],]'}}
  states: {{state: enabled}}
- name: snk1
  id: blocks_null_sink
  parameters: {{type: complex, vlen: '40', num_inputs: '1', bus_structure_sink: '[[0,],]'}}
  states: {{state: enabled}}
- name: snk2
  id: blocks_null_sink
  parameters: {{type: complex, vlen: '40', num_inputs: '1', bus_structure_sink: '[[0,],]'}}
  states: {{state: enabled}}
connections:
- [src, '0', est, '0']
- [src, '0', mmse, '0']
- [src, '0', uni, '0']
- [est, '0', snk0, '0']
- [mmse, '0', snk1, '0']
- [uni, '0', snk2, '0']
metadata: {{file_format: 1}}
"""


def test_grc_descriptions_compile_and_run(venv_python, tmp_path):
    from gnuradio.deepquant import paths

    ymls = {p.name for p in paths.grc_blocks_dir().glob("deepquant_*channel_estimator.block.yml")}
    assert ymls == {
        "deepquant_tbq_channel_estimator.block.yml",
        "deepquant_mmse_channel_estimator.block.yml",
        "deepquant_uniform_adc_channel_estimator.block.yml",
    }
    grc = tmp_path / "chanest_qa.grc"
    grc.write_text(GRC.format(m=TP * NT))
    env = dict(os.environ, GRC_BLOCKS_PATH=str(paths.grc_blocks_dir()))
    r = subprocess.run(
        [str(venv_python), "/usr/bin/grcc", "-o", str(tmp_path), str(grc)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    py = tmp_path / "chanest_qa.py"
    assert "deepquant.tbq_channel_estimator(10, 4, 12, 1.0, method='soft_to_hard', model=''" in py.read_text()
    r = subprocess.run([str(venv_python), str(py)], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
