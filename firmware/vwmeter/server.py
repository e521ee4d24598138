# SPDX-License-Identifier: MIT
# Serial server: wire.py frames in, responses out, interleaved with slot closing (no
# threads).  Every request is answered: a decodable request with its response, a request
# the meter refuses with ERROR (code, request type, reason), and any stretch of bytes the
# decoder rejects (garbage, bad header check, bad CRC, unsupported version, or a frame
# left incomplete for INTERBYTE_MS) with one ERROR(E_BAD_FRAME / E_BAD_VERSION, seq 0).
# Rejected input never reaches a handler, so it cannot change state.
#
# Yielding to the REPL: when the line is also the MicroPython REPL's (serial.repl_line, the
# stdio HALs), an interrupt sequence outside any frame - CR or Ctrl-C followed by Ctrl-C
# (0x0D 0x03 or 0x03 0x03, what mpremote and pyboard.py send before Ctrl-A), as garbage while
# the decoder holds no partial frame - stops run() between two requests (every state change
# is already on flash), so main() returns to the REPL and mpremote proceeds. Inside a frame
# the same bytes are payload (the decoder is not idle, or the read holds a SYNC byte).
import gc

from vwcore import wire

from vwmeter import MeterError

POLL_MS = 20  # serial poll timeout when idle
INTERBYTE_MS = 500  # an incomplete frame older than this is dropped as truncated
FETCH_DEFAULT = 256  # FETCH max_count 0: the meter's choice
FETCH_MAX = 4096


class Server:
    def __init__(self, meter, serial, ticks_ms=None):
        self.meter = meter
        self.serial = serial
        self.ticks_ms = ticks_ms
        self._rejects = []
        self.dec = wire.Decoder(on_reject=self._on_reject, keep=0)
        self.n_requests = 0
        self.n_errors = 0
        self._last_rx = 0
        self.stopped = None  # reason, once the loop yielded the line
        self._yields = getattr(serial, "repl_line", False)
        self._prev = -1  # last byte of the previous read if it was all garbage

    def _on_reject(self, reason, n):
        self._rejects.append((reason, n))

    def send(self, mtype, seq, payload=b""):
        self.serial.write(wire.encode_frame(mtype, seq, payload))

    def error(self, seq, code, reason, req_type=0):
        self.n_errors += 1
        self.send(wire.ERROR, seq, wire.encode_error(code, reason, req_type))

    def _report_rejects(self):
        if not self._rejects:
            return
        reason, _ = self._rejects[0]
        total = 0
        for _r, n in self._rejects:
            total += n
        self._rejects = []
        code = wire.E_BAD_VERSION if reason.startswith("unsupported version") else wire.E_BAD_FRAME
        self.error(0, code, "%s (%d bytes dropped)" % (reason, total))

    # ------------------------------------------------------------ requests
    def handle(self, f):
        self.n_requests += 1
        m = self.meter
        t = f.mtype
        try:
            if t & 0x80 or t not in (
                wire.HELLO,
                wire.PROVISION,
                wire.RESET,
                wire.SET_CLOCK,
                wire.FETCH,
                wire.ACK,
                wire.AGG_ENROLL,
                wire.AGG_FETCH,
                wire.AGG_RECOVER,
            ):
                if t not in wire._BILL_TYPES:
                    raise MeterError(wire.E_UNKNOWN_TYPE, "unknown request type 0x%02x" % t)
                # meter billing (vwmeter/billing.py): ERROR 4 unprovisioned, 2 left out of the image
                m.billing()
            try:
                p = wire.decode_payload(t, f.payload)
            except ValueError as e:
                raise MeterError(wire.E_BAD_PAYLOAD, str(e))
            if t == wire.HELLO:
                self.send(wire.INFO, f.seq, wire.encode_info(m.info()))
            elif t == wire.FETCH or t == wire.AGG_FETCH:
                n = p["max_count"] or FETCH_DEFAULT
                n = n if n < FETCH_MAX else FETCH_MAX
                if t == wire.FETCH:
                    self._stream(f.seq, wire.READING, p["from_slot"], m.fetch(p["from_slot"], n))
                else:
                    # like FETCH; each share is derived from the stored reading as it is sent
                    self._stream(f.seq, wire.AGG_SHARE, p["from_slot"], m.agg_fetch(p["from_slot"], n))
            elif t == wire.AGG_ENROLL:
                r = m.agg_enroll(p)
                if r is None:
                    self.send(wire.OK, f.seq, wire.encode_ok(t))
                else:
                    from vwcore import aggwire

                    self.send(wire.AGG_ENROLLED, f.seq, aggwire.encode_agg_enrolled(r[0], r[1]))
            elif t == wire.AGG_RECOVER:
                self.send(wire.AGG_RECOVERY, f.seq, m.agg_recover(p["slot"], p["missing"]))
            elif t in wire._BILL_TYPES:
                r = m.billing().handle(t, p, m.policy)
                self.send(wire.BILL if r else wire.OK, f.seq, r or wire.encode_ok(t))
            else:
                if t == wire.PROVISION:
                    m.provision(p)
                elif t == wire.RESET:
                    m.reset(p)
                elif t == wire.SET_CLOCK:
                    m.set_clock(p["clock"], p["challenge"], p["tag"])
                elif t == wire.ACK:
                    m.ack(p["up_to_slot"], p["tag"])
                self.send(wire.OK, f.seq, wire.encode_ok(t))
        except MeterError as e:
            self.error(f.seq, e.code, e.reason, t)
        except OSError as e:
            self.error(f.seq, wire.E_STORAGE, "storage error %s" % e, t)
        except MemoryError:
            # the host resends: an AGG_ENROLL part may be sent again (EnrollBuilder.add is all or
            # nothing); a COMMIT that ran out dropped its pending enrollment, so its resend is
            # refused (ERROR 13: start again); the other requests are safe to repeat or refused
            p = None
            self.out_of_memory(f.seq, t)
        except Exception as e:  # never let one request kill the meter
            self.error(f.seq, wire.E_INTERNAL, "%s: %s" % (type(e).__name__, e), t)

    def _stream(self, seq, mtype, nxt, items):
        """Answer FETCH / AGG_FETCH: one mtype frame per (slot, payload) of items (payload None:
        the slot was released as a reduced share, nothing to send), then END(next, count, more)."""
        count = 0
        for slot, payload in items:
            if payload is not None:
                self.send(mtype, seq, payload)
                count += 1
            nxt = slot + 1
        last = self.meter.metering.store.last_slot
        more = last is not None and nxt <= last
        self.send(wire.END, seq, wire.encode_end(nxt, count, more))

    # ------------------------------------------------------------ main loop
    def interrupt(self, data):
        """True if `data` (one read, which ends at a 0x03) completes the REPL interrupt
        sequence outside any frame: the read is the whole sequence, or its 0x03 after a read
        that was the lone first byte. A read with more before them (the rest of a frame the
        decoder dropped as truncated, line noise) is not an interrupt."""
        if self.dec.pending() or data.find(wire.SYNC[:1]) >= 0:
            self._prev = -1
            return False
        if data[-1] == 3 and len(data) <= 2:
            p = data[0] if len(data) == 2 else self._prev
            if p == 0x0D or p == 3:
                return True
        self._prev = data[0] if len(data) == 1 else -1
        return False

    def poll(self):
        """One turn: read what the line has, answer complete frames, drop stale partial
        frames, then close at most one slot."""
        busy = self.meter.backlog() > 0
        data = self.serial.read(512, 0 if busy else POLL_MS)
        now = self.ticks_ms() if self.ticks_ms else 0
        if data:
            self._last_rx = now
            if self._yields and self.interrupt(data):
                self.stopped = "interrupt (Ctrl-C) on the line"
                return
            for f in self.dec.feed(data):
                self._report_rejects()
                self.handle(f)
            self._report_rejects()
        elif self.dec.pending() and self.ticks_ms and now - self._last_rx > INTERBYTE_MS:
            # the line went quiet inside a frame: reject it as truncated; frames it had
            # swallowed (a good frame after a stray SYNC) are still answered
            frames = self.dec.flush() or []
            self._report_rejects()
            for f in frames:
                self.handle(f)
        try:
            self.meter.tick(self.ticks_ms)
        except OSError as e:
            self.meter.metering.last_error = "storage error %s" % e
        except MeterError as e:
            self.meter.metering.last_error = e.reason
        except MemoryError:
            # metering comes first: a half-received enrollment gives its memory back (the
            # slot is closed again next turn)
            self.meter.agg_drop_pending()
            self.meter.metering.last_error = "out of memory closing a slot"
        gc.collect()

    def out_of_memory(self, seq=0, req_type=0):
        """After a MemoryError: drop the input buffered (a partial frame; with seq 0 also the
        frame being copied) and answer ERROR(E_NO_MEMORY), so the host sends it again."""
        self._rejects = []
        if not seq:
            self.dec.reset()
        gc.collect()
        try:
            self.error(seq, wire.E_NO_MEMORY, "out of memory: send again", req_type)
        except MemoryError:
            gc.collect()  # not even the answer fits: the host's timeout resends

    def run(self):
        """Serve until the line's interrupt sequence (see the head of this file). Nothing that
        arrives on the line ends the loop: an exception a turn lets out (a MemoryError while
        buffering or decoding input, say) is answered with ERROR and serving goes on."""
        while self.stopped is None:
            try:
                self.poll()
            except EOFError:
                raise  # unix: the host side of the line went away (main returns)
            except MemoryError:
                self.out_of_memory()
            except Exception as e:
                self.dec.reset()
                self._rejects = []
                gc.collect()
                try:
                    self.error(0, wire.E_INTERNAL, "%s: %s (input dropped)" % (type(e).__name__, e))
                except Exception:
                    pass
