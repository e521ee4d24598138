# SPDX-License-Identifier: MIT
# Keys and provisioning: the meter's secrets on flash, how PROVISION makes them, and the boot
# epoch with the entropy pool (one state file, as both change at boot and at key generation).
# Functions only, no state: the meter imports this module at boot, PROVISION and RESET and
# unloads it again (vwmeter.unload), so a serving meter keeps none of it on the heap.
#
# Storage (board["storage"]):
#   keys.a/.b   provisioned secrets (durable.SmallState), layout 2: "VWK2", meter_id (8),
#               group_id (1), sig_secret (32), agg_secret (32), admin_secret (32),
#               len(customer_key) (1), customer_key, then the aggregation public key (computed
#               once).  sig_secret and agg_secret are GENERATED ON THE METER at PROVISION
#               (new_keys) and never leave it; admin_secret (RESET / SET_CLOCK only) and
#               the customer key come from the engineer.  Written once by PROVISION, removed by
#               RESET.  Layout 1 (no magic, no admin_secret: keys sent by an older host) still
#               loads, with admin_secret = sig_secret, so that the old engineer's record can
#               RESET the meter and provision it again.  (On a real board, enable flash read-out
#               protection: these are the meter's signing and customer secrets.)
#   epoch.a/.b  '>Q' boot epoch || 32-byte entropy pool.  The epoch is incremented and saved at
#               every boot (boot_epoch), so the INFO challenge ('>II' epoch, counter; see
#               clockpolicy.py) never repeats across reboots, RESET or re-provisioning; the pool is
#               stirred at every boot and replaced at every key generation (the "previous state"
#               input of new_keys).
import gc
import struct
import time

from vwcore import kdf
from vwcore import wire

from vwmeter import MeterError
from vwmeter import durable
from vwmeter import unload

KEYS_MAGIC = b"VWK2"  # keys state layout 2 (meter-generated secrets + admin secret)
_KEYGEN_INFO = b"veriwatt meter keys v1"


def device_noise(unique_id=None):
    """Whatever varies on this device without an RNG: tick counters, the chip's unique id (the
    HAL's board["unique_id"], when the board has one readable), heap state.  Weak and partly
    predictable (under QEMU -icount fully deterministic): only a complement to the board's RNG
    and the host entropy, never a replacement."""
    out = []
    for f in ("ticks_us", "ticks_cpu", "ticks_ms", "time_ns"):
        g = getattr(time, f, None)
        if g is not None:
            try:
                out.append(struct.pack(">Q", g() & 0xFFFFFFFFFFFFFFFF))
            except Exception:
                pass
    if unique_id is not None:
        try:
            out.append(bytes(unique_id()))
        except Exception:
            pass
    try:
        out.append(struct.pack(">II", gc.mem_free() & 0xFFFFFFFF, id(object()) & 0xFFFFFFFF))
    except Exception:
        pass
    return b"".join(out)


def encode_keys(p):
    return (
        KEYS_MAGIC
        + p["meter_id"]
        + bytes((p["group_id"],))
        + p["sig_secret"]
        + p["agg_secret"]
        + p["admin_secret"]
        + bytes((len(p["customer_key"]),))
        + p["customer_key"]
        + p.get("agg_pub_b", b"")
    )


def decode_keys(raw):
    if bytes(raw[0:4]) == KEYS_MAGIC:
        raw = raw[4:]
        n = raw[105]
        return {
            "meter_id": bytes(raw[0:8]),
            "group_id": raw[8],
            "sig_secret": bytes(raw[9:41]),
            "agg_secret": bytes(raw[41:73]),
            "admin_secret": bytes(raw[73:105]),
            "customer_key": bytes(raw[106 : 106 + n]),
            "agg_pub_b": bytes(raw[106 + n :]),
        }
    n = raw[73]  # layout 1 (host-made secrets): the old record's key resets it
    return {
        "meter_id": bytes(raw[0:8]),
        "group_id": raw[8],
        "sig_secret": bytes(raw[9:41]),
        "agg_secret": bytes(raw[41:73]),
        "admin_secret": bytes(raw[9:41]),
        "customer_key": bytes(raw[74 : 74 + n]),
        "agg_pub_b": bytes(raw[74 + n :]),
    }


def agg_public(p):
    """The aggregation public key (fixed-width bytes), computed once, at provisioning, and kept
    with the keys: the vwcore.agg module (about 2.4 KB of heap, frozen) is then unloaded again."""
    from vwcore import agg

    y = agg.public_key(agg.secret_scalar(p["agg_secret"], p["group_id"]), p["group_id"])
    agg = None
    unload("vwcore.agg")
    return wire.int_to_bytes(y, wire.GROUP_PLEN[p["group_id"]])


def boot_epoch(root, unique_id=None):
    """(epoch, pool) of this boot: the epoch counter incremented and saved before any challenge
    is shown (None if it could not be saved: no fresh challenge can then be promised, RESET /
    SET_CLOCK tags are refused), the entropy pool stirred with device noise."""
    st = durable.SmallState(root + "/epoch")
    raw = st.load()
    ep = struct.unpack(">Q", raw[:8])[0] if raw and len(raw) >= 8 else 0
    pool = kdf.hmac_sha256(
        bytes(raw[8:40]) if raw and len(raw) == 40 else bytes(32), b"veriwatt/pool/boot" + device_noise(unique_id)
    )
    epoch = ep + 1
    try:
        st.save(struct.pack(">Q", epoch) + pool)
    except OSError:
        epoch = None
    return epoch, pool


def load(root):
    """The provisioned keys (dict of decode_keys, with agg_pub_b), or None."""
    raw = durable.SmallState(root + "/keys").load()
    if raw is None:
        return None
    p = decode_keys(raw)
    if not p.get("agg_pub_b"):
        p["agg_pub_b"] = agg_public(p)
    return p


def _gen_secrets(host_entropy, meter_id, pool, entropy, unique_id):
    """The meter's own signing/commitment and aggregation secrets (64 bytes), generated here
    and never exported, and the next pool.  HKDF-SHA256 extract-then-expand (RFC 5869; the
    construction of a NIST SP 800-90A/-90C style conditioned seed): IKM = the board RNG's 32
    bytes (board["entropy"], os.urandom where the port has one), the host entropy from
    PROVISION, device noise (ticks, machine.unique_id, heap) and the persistent pool (previous
    state), length-prefixed.  On a board WITHOUT an RNG (the QEMU board) the key is only as
    secret as the host entropy plus what cannot be predicted of the device sources: whoever
    knows the host entropy and can predict those could predict the key (docs/PROTOCOL.md)."""
    dev = entropy(32) if entropy is not None else b""
    if entropy is not None and len(dev) != 32:
        raise MeterError(wire.E_INTERNAL, "board RNG returned %d bytes" % len(dev))
    ikm = kdf.encode_parts(dev, bytes(host_entropy), device_noise(unique_id), pool, meter_id)
    okm = kdf.hkdf_expand(kdf.hkdf_extract(b"veriwatt/keygen/v1", ikm), _KEYGEN_INFO, 96)
    # the next generation starts from a state nobody outside has seen
    return okm[0:32], okm[32:64], okm[64:96]


def new_keys(p, pool, entropy=None, unique_id=None):
    """(keys, next pool) for a PROVISION request p (wire.decode_provision): secrets made here
    (pool: this boot's, entropy/unique_id: the board's), the engineer's admin secret and
    customer key, the aggregation public key.  Not saved yet (save)."""
    sig_secret, agg_secret, pool = _gen_secrets(p["host_entropy"], p["meter_id"], pool, entropy, unique_id)
    keys = {
        "meter_id": p["meter_id"],
        "group_id": p["group_id"],
        "sig_secret": sig_secret,
        "agg_secret": agg_secret,
        "admin_secret": p["admin_secret"],
        "customer_key": p["customer_key"],
    }
    sig_secret = agg_secret = None
    keys["agg_pub_b"] = agg_public(keys)
    return keys, pool


def save(root, keys, epoch, pool):
    """Write the keys, then (unless the epoch could not be saved at boot) the epoch state with the
    new pool: the used pool is replaced on flash.  Each into its older copy (durable.SmallState)."""
    st = durable.SmallState(root + "/keys")
    st.load()
    st.save(encode_keys(keys))
    if epoch is not None:
        st = durable.SmallState(root + "/epoch")
        st.load()
        st.save(struct.pack(">Q", epoch) + pool)


def clear(root):
    durable.SmallState(root + "/keys").clear()
