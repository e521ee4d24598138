# SPDX-License-Identifier: MIT
# vwcore: code shared by the meter firmware (MicroPython) and the host (CPython).
# Everything in this package is written in the Python subset both interpreters run
# (MicroPython 1.25+, CPython 3.9+); tests/core/mp_selftest.py runs the same checks on both.
#
#   consts   SLOT_SECONDS (the one definition: wire, the HAL clocks and the host import it)
#   modexp   powmod(b, e, m), powmod2(g, a, h, b, m), powmod_fb, powmod2_fb (fixed bases), BACKEND, use(name)
#   params   generated group constants (tools/gen_params.py, FIPS 186-4 A.1.1.2 / A.2.3)
#   group    GROUPS {'2048', '3072'}, DEFAULT, by_id, get, commit, is_element, hash_to_scalar
#   kdf      hmac_sha256, HMAC, hkdf, derive, derive_bytes, rfc6979_nonce, ct_equal
#   sig      SigningKey(secret, grp).sign(msg) -> (e, s), verify(y, msg, sig, grp)
#   aead     AEAD(customer_key).encrypt/decrypt, record_nonce, parse/format_customer_code
#   wire     frames, Decoder, message payloads, Record, encode/decode_record, signed_bytes
#   auth     reset_tag, clock_tag, ack_tag, enroll_tag: the authorisation tags requests carry
#   reading  MeterKeys, certify(keys, slot, m), verify_record, open_record
#   agg      aggregation masks (written by the aggregation work, not listed above)
#
# On the meter, freeze this package into the firmware (or at least deploy .mpy files):
# loaded from .mpy it takes about 34 KB of heap on a 32-bit port, frozen only a few KB.
