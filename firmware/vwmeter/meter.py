# The meter application state machine: keys, clock, slot closing, and the request
# handlers the serial server calls.  Hardware comes from the board dict of hal vwhal.board().
#
# Storage layout (board["storage"]):
#   keys.a/.b   provisioned secrets (durable.SmallState), layout 2: "VWK2", meter_id (8),
#               group_id (1), sig_secret (32), agg_secret (32), admin_secret (32),
#               len(customer_key) (1), customer_key, then the aggregation public key (computed
#               once).  sig_secret and agg_secret are GENERATED ON THE METER at PROVISION
#               (_gen_secrets) and never leave it; admin_secret (RESET / SET_CLOCK only) and
#               the customer key come from the engineer.  Written once by PROVISION, removed by
#               RESET.  Layout 1 (no magic, no admin_secret: keys sent by an older host) still
#               loads, with admin_secret = sig_secret, so that the old engineer's record can
#               RESET the meter and provision it again.  (On a real board, enable flash read-out
#               protection: these are the meter's signing and customer secrets.)
#   epoch.a/.b  '>Q' boot epoch || 32-byte entropy pool.  The epoch is incremented and saved at
#               every boot (Meter()), so the INFO challenge ('>II' epoch, counter) never repeats
#               across reboots, RESET or re-provisioning; the pool is stirred at every boot and
#               replaced at every key generation (the "previous state" input of _gen_secrets).
#   log/        the certified readings (store.py).
#   agg.a/.b    aggregation enrollment, written by AGG_ENROLL COMMIT; two copies like
#               durable.SmallState (the older one is overwritten), but written and read in
#               pieces (a 48 KB heap may have no free 2 KB block): '>4sIHIIH' magic "VWAG",
#               seq, n_members, eps_milli, sensitivity_wh, n_peers; the 58-byte head and
#               41 bytes per peer of vwcore.agg; CRC-32 of all before.  Removed by RESET and
#               PROVISION.
#
# Aggregation shares are NOT stored: AGG_FETCH derives each share at fetch time from the
# stored reading of that slot (the AEAD opening under the customer key gives m; masks are
# n-1 HMACs).  The meter keeps its readings anyway, so this costs no flash (stored shares
# would add 60 bytes per slot: 89 KB for a month of 1488 slots), the
# share of a slot is exactly the certified reading (same Wh, never re-measured), and it is
# deterministic, so a re-fetch gives the same bytes (idempotent, like FETCH).  The price:
# shares exist only while the reading is stored; the host collects them before it ACKs.
#
# Provisioning and reset, as a meter engineer meets them:
#   * A new meter is unprovisioned: INFO shows no keys, FETCH/ACK answer "not provisioned",
#     and it records nothing.  The engineer's tool (host CLI) sends PROVISION once with host
#     entropy, a fresh admin secret and the customer key (and the clock).  The meter makes
#     its signing/commitment and aggregation secrets itself (_gen_secrets: the board's RNG
#     where the HAL has one, mixed with the host entropy and device sources by HKDF) and
#     shows only the public keys (INFO).
#   * PROVISION on a provisioned meter is refused ("already provisioned").
#   * RESET needs the tag auth.reset_tag(admin_secret, meter_id, challenge) for the challenge
#     shown in INFO: only whoever holds the engineer's admin file can compute it.  It is
#     refused while readings are unacknowledged (fetch and ACK them first), so a reset
#     never destroys readings the supplier has not collected.  RESET wipes the log and the
#     keys; the meter is then unprovisioned.
#   * SET_CLOCK on a provisioned meter (the clock decides which slot, and so which price, a
#     reading gets: moving it is tariff fraud) needs auth.clock_tag(admin_secret, meter_id,
#     challenge, t), which spends the challenge like RESET, except for
#       - drift trims: a change of at most CLOCK_TRIM_S, CLOCK_TRIM_BUDGET_S in all since boot
#         or the last authenticated change (what a host syncing the time needs);
#       - a lost clock (a board without battery-backed RTC after a power cut): accepted if it
#         does not go back before the end of the newest stored slot, and flagged in INFO
#         (clock_unverified) until an authenticated SET_CLOCK, so the host and the supplier see it.
#     An unprovisioned meter records nothing: any clock is accepted.
#   * Challenges: INFO shows the current one; it is issued (its age starts) by the first INFO
#     that shows it and is valid for challenge_ttl_s (wire.CHALLENGE_TTL_S = 120 s) of meter
#     UPTIME (ticks, not the settable clock); INFO issues a new one once the current one is
#     older than half that, so a host has at least 60 s for its tag.  A tag for an expired,
#     spent or pre-reboot challenge is refused ("challenge expired: ask INFO again").
#   * ACK needs auth.ack_tag(customer_key, ...): only the customer's device, which stores the
#     readings, may let the meter reuse their space (no challenge spent: ACK is monotonic).
#     And it frees only readings sent since boot (store.sent_to, RAM): an ACK beyond them is
#     refused (ERROR 10), so no host can free a reading it never received.
#   * Lost admin file (meter.admin.json): there is no way over the wire.  With physical access the
#     engineer erases the filesystem (mpremote / esptool / st-flash) and re-installs the
#     firmware: every reading not yet collected is lost with it.
#
# Slots: slot = unix_seconds // 1800.  A slot is closed (read, certified, stored) once the
# clock is past its end.  Metering starts at the slot in progress when the meter is first
# both provisioned and clock-set; after that every slot is closed in order, exactly once.
# When metering resumes (boot, SET_CLOCK, a full store freed by ACK) the meter catches up
# at most `max_catchup` missed slots (default: the store capacity), one per main-loop turn
# so the serial line stays served; older missed slots are left as one gap, which the
# supplier sees (slot numbers are signed).  While running it never skips a slot.
import gc
import struct
import time

from vwcore import auth
from vwcore import kdf
from vwcore import reading
from vwcore import wire

from vwmeter import VERSION
from vwmeter import durable
from vwmeter.store import Store, StoreError, StoreFull

MIN_CLOCK = 1577836800      # 2020-01-01: anything earlier is a host bug
CLOCK_TRIM_S = 120          # unauthenticated SET_CLOCK on a provisioned meter: at most this per change,
CLOCK_TRIM_BUDGET_S = 300   # and this in all since boot or the last authenticated change
_AGG_MAGIC = b"VWAG"
_AGG_HDR = ">4sIHIIH"
_AGG_CHUNK = 8              # peers per read buffer (vwcore.agg.CHUNK_PEERS)
_KEYS_MAGIC = b"VWK2"       # keys state layout 2 (meter-generated secrets + admin secret)
_KEYGEN_INFO = b"veriwatt meter keys v1"


def _device_noise(unique_id=None):
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


class _Uptime:
    """Milliseconds since boot, unwrapped (time.ticks_ms wraps; CPython: time.monotonic).
    Called at least every main-loop turn, so no wrap is missed."""

    def __init__(self):
        self._f = getattr(time, "ticks_ms", None)
        self._last = self._f() if self._f else 0
        self._acc = 0

    def __call__(self):
        if self._f is None:
            return int(time.monotonic() * 1000)
        t = self._f()
        self._acc += time.ticks_diff(t, self._last)
        self._last = t
        return self._acc


class MeterError(Exception):
    def __init__(self, code, reason):
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Meter:
    def __init__(self, board):
        self.board = board
        self.clock = board["clock"]
        self.source = board["source"]
        self.root = board["storage"]
        self.profile = board.get("profile", "?")
        self.seg_records = board.get("seg_records") or 96
        self.max_segments = board.get("max_segments") or 32
        cap = board.get("capacity")
        if cap:
            self.max_segments = max(2, (cap + self.seg_records - 1) // self.seg_records)
        self._keys_state = durable.SmallState(self.root + "/keys")
        self._uptime = board.get("uptime_ms") or _Uptime()
        self.challenge_ttl_ms = 1000 * (board.get("challenge_ttl_s") or wire.CHALLENGE_TTL_S)
        self._ch_n = 0               # challenge counter within this boot
        self._ch_issued = None       # uptime (ms) at which INFO first showed the current challenge
        self._boot_epoch()
        self.keys = None
        self.fault = None
        self.prov = None
        self.agg_pub = None
        self.store = None
        self.next_slot = None
        self.storage_full = False
        self.last_error = None
        self.max_catchup = board.get("max_catchup")
        self._resume = True
        self.clock_trimmed = 0       # seconds of unauthenticated trims since boot / authenticated set
        self.clock_unverified = False
        self.n_certified = 0
        self.certify_ms = 0          # total milliseconds spent certifying
        self._agg_seq = 0
        self._agg_older = "a"
        self.agg_enr = None          # vwcore.agg.PackedEnrollment once enrolled
        self.agg_meta = None         # (n_members, eps_milli, sensitivity_wh)
        self._agg_nkey = None
        self._agg_pending = None     # streamed AGG_ENROLL in progress
        self._agg_rel = None         # vwcore.agg.ReleaseLog, loaded on first use
        raw = self._keys_state.load()
        if raw is not None:
            self._load_keys(self._decode_keys(raw))
            self._load_agg()

    # ------------------------------------------------------------ keys
    def _boot_epoch(self):
        """New boot epoch (saved before any challenge is shown) and stirred entropy pool."""
        self._epoch_state = durable.SmallState(self.root + "/epoch")
        raw = self._epoch_state.load()
        ep = struct.unpack(">Q", raw[:8])[0] if raw and len(raw) >= 8 else 0
        pool = bytes(raw[8:40]) if raw and len(raw) == 40 else bytes(32)
        self.pool = kdf.hmac_sha256(pool, b"veriwatt/pool/boot" + _device_noise(self.board.get("unique_id")))
        self.epoch = ep + 1
        try:
            self._save_epoch()
        except OSError:
            self.epoch = None        # no fresh challenge can be promised: RESET/SET_CLOCK tags refused

    def _save_epoch(self):
        self._epoch_state.save(struct.pack(">Q", self.epoch) + self.pool)

    def _gen_secrets(self, host_entropy, meter_id):
        """The meter's own signing/commitment and aggregation secrets (64 bytes), generated here
        and never exported.  HKDF-SHA256 extract-then-expand (RFC 5869; the construction of a
        NIST SP 800-90A/-90C style conditioned seed): IKM = the board RNG's 32 bytes
        (board["entropy"], os.urandom where the port has one), the host entropy from PROVISION,
        device noise (ticks, machine.unique_id, heap) and the persistent pool (previous state),
        length-prefixed.  On a board WITHOUT an RNG (the QEMU board) the key is only as secret
        as the host entropy plus what cannot be predicted of the device sources: whoever knows
        the host entropy and can predict those could predict the key (docs/PROTOCOL.md)."""
        rng = self.board.get("entropy")
        dev = rng(32) if rng is not None else b""
        if rng is not None and len(dev) != 32:
            raise MeterError(wire.E_INTERNAL, "board RNG returned %d bytes" % len(dev))
        ikm = kdf.encode_parts(dev, bytes(host_entropy), _device_noise(self.board.get("unique_id")), self.pool, meter_id)
        okm = kdf.hkdf_expand(kdf.hkdf_extract(b"veriwatt/keygen/v1", ikm), _KEYGEN_INFO, 96)
        self.pool = okm[64:96]       # next generation starts from a state nobody outside has seen
        return okm[0:32], okm[32:64]

    @staticmethod
    def _encode_keys(p):
        return (_KEYS_MAGIC + p["meter_id"] + bytes((p["group_id"],)) + p["sig_secret"] + p["agg_secret"] +
                p["admin_secret"] + bytes((len(p["customer_key"]),)) + p["customer_key"] +
                p.get("agg_pub_b", b""))

    @staticmethod
    def _decode_keys(raw):
        if bytes(raw[0:4]) == _KEYS_MAGIC:
            raw = raw[4:]
            n = raw[105]
            return {"meter_id": bytes(raw[0:8]), "group_id": raw[8], "sig_secret": bytes(raw[9:41]),
                    "agg_secret": bytes(raw[41:73]), "admin_secret": bytes(raw[73:105]),
                    "customer_key": bytes(raw[106:106 + n]), "agg_pub_b": bytes(raw[106 + n:])}
        n = raw[73]                  # layout 1 (host-made secrets): the old record's key resets it
        return {"meter_id": bytes(raw[0:8]), "group_id": raw[8], "sig_secret": bytes(raw[9:41]),
                "agg_secret": bytes(raw[41:73]), "admin_secret": bytes(raw[9:41]),
                "customer_key": bytes(raw[74:74 + n]), "agg_pub_b": bytes(raw[74 + n:])}

    @staticmethod
    def _agg_pub(p):
        # The aggregation public key is computed once, at provisioning, and kept with the
        # keys: the vwcore.agg module (about 8 KB of RAM) is then unloaded again.
        import sys
        from vwcore import agg
        y = agg.public_key(agg.secret_scalar(p["agg_secret"], p["group_id"]), p["group_id"])
        del agg
        sys.modules.pop("vwcore.agg", None)
        return wire.int_to_bytes(y, wire.GROUP_PLEN[p["group_id"]])

    def _load_keys(self, p):
        if not p.get("agg_pub_b"):
            p["agg_pub_b"] = self._agg_pub(p)
        self.prov = p
        self.keys = reading.MeterKeys(p["meter_id"], p["sig_secret"], p["customer_key"],
                                      p["group_id"])
        self.agg_pub = int.from_bytes(p["agg_pub_b"], "big")
        try:
            self.store = Store(self.root + "/log", wire.record_len(p["group_id"]),
                               self.seg_records, self.max_segments)
        except (OSError, StoreError) as e:
            # keep serving the line (INFO, RESET) and say what is wrong
            self.store = None
            self.fault = "storage fault: %s" % e
            self.last_error = self.fault
            return
        if self.max_catchup is None:
            self.max_catchup = self.store.capacity
        self.next_slot = None if self.store.last_slot is None else self.store.last_slot + 1
        self.storage_full = False
        self._resume = True

    @property
    def provisioned(self):
        return self.keys is not None

    def _current_challenge(self):
        return struct.pack(">II", (self.epoch or 0) & 0xFFFFFFFF, self._ch_n & 0xFFFFFFFF)

    def challenge(self):
        """The challenge INFO shows: issued now unless the current one is fresh (younger than
        half its lifetime), so a host always has at least challenge_ttl_s / 2 for its tag."""
        now = self._uptime()
        if self._ch_issued is None or now - self._ch_issued > self.challenge_ttl_ms // 2:
            if self._ch_issued is not None:
                self._ch_n += 1
            self._ch_issued = now
        return self._current_challenge()

    def _check_admin(self, what, challenge, tag, want):
        """Refuse a RESET / SET_CLOCK tag unless it is for the current, unexpired challenge."""
        if self.epoch is None:
            raise MeterError(wire.E_STORAGE, "boot counter not stored (flash?): %s refused" % what)
        ok = kdf.ct_equal(tag, want)
        if challenge != self._current_challenge():
            raise MeterError(wire.E_AUTH, "%s not authorised: challenge not current (spent, expired or "
                                          "from before a reboot): ask INFO again" % what)
        if self._ch_issued is None or self._uptime() - self._ch_issued > self.challenge_ttl_ms:
            raise MeterError(wire.E_AUTH, "%s not authorised: challenge expired: ask INFO again" % what)
        if not ok:
            raise MeterError(wire.E_AUTH, "%s not authorised (meter id, challenge or tag)" % what)

    def _spend_challenge(self):
        self._ch_n += 1
        self._ch_issued = None

    # ------------------------------------------------------------ queries
    def info(self):
        d = {"meter_id": self.prov["meter_id"] if self.prov else bytes(8),
             "group_id": self.prov["group_id"] if self.prov else 1,
             "provisioned": self.provisioned, "clock_set": self.clock.is_set(),
             "storage_full": self.storage_full, "clock_unverified": self.clock_unverified,
             "clock": (self.clock.now() or 0) & 0xFFFFFFFF,
             "challenge": self.challenge(), "fw_version": "%s/%s" % (VERSION, self.profile),
             "sig_pub": self.keys.y if self.keys else None, "agg_pub": self.agg_pub}
        s = self.store
        if s is not None:
            d["capacity"] = s.capacity
            if s.last_slot is not None:
                d["first_slot"] = s.first_slot
                d["last_slot"] = s.last_slot
                # records stored, not the span first..last (gaps, e.g. after a clock jump)
                d["used"] = s.count()
                u = s.unacked_from()
                d["unacked"] = 0 if u is None or u > s.last_slot else s.count(u)
        return d

    # ------------------------------------------------------------ requests
    def provision(self, p):
        if self.provisioned:
            raise MeterError(wire.E_ALREADY_PROVISIONED, "already provisioned (RESET first)")
        if p["clock"] and p["clock"] < MIN_CLOCK:
            raise MeterError(wire.E_BAD_ARGUMENT, "clock before 2020")
        sig_secret, agg_secret = self._gen_secrets(p["host_entropy"], p["meter_id"])
        keys = {"meter_id": p["meter_id"], "group_id": p["group_id"],
                "sig_secret": sig_secret, "agg_secret": agg_secret,
                "admin_secret": p["admin_secret"], "customer_key": p["customer_key"]}
        sig_secret = agg_secret = None
        keys["agg_pub_b"] = self._agg_pub(keys)
        # leftovers of an interrupted RESET (store wiped first, then keys): clear them
        self._wipe_log()
        self._agg_clear()
        self._keys_state.save(self._encode_keys(keys))
        if self.epoch is not None:
            self._save_epoch()       # the used pool is replaced on flash
        self._load_keys(keys)
        if p["clock"]:
            self.clock.set(p["clock"])

    def reset(self, r):
        if not self.provisioned:
            raise MeterError(wire.E_NOT_PROVISIONED, "not provisioned: nothing to reset")
        want = auth.reset_tag(self.prov["admin_secret"], self.prov["meter_id"], r["challenge"])
        if r["meter_id"] != self.prov["meter_id"]:
            raise MeterError(wire.E_AUTH, "reset not authorised (meter id, challenge or tag)")
        self._check_admin("reset", r["challenge"], r["tag"], want)
        s = self.store
        u = s.unacked_from() if s is not None else None
        if u is not None and u <= s.last_slot:
            raise MeterError(wire.E_STORAGE, "%d readings not acknowledged: fetch and ACK first"
                             % (s.last_slot - u + 1))
        # the tag is spent first (a power cut below reboots into a new epoch anyway), then the
        # log, then the keys: an interrupted reset leaves a provisioned meter with an empty log.
        self._spend_challenge()
        self._wipe_log()
        self._agg_clear()
        self._keys_state.clear()
        self.keys = self.prov = self.agg_pub = self.store = self.next_slot = None
        self.storage_full = self.clock_unverified = False

    def _wipe_log(self):
        self.fault = None
        if self.store is not None:
            self.store.wipe()
            return
        if durable.exists(self.root + "/log"):
            # unprovisioned: any segment files are leftovers; the geometry does not matter
            import os
            for name in os.listdir(self.root + "/log"):
                durable.wp_remove(self.root + "/log/" + name)

    def set_clock(self, t, challenge=None, tag=None):
        """SET_CLOCK: see 'Provisioning and reset' above for who may move the clock."""
        if t < MIN_CLOCK:
            raise MeterError(wire.E_BAD_ARGUMENT, "clock before 2020")
        if self.provisioned:
            if tag is not None:
                want = auth.clock_tag(self.prov["admin_secret"], self.prov["meter_id"], challenge, t)
                self._check_admin("clock change", challenge, tag, want)
                self._spend_challenge()               # the tag is spent
                self.clock_trimmed = 0
                self.clock_unverified = False
            else:
                now = self.clock.now()
                if now is None:
                    s = self.store
                    floor = (s.last_slot + 1) * 1800 if s is not None and s.last_slot is not None else 0
                    if t < floor:
                        raise MeterError(wire.E_AUTH, "clock before the end of the newest stored reading "
                                         "(%d): needs the admin tag" % floor)
                    self.clock_unverified = True
                else:
                    d = t - now if t >= now else now - t
                    if d > CLOCK_TRIM_S or self.clock_trimmed + d > CLOCK_TRIM_BUDGET_S:
                        raise MeterError(wire.E_AUTH, "a change of %d s needs the admin tag (without it: "
                                         "trims of up to %d s, %d s in all; %d s used)"
                                         % (d, CLOCK_TRIM_S, CLOCK_TRIM_BUDGET_S, self.clock_trimmed))
                    self.clock_trimmed += d
        self.clock.set(t)
        self._resume = True

    def _need_store(self):
        if not self.provisioned:
            raise MeterError(wire.E_NOT_PROVISIONED, "not provisioned")
        if self.store is None:
            raise MeterError(wire.E_STORAGE, self.fault or "storage unavailable")

    def fetch(self, from_slot, max_count):
        """Iterator of (slot, record bytes) from from_slot, at most max_count."""
        self._need_store()
        if not self.clock.is_set():
            raise MeterError(wire.E_CLOCK_NOT_SET, "clock not set: send SET_CLOCK (readings are kept)")
        return self._sending(from_slot, self.store.iter_from(from_slot, max_count))

    def _sent_base(self):
        # highest slot such that every stored slot up to it is acknowledged or was sent (FETCH)
        # since boot; an ACK may not reach beyond it (docs/PROTOCOL.md, ACK)
        s = self.store
        b = s.acked if s.acked is not None else (s.first_slot - 1 if s.first_slot is not None else -1)
        return s.sent_to if s.sent_to is not None and s.sent_to > b else b

    def _sending(self, from_slot, it):
        # an answer that starts at or before the first slot not yet sent sends every stored
        # slot in order: each one the server has written extends sent_to
        track = from_slot <= self._sent_base() + 1
        s = self.store
        for slot, rec in it:
            yield slot, rec
            if track and (s.sent_to is None or slot > s.sent_to):
                s.sent_to = slot

    def ack(self, up_to, tag=None):
        """ACK: the customer's device (holder of the customer key) lets the meter reuse the space
        of readings <= up_to; without its tag nothing is acknowledged (auth.ack_tag)."""
        self._need_store()
        if tag is None or not kdf.ct_equal(tag, auth.ack_tag(self.prov["customer_key"], self.prov["meter_id"],
                                                            self._current_challenge(), up_to)):
            raise MeterError(wire.E_AUTH, "ACK not authorised: it needs the customer's tag (fetch with the customer code)")
        s = self.store
        lim = self._sent_base()
        if s.last_slot is not None and up_to > lim and lim < s.last_slot:
            # never free a reading this meter has not sent since it started
            raise MeterError(wire.E_BAD_ARGUMENT, "ACK up to slot %d refused: readings sent since the meter "
                             "started reach only slot %d; FETCH from slot %d first" % (up_to, lim, lim + 1))
        s.ack(up_to)
        if self.storage_full:
            self.storage_full = False     # retry the pending slot
            self._resume = True

    # ------------------------------------------------------------ metering
    def backlog(self):
        """Number of closed slots waiting to be certified (0 when idle or not metering)."""
        if not self.provisioned or self.storage_full or self.store is None:
            return 0
        now = self.clock.now_slot()
        if now is None:
            return 0
        if self.next_slot is None:
            self.next_slot = now           # start metering with the slot in progress
            return 0
        return now - self.next_slot if now > self.next_slot else 0

    def tick(self, ticks_ms=None):
        """Close at most one slot.  Returns True if more closed slots are waiting."""
        self._uptime()                 # keeps the unwrapped uptime counter current
        n = self.backlog()
        if n <= 0:
            return False
        if self._resume:
            # resuming after downtime, a clock change or a full store: certify at most
            # max_catchup missed slots and leave older ones as a gap.  While running, the
            # meter never skips (it can only lag if a simulated clock outruns it).
            self._resume = False
            if n > self.max_catchup:
                self.next_slot += n - self.max_catchup
        slot = self.next_slot
        s = self.store
        if s.would_be_full(slot):
            self.storage_full = True
            self.last_error = "storage full at slot %d" % slot
            return False
        t0 = ticks_ms() if ticks_ms else 0
        wh = self.source.read_slot(slot)
        if wh > reading.MAX_READING:       # beyond any rated supply: a pulse burst, not energy
            wh = reading.MAX_READING
        rec = reading.certify(self.keys, slot, wh).encode()
        try:
            s.append(slot, rec)
        except StoreFull:
            self.storage_full = True
            return False
        if ticks_ms:
            self.certify_ms += ticks_ms() - t0
        self.n_certified += 1
        self.next_slot = slot + 1
        return n > 1

    # ------------------------------------------------------------ aggregation
    def _agg_clear(self):
        for c in ("a", "b"):
            if durable.exists(self.root + "/agg." + c):
                durable.wp_remove(self.root + "/agg." + c)
        durable.SmallState(self.root + "/aggrel").clear()
        self._agg_seq, self._agg_older = 0, "a"
        self.agg_enr = self.agg_meta = self._agg_nkey = self._agg_pending = self._agg_rel = None

    def _agg_rel_log(self):
        """The release log (vwcore.agg.ReleaseLog) of the current enrollment, loaded on first use.
        An unreadable log is treated as 'everything released' (F at the newest slot, no
        reduced share) rather than as empty: failing closed."""
        if self._agg_rel is None:
            from vwcore import agg
            st = durable.SmallState(self.root + "/aggrel")
            try:
                self._agg_rel = agg.ReleaseLog(st.load())
            except agg.AggError:
                self._agg_rel = agg.ReleaseLog()
                self._agg_rel.f = 0xFFFFFFFE
        return self._agg_rel

    def _agg_rel_save(self):
        durable.SmallState(self.root + "/aggrel").save(self._agg_rel.to_bytes())

    def _agg_read(self, c, keep):
        """(seq, (n, eps, sens), head, chunks) of copy c if valid (CRC streamed), else None."""
        try:
            f = open(self.root + "/agg." + c, "rb")
        except OSError:
            return None
        try:
            hdr = f.read(20)
            if len(hdr) != 20:
                return None
            magic, seq, n, eps, sens, k = struct.unpack(_AGG_HDR, hdr)
            head = f.read(58)
            if magic != _AGG_MAGIC or len(head) != 58:
                return None
            crc = durable.crc32(head, durable.crc32(hdr))
            chunks = []
            while k:
                m = k if k < _AGG_CHUNK else _AGG_CHUNK
                b = f.read(41 * m)
                if len(b) != 41 * m:
                    return None
                crc = durable.crc32(b, crc)
                if keep:
                    chunks.append(b)
                k -= m
            t = f.read(5)
            if len(t) != 4 or struct.unpack(">I", t)[0] != crc:
                return None
            return seq, (n, eps, sens), head, chunks
        finally:
            f.close()

    def _agg_save(self, meta, head, chunks):
        k = 0
        for c in chunks:
            k += len(c) // 41
        seq = self._agg_seq + 1
        path = self.root + "/agg." + self._agg_older
        hdr = struct.pack(_AGG_HDR, _AGG_MAGIC, seq, meta[0], meta[1], meta[2], k)
        f = durable.wp_open(path, "wb")
        try:
            crc = durable.crc32(hdr)
            durable.wp_write(f, hdr, path)
            for b in [head] + chunks:
                crc = durable.crc32(b, crc)
                durable.wp_write(f, b, path)
            durable.wp_write(f, struct.pack(">I", crc), path)
            durable.wp_flush(f, path)
        finally:
            f.close()
        self._agg_seq = seq
        self._agg_older = "b" if self._agg_older == "a" else "a"

    def _load_agg(self):
        """The newer valid copy of the enrollment (a power cut while saving leaves the other)."""
        best, best_c = None, None
        for c in ("a", "b"):
            r = self._agg_read(c, False)
            if r is not None and (best is None or r[0] > best):
                best, best_c = r[0], c
        if best is None:
            self._agg_seq, self._agg_older = 0, "a"
            return
        self._agg_seq, self._agg_older = best, "b" if best_c == "a" else "a"
        r = self._agg_read(best_c, True)
        if r is None:
            return
        from vwcore import agg
        try:
            enr = agg.PackedEnrollment(r[2], r[3])
        except Exception as e:
            self.last_error = "aggregation enrollment unreadable: %s" % e
            return
        self.agg_enr, self.agg_meta = enr, r[1]
        n, eps, sens = r[1]
        self._agg_nkey = agg.noise_key(self.prov["agg_secret"], enr.gid, enr.member_id) if eps and sens else None

    def agg_enroll(self, p):
        """AGG_ENROLL: BEGIN, MEMBERS (streamed, one modexp per member), COMMIT.
        Returns None (answer OK) or (gid, n_members) for COMMIT."""
        if not self.provisioned:
            raise MeterError(wire.E_NOT_PROVISIONED, "not provisioned")
        from vwcore import agg
        op = p["op"]
        try:
            if op == wire.AGG_OP_BEGIN:
                self._agg_pending = None
                if p["group_id"] != self.prov["group_id"]:
                    raise MeterError(wire.E_BAD_ARGUMENT, "group %d, this meter uses group %d"
                                     % (p["group_id"], self.prov["group_id"]))
                if not (wire.AGG_MIN_MEMBERS <= p["n_members"] <= wire.AGG_MAX_MEMBERS):
                    raise MeterError(wire.E_BAD_MEMBERS, "a group has %d..%d members"
                                     % (wire.AGG_MIN_MEMBERS, wire.AGG_MAX_MEMBERS))
                g = self.prov["group_id"]
                x = agg.secret_scalar(self.prov["agg_secret"], g)
                b = agg.EnrollBuilder(x, self.prov["meter_id"], p["label"], p["agg_pub"], p["n_members"], g)
                self._agg_pending = (b, p["n_members"], p["eps_milli"], p["sensitivity_wh"])
                return None
            pend = self._agg_pending
            if op == wire.AGG_OP_MEMBERS:
                if pend is None:
                    raise MeterError(wire.E_BAD_MEMBERS, "no enrollment begun (send AGG_ENROLL BEGIN)")
                from vwcore import aggwire
                try:
                    mem = aggwire.split_agg_members(p["raw"], self.prov["group_id"])
                except ValueError as e:
                    raise MeterError(wire.E_BAD_PAYLOAD, str(e))
                b = pend[0]
                if p["first_index"] + len(mem) == b.count and p["first_index"] < b.count:
                    return None          # a retry of the last part (its OK was lost)
                if p["first_index"] != b.count:
                    raise MeterError(wire.E_BAD_MEMBERS, "member part starts at %d, expected %d"
                                     % (p["first_index"], b.count))
                for mid, y in mem:
                    b.add(mid, y)
                return None
            # COMMIT: only with the customer's consent (auth.enroll_tag over everything the
            # enrollment sets); a refused COMMIT leaves the stored enrollment as it was.
            if pend is None:
                if self.agg_enr is not None:      # a retry: the answer was lost
                    return self.agg_enr.gid, self.agg_meta[0]
                raise MeterError(wire.E_BAD_MEMBERS, "no enrollment begun (send AGG_ENROLL BEGIN)")
            b, n, eps, sens = pend
            self._agg_pending = pend = None
            head, chunks = b.finish_parts()
            want = auth.enroll_tag(self.prov["customer_key"], self.prov["meter_id"], self._current_challenge(),
                                  agg.enroll_digest(b.ghash, n, eps, sens))
            b = None
            if not kdf.ct_equal(p["tag"], want):
                raise MeterError(wire.E_AUTH, "enrollment not authorised: it needs the customer's tag over this "
                                 "group (enrollment dropped, the previous one is kept)")
            if self._ch_issued is None or self._uptime() - self._ch_issued > self.challenge_ttl_ms:
                raise MeterError(wire.E_AUTH, "enrollment not authorised: challenge expired: ask INFO again "
                                 "(enrollment dropped, the previous one is kept)")
            self._spend_challenge()               # the tag works once
            self.agg_enr = None
            gc.collect()
            self._agg_save((n, eps, sens), head, chunks)
            head = chunks = None
            durable.SmallState(self.root + "/aggrel").clear()   # a new group: nothing released in it
            self._agg_rel = None
            gc.collect()
            self._load_agg()
            if self.agg_enr is None:
                raise MeterError(wire.E_STORAGE, "enrollment not readable after saving")
            return self.agg_enr.gid, n
        except agg.AggError as e:
            self._agg_pending = None
            raise MeterError(wire.E_BAD_MEMBERS, "%s (enrollment dropped: start again)" % e)

    def _need_agg(self):
        self._need_store()
        if self.agg_enr is None:
            raise MeterError(wire.E_NOT_ENROLLED, "not enrolled in an aggregation group (AGG_ENROLL)")
        if not self.clock.is_set():
            raise MeterError(wire.E_CLOCK_NOT_SET, "clock not set: send SET_CLOCK (readings are kept)")

    def _wh(self, slot, rec):
        """The certified reading of a stored record: its AEAD opening, first 4 bytes."""
        from vwcore import aead
        k = self.keys
        pt = k.aead.decrypt(aead.record_nonce(k.meter_id, slot), rec[len(rec) - wire.CT_LEN:],
                            reading.record_ad(self.prov["group_id"], k.meter_id, slot))
        return int.from_bytes(pt[:4], "big")

    def _noise(self, slot):
        if self._agg_nkey is None:
            return 0, 0
        from vwcore import agg
        return agg.member_noise(self._agg_nkey, slot, self.agg_meta[1], self.agg_meta[2])

    def agg_fetch(self, from_slot, max_count):
        """Iterator of (slot, 60-byte share or None) for the stored readings from from_slot. Before the
        first share, the release watermark moves (durably) past every slot this call may
        release: no reduced share for them later (vwcore.agg.ReleaseLog). Slots released as
        reduced shares are skipped (their one release is made)."""
        self._need_agg()
        s = self.store
        if s.last_slot is None or s.last_slot < from_slot:
            return
        top = from_slot + max_count - 1
        top = s.last_slot if s.last_slot < top else top
        log = self._agg_rel_log()
        if log.note_shares(top):
            self._agg_rel_save()
        for slot, rec in s.iter_from(from_slot, max_count):
            if log.may_share(slot):
                n1, n2 = self._noise(slot)
                yield slot, self.agg_enr.share(slot, self._wh(slot, rec), n1, n2)
            else:
                yield slot, None         # released as a reduced share: nothing sent, END moves past

    def agg_recover(self, slot, missing):
        """AGG_RECOVER: the reduced share of the slot without the missing members, if this meter
        released nothing else for the slot (vwcore.agg.ReleaseLog, saved before answering)."""
        self._need_agg()
        rec = None
        for sl, r in self.store.iter_from(slot, 1):
            if sl == slot:
                rec = r
        if rec is None:
            raise MeterError(wire.E_UNKNOWN_SLOT, "no reading stored for slot %d" % slot)
        from vwcore import agg
        try:
            self.agg_enr.present_peers(missing)
        except agg.AggError as e:
            raise MeterError(wire.E_BAD_MEMBERS, str(e))
        log = self._agg_rel_log()
        try:
            changed = log.reduce(slot, agg.missing_digest(missing), self.store.first_slot)
        except agg.AggError as e:
            raise MeterError(wire.E_RELEASED, str(e))
        if changed:
            self._agg_rel_save()
        n1, n2 = self._noise(slot)
        return self.agg_enr.reduced_share(slot, self._wh(slot, rec), missing, n1, n2)
