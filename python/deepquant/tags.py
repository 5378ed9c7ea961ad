"""Every stream-tag and PDU-metadata key the module's blocks write or read, in one place.

Keys GNU Radio's own OFDM blocks define are spelled as GNU Radio spells them; the module's own
keys start with ``dq_``. Values: see the blocks that write them.
"""

#: packet length in items (GNU Radio's tagged-stream convention; ofdm_tx / header_gen)
LEN_KEY = "packet_len"
#: payload frame length in OFDM symbols (header_payload_demux's output tag)
FRAME_KEY = "frame_len"
#: packet counter of the OFDM receivers (header decoder -> FER counter, CRC check, HARQ); not
#: ``packet_num``: the soft-bit compressor numbers its own frames under that key
PACKET_NUM_KEY = "ofdm_packet_num"
#: GNU Radio's ofdm_chanest_vcvc channel taps (c32vector of fft_len, fft-shifted)
CHAN_TAPS_KEY = "ofdm_sync_chan_taps"
#: SISO channel estimate per data carrier (ofdm_channel_noise_estimator)
CHAN_EST_KEY = "dq_chan_est"
#: MIMO channel estimate per carrier and antenna pair (MIMO-OFDM payload estimator)
MIMO_CHAN_KEY = "dq_mimo_chan_est"
#: noise variance estimate sigma^2 (float)
NOISE_VAR_KEY = "dq_noise_var"
#: variance of the channel-estimation error (SISO: float; MIMO meta: float)
EST_ERR_KEY = "dq_est_err_var"
#: per-column error variance of the MIMO header decoder's channel estimate (f64vector, Nt)
ERR_COLS_KEY = "dq_est_err_var_cols"
