"""Device commands for meter engineers: info, provision, deploy, flash, sim.

- provision: send PROVISION over serial with host entropy, a fresh admin secret and the
  customer key; the METER makes its signing/commitment and aggregation secrets itself and
  never exports them. Write meter.pub.json (public key from INFO, for the supplier and the
  customer) and meter.admin.json (the engineer's management credential: RESET and clock
  changes only, it cannot sign readings; created with mode 0600), and print the customer
  code once for the meter label (written to a file only with --save-code).
- deploy: copy the firmware (vwcore, vwmeter, the board's vwhal and the hal/common
  modules) and the vwcrypto natmod to a board with mpremote, or adafruit-ampy as fallback.
- flash: esptool for ESP32 boards with a firmware image the user gives; Nucleo STM32
  boards (--board) with pyocd, st-flash or dfu-util and the image `make stm32` builds.
- sim: simulated meters (the real firmware on the unix MicroPython) behind ptys.
"""
from __future__ import annotations

import argparse
import calendar
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import resources
from .errors import EXIT_OK, DeviceError, VeriwattError

ADMIN_FORMAT = "veriwatt-meter-admin/1"
OLD_SECRET_FORMAT = "veriwatt-meter-secret/1"   # before meters made their own keys (held sig_secret)
NATMOD_ARCH = {"esp32": "xtensawin", "esp32c3": "rv32imc", "stm32": "armv7emsp", "stm32f4": "armv7emsp",
               "cortex-m3": "armv7m", "x64": "x64", "unix": "x64"}


def _venv_tool(name: str) -> Optional[str]:
    cand = Path(sys.executable).parent / name
    if cand.exists():
        return str(cand)
    return shutil.which(name)


def parse_clock(text: Optional[str], option: str = "--clock") -> int:
    if text in (None, "now"):
        return int(time.time())
    if text.isdigit():
        return int(text)
    try:
        fmt = "%Y-%m-%dT%H:%M:%S" if "T" in text else "%Y-%m-%d"
        return calendar.timegm(time.strptime(text.rstrip("Z"), fmt))
    except ValueError:
        raise VeriwattError("bad %s %r: give unix seconds, YYYY-MM-DD[THH:MM:SS] (UTC) or now" % (option, text))


# ------------------------------------------------------------------ info / provision
def cmd_info(args: argparse.Namespace) -> int:
    """Identify the meter on a serial port (HELLO -> INFO)."""
    from . import keys, serial_client, slots

    with serial_client.MeterLink(args.port, args.baud, args.timeout, args.retries) as link:
        info = link.hello()
    out = dict(info)
    out["meter_id"] = info["meter_id"].hex()
    out["challenge"] = info["challenge"].hex()
    out["sig_pub"] = None if info["sig_pub"] is None else "%x" % info["sig_pub"]
    out["agg_pub"] = None if info["agg_pub"] is None else "%x" % info["agg_pub"]
    if info["sig_pub"] is not None:
        out["key_id"] = keys.meter_public(info["meter_id"], info["sig_pub"], info["group_id"])["key_id"]
    if args.json:
        print(json.dumps(out, indent=1, sort_keys=True))
        return EXIT_OK
    lines = ["meter on %s: firmware %s, protocol %d, group %d" % (args.port, info["fw_version"], info["proto_version"], info["group_id"])]
    if not info["provisioned"]:
        lines.append("  not provisioned: run veriwatt provision %s" % args.port)
    else:
        lines.append("  meter id %s, key id %s" % (out["meter_id"], out.get("key_id")))
    lines.append("  clock %s" % (time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(info["clock"])) if info["clock_set"] else "not set"))
    if info.get("clock_unverified"):
        lines.append("  clock UNVERIFIED: set without the engineer's tag after the meter lost it; check it, then "
                     "veriwatt set-clock %s --admin meter.admin.json" % args.port)
    if info["first_slot"] != 0xFFFFFFFF:
        lines.append("  readings stored: %d of %d, slots %d..%d (%s .. %s), %d not acknowledged" % (
            info["used"], info["capacity"], info["first_slot"], info["last_slot"],
            slots.slot_start(info["first_slot"]).strftime("%Y-%m-%d %H:%M"),
            slots.slot_start(info["last_slot"]).strftime("%Y-%m-%d %H:%M"), info["unacked"]))
    else:
        lines.append("  no readings stored (capacity %d)" % info["capacity"])
    print("\n".join(lines))
    return EXIT_OK


def write_private(path: str, obj: Any) -> None:
    """Write JSON to a NEW file created with mode 0600 (os.open O_CREAT|O_EXCL: never readable by
    others, not even for a moment; an existing file is not overwritten)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise VeriwattError("%s exists already: move it away or choose another --name / --out" % path)
    except OSError as e:
        raise VeriwattError("cannot create %s: %s" % (path, e.strerror))
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(obj, indent=1) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _check_public_key(y: Optional[int], G: Any, what: str, port: str) -> int:
    """The meter's public key from INFO must be an element of the order-q subgroup."""
    from vwcore import modexp

    if y is None or not (1 < y < G.p - 1) or modexp.powmod(y, G.q, G.p) != 1:
        raise DeviceError("meter %s reports no valid %s public key after PROVISION: firmware fault, do not use it"
                          % (port, what))
    return y


def provision(link: Any, meter_id: bytes, out_dir: str, clock: int, grp: str = "2048",
              customer_key: Optional[bytes] = None, name: str = "meter",
              save_code: Optional[str] = None) -> Dict[str, Any]:
    """Provision the meter on `link`; write OUT/NAME.pub.json and OUT/NAME.admin.json (mode 0600).

    The meter generates its signing/commitment and aggregation secrets itself (its RNG mixed
    with the host entropy sent here; docs/PROTOCOL.md); the host keeps only the public keys and
    the admin secret (RESET / SET_CLOCK). The customer code is returned (shown once for the
    label) and written only to `save_code` if given."""
    from vwcore import aead, group

    from . import keys, tariff

    G = group.get(grp)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    pub_path, adm_path = str(Path(out_dir) / (name + ".pub.json")), str(Path(out_dir) / (name + ".admin.json"))
    for path in (adm_path, save_code):
        if path and os.path.exists(path):
            raise VeriwattError("%s exists already: move it away or choose another --name / --out" % path)
    info = link.hello()
    if info["provisioned"]:
        raise DeviceError("meter %s is already provisioned (meter id %s): reset it first with its admin file, "
                          "or use another meter" % (link.name, info["meter_id"].hex()))
    host_entropy, admin_secret = os.urandom(32), os.urandom(32)
    ck = customer_key or os.urandom(aead.CODE_BYTES)
    # the credential is on disk BEFORE the meter takes it: a crash below never leaves a meter
    # that nobody can reset
    write_private(adm_path, {"format": ADMIN_FORMAT, "meter_id": meter_id.hex(), "group": G.name,
                             "admin_secret": admin_secret.hex(),
                             "provisioned": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                             "note": "engineer's management credential: authorises RESET and clock changes of "
                                     "this meter only; it cannot sign readings or open them"})
    try:
        link.provision(meter_id, G.id, clock, host_entropy, admin_secret, ck)
    except DeviceError:
        try:
            took = link.hello()
        except DeviceError:
            raise DeviceError("meter %s did not answer PROVISION; %s is kept in case it took it: check with "
                              "veriwatt info %s" % (link.name, adm_path, link.name))
        if not (took["provisioned"] and took["meter_id"] == meter_id):
            os.remove(adm_path)
            raise
    info = link.hello()
    if not info["provisioned"] or info["meter_id"] != meter_id:
        raise DeviceError("meter %s did not take the provisioning (reports meter id %s)" % (link.name, info["meter_id"].hex()))
    y = _check_public_key(info["sig_pub"], G, "signing", link.name)
    _check_public_key(info["agg_pub"], G, "aggregation", link.name)
    pub = keys.meter_public(meter_id, y, G)
    tariff.write_json(pub_path, pub)
    code = aead.format_customer_code(ck)
    if save_code:
        write_private(save_code, {"format": "veriwatt-customer-code/1", "meter_id": meter_id.hex(), "customer_code": code})
    from . import webaccess  # the web service's access verifier (docs/WEB.md): public, for the supplier
    verifier = webaccess.verifier_of(webaccess.token_from_key(ck, meter_id).hex())
    return {"meter_id": meter_id.hex(), "key_id": pub["key_id"], "customer_code": code, "public_key_file": pub_path,
            "admin_file": adm_path, "code_file": save_code, "clock": clock, "access_verifier": verifier,
            "pub": pub, "customer_key": ck}


def cmd_provision(args: argparse.Namespace) -> int:
    """Provision a meter: it makes its own keys; clock, customer code; writes meter.pub.json and meter.admin.json."""
    from . import records, serial_client

    mid = records.meter_id_bytes(args.meter_id) if args.meter_id else os.urandom(8)
    with serial_client.MeterLink(args.port, args.baud, args.timeout, args.retries) as link:
        res = provision(link, mid, args.out, parse_clock(args.clock), args.group, name=args.name,
                        save_code=args.save_code)
    res.pop("pub")
    res.pop("customer_key")
    if args.json:
        print(json.dumps(res, indent=1, sort_keys=True))
    else:
        print("provisioned meter %s on %s (key id %s); the meter made its own signing key\n"
              "  public key: %s (give to the supplier and the customer)\n"
              "  admin file: %s (reset / set-clock only; keep private)\n"
              "  customer code for the label: %s (shown once%s)\n"
              "  web access verifier: %s (for the supplier's service: veriwatt serve --register / web-register)"
              % (res["meter_id"], args.port, res["key_id"], res["public_key_file"], res["admin_file"], res["customer_code"],
                 ", also in %s" % res["code_file"] if res["code_file"] else ": not stored on this computer",
                 res["access_verifier"]))
    return EXIT_OK


def load_admin_file(path: str) -> Tuple[bytes, bytes]:
    """(meter id, admin secret) from the engineer's admin file (NAME.admin.json). A record of the
    old format (veriwatt-meter-secret/1, from before meters made their own keys) is accepted for
    the meters it provisioned (their admin key is that record's sig_secret), with a warning."""
    from . import tariff

    sec = tariff.load_json(path, "meter admin")
    try:
        fmt = sec.get("format")
        if fmt == ADMIN_FORMAT:
            key = bytes.fromhex(sec["admin_secret"])
        elif fmt == OLD_SECRET_FORMAT:
            key = bytes.fromhex(sec["sig_secret"])
            print("veriwatt: warning: %s is an old secret file holding the meter's SIGNING key: whoever has it can "
                  "forge this meter's readings. Reset the meter, provision it again (it then makes its own keys) "
                  "and delete the file." % path, file=sys.stderr)
        else:
            raise ValueError
        mid = bytes.fromhex(sec["meter_id"])
        if len(key) != 32 or len(mid) != 8:
            raise ValueError
    except (AttributeError, KeyError, TypeError, ValueError):
        raise VeriwattError("%s is not a meter admin file (%s with meter_id and admin_secret)" % (path, ADMIN_FORMAT))
    return mid, key


def cmd_wait(args: argparse.Namespace) -> int:
    """Wait until the meter has certified every slot of a period (HELLO -> INFO, polled): on a
    simulated meter a month passes in seconds, on a real one this waits for the period to end."""
    from . import serial_client, slots

    start, end = slots.parse_period(args.period, args.tz)
    deadline = time.monotonic() + args.max_wait if args.max_wait else None
    with serial_client.MeterLink(args.port, args.baud, args.timeout, args.retries) as link:
        while True:
            info = link.hello()
            if not info["provisioned"]:
                raise DeviceError("meter on %s is not provisioned: run veriwatt provision %s first" % (args.port, args.port))
            last = info["last_slot"] if info["first_slot"] != 0xFFFFFFFF else None
            if last is not None and last >= end - 1:
                break
            if deadline is not None and time.monotonic() > deadline:
                clock = (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(info["clock"]))
                         if info["clock_set"] else "not set")
                raise DeviceError("period %s not complete after %d s: the meter's clock is at %s, its newest "
                                  "reading is slot %s and the period ends at slot %d; wait longer (--max-wait)"
                                  % (args.period, args.max_wait, clock, last, end - 1))
            time.sleep(args.poll)
    if last is not None and info["first_slot"] > start:
        print("veriwatt: note: the meter's readings start at slot %d, after the period's start %d: "
              "the period will be incomplete" % (info["first_slot"], start), file=sys.stderr)
    print("meter on %s has certified period %s (newest reading slot %d)" % (args.port, slots.describe(start, end), last))
    return EXIT_OK


def cmd_set_clock(args: argparse.Namespace) -> int:
    """Set the meter's clock (UTC). On a provisioned meter the clock decides which slot, and so which
    price, a reading gets, so the meter only accepts a change with the engineer's admin file
    (--admin: an authenticated SET_CLOCK, challenge and tag as for reset), except a drift trim of
    at most 120 s (300 s in all since the meter booted) and, when the meter lost its clock (power
    cut on a board without battery-backed RTC), a time not before its newest reading, which INFO
    then flags as unverified until an authenticated set. An unprovisioned meter takes any clock."""
    from vwcore import wire

    from . import serial_client

    t = parse_clock(args.time, "--time")
    sec = load_admin_file(args.admin) if args.admin else None
    with serial_client.MeterLink(args.port, args.baud, args.timeout, args.retries) as link:
        before = link.hello()
        if sec is not None:
            mid, admin = sec
            if before["provisioned"] and before["meter_id"] != mid:
                raise VeriwattError("%s is the admin file of meter %s, but the meter on %s is %s"
                                    % (args.admin, mid.hex(), args.port, before["meter_id"].hex()))
            link.set_clock(t, mid, admin)
        else:
            try:
                link.set_clock(t)
            except DeviceError as e:
                if e.meter_code == wire.E_AUTH:
                    raise DeviceError("%s\n  a provisioned meter takes this change only with the engineer's record: "
                                      "veriwatt set-clock %s --time %s --admin meter.admin.json" % (e, args.port, args.time))
                raise
        after = link.hello()
    old = before["clock"] if before["clock_set"] else None
    out = {"port": args.port, "clock": after["clock"], "previous": old, "authenticated": sec is not None,
           "clock_unverified": after["clock_unverified"]}
    if args.json:
        print(json.dumps(out, indent=1, sort_keys=True))
    else:
        print("meter on %s: clock %s (was %s)%s%s" % (
            args.port, time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(after["clock"])),
            time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(old)) if old is not None else "not set",
            ", authenticated" if sec is not None else "",
            "; flagged UNVERIFIED until an authenticated set-clock (--admin)" if after["clock_unverified"] else ""))
    return EXIT_OK


def cmd_reset(args: argparse.Namespace) -> int:
    """Wipe a meter back to unprovisioned (needs its admin file from provisioning)."""
    from . import serial_client

    from vwcore import wire

    mid, admin = load_admin_file(args.admin)
    with serial_client.MeterLink(args.port, args.baud, args.timeout, args.retries) as link:
        try:
            link.reset(mid, admin)
        except DeviceError as e:
            if e.meter_code == wire.E_STORAGE and "not acknowledged" in str(e):
                raise DeviceError("%s\n  collect them first, acknowledged with the customer code (on the meter label): "
                                  "veriwatt fetch %s --store STORE --code CODE" % (e, args.port),
                                  e.meter_code)
            raise
    print("meter %s on %s reset: keys and readings wiped" % (mid.hex(), args.port))
    return EXIT_OK


# ------------------------------------------------------------------ deploy / flash
def firmware_files(board: str, natmod: bool = True) -> List[Tuple[Path, str]]:
    """(local file, path on the board) for a deployment of the meter firmware."""
    files: List[Tuple[Path, str]] = []
    fw, hal_dir = resources.firmware_dir(), resources.hal_dir()
    for pkg in ("vwcore", "vwmeter"):
        found = sorted((fw / pkg).glob("*.py"))
        if not found:
            raise VeriwattError("the firmware sources are missing (%s): reinstall veriwatt" % (fw / pkg))
        for f in found:
            files.append((f, "%s/%s" % (pkg, f.name)))
    hal = hal_dir / board / "vwhal.py"
    if not hal.exists():
        raise VeriwattError("no HAL for board %r: choose one of %s" % (
            board, ", ".join(sorted(p.name for p in hal_dir.iterdir() if (p / "vwhal.py").exists()))))
    files.append((hal, "vwhal.py"))
    for f in sorted((hal_dir / "common").glob("*.py")):
        files.append((f, f.name))
    if natmod and board != "qemu":  # the QEMU board has vwcrypto built in (user C module)
        arch = NATMOD_ARCH.get(board, board)
        mpy = resources.natmod_file(arch)
        if mpy.exists():
            files.append((mpy, "lib/vwcrypto.mpy"))
        elif resources.checkout_root() is not None:
            print("veriwatt: note: %s not built (make natmods); the firmware falls back to pow()"
                  % resources.describe(mpy), file=sys.stderr)
        else:
            print("veriwatt: note: this veriwatt carries no vwcrypto natmod for %s; the firmware falls back to pow()"
                  % arch, file=sys.stderr)
    main = fw / "vwmeter" / "main.py"
    files.append((main, "main.py"))
    return files


def deploy_commands(port: str, files: List[Tuple[Path, str]], tool: str) -> List[Tuple[List[str], bool]]:
    """(command, may fail) pairs: making a folder that exists already is not an error."""
    dirs = sorted({str(Path(r).parent) for _, r in files if "/" in r})
    if tool == "mpremote":
        exe = _venv_tool("mpremote") or "mpremote"
        cmds = [([exe, "connect", port, "fs", "mkdir", ":" + d], True) for d in dirs]
        cp = [exe, "connect", port]
        for i, (l, r) in enumerate(files):
            cp += ["fs", "cp", str(l), ":" + r] + (["+"] if i < len(files) - 1 else [])
        return cmds + [(cp, False)]
    exe = _venv_tool("ampy") or "ampy"
    return ([([exe, "--port", port, "mkdir", "--exists-okay", d], True) for d in dirs] +
            [([exe, "--port", port, "put", str(l), r], False) for l, r in files])


# sys.platform of a MicroPython port -> the HAL profile for it (the stm32 port says "pyboard")
PLATFORM_HAL = {"esp32": "esp32", "pyboard": "stm32", "stm32": "stm32", "qemu": "qemu", "linux": "unix"}
PROBE = ("import os, sys; print('VWPROBE', sys.platform, '|', getattr(sys.implementation, '_machine', '') "
         "or (os.uname().machine if hasattr(os, 'uname') else '?'))")


def detect_board(port: str, timeout: float) -> Tuple[str, str]:
    """(sys.platform, os.uname().machine) of the MicroPython board on `port`, asked through
    mpremote's raw REPL (a running meter yields the line to it)."""
    exe = _venv_tool("mpremote")
    if exe is None:
        raise VeriwattError("mpremote is not installed, so the board cannot be identified: "
                            "pip install 'veriwatt[device]', or give --board")
    try:
        r = subprocess.run([exe, "connect", port, "exec", PROBE], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        r = None
    out = "" if r is None else r.stdout
    for line in out.splitlines():
        if line.startswith("VWPROBE "):
            plat, _, machine = line[8:].partition(" | ")
            return plat.strip(), machine.strip()
    last = "no answer in %d s" % timeout if r is None else \
        ((r.stderr or r.stdout).strip().splitlines() or ["exit %d" % r.returncode])[-1]
    raise DeviceError("could not identify the board on %s (%s): is it a MicroPython board with a REPL on that port? "
                      "(try `mpremote connect %s repl`)" % (port, last, port))


def choose_board(port: str, given: Optional[str], detected: Optional[Tuple[str, str]], force: bool) -> str:
    """The HAL profile to deploy: the detected board's, unless --board names another (refused
    for a board the detection recognises, unless --force) or the board is not recognised."""
    if detected is None:
        if not given:
            raise VeriwattError("--dry-run does not contact the board: give its HAL with --board esp32|stm32|qemu")
        return given
    plat, machine = detected
    hal = PLATFORM_HAL.get(plat)
    if hal is None:
        if not given:
            raise VeriwattError("the board on %s reports sys.platform %r (%s), for which there is no HAL profile: "
                                "give one with --board esp32|stm32|qemu if it fits" % (port, plat, machine))
        return given
    if given and given != hal:
        if not force:
            raise VeriwattError("the board on %s is a %s board (sys.platform %r, %s): it needs --board %s, not %s "
                                "(--force deploys the %s HAL anyway)" % (port, hal, plat, machine, hal, given, given))
        print("veriwatt: warning: deploying the %s HAL onto a %s board (--force)" % (given, hal), file=sys.stderr)
        return given
    return hal


def cmd_deploy(args: argparse.Namespace) -> int:
    """Copy the meter firmware and the vwcrypto natmod to a MicroPython board (mpremote; ampy fallback)."""
    detected = None if args.dry_run else detect_board(args.port, min(args.timeout, 60))
    board = choose_board(args.port, args.board, detected, args.force)
    if detected is not None:
        print("board on %s: sys.platform %r (%s): HAL %s" % (args.port, detected[0], detected[1], board))
    files = firmware_files(board, not args.no_natmod)
    tools = [args.tool] if args.tool != "auto" else ["mpremote", "ampy"]
    for tool in tools:
        cmds = deploy_commands(args.port, files, tool)
        if args.dry_run:
            for c, _ in cmds:
                print(" ".join(c))
            return EXIT_OK
        ok = True
        for c, may_fail in cmds:
            try:
                r = subprocess.run(c, capture_output=True, text=True, timeout=args.timeout)
            except FileNotFoundError:
                ok = False
                print("veriwatt: %s is not installed (pip install 'veriwatt[device]')" % tool, file=sys.stderr)
                break
            except subprocess.TimeoutExpired:
                ok = False
                print("veriwatt: %s timed out after %d s" % (tool, args.timeout), file=sys.stderr)
                break
            if r.returncode != 0 and not may_fail:
                ok = False
                last = ((r.stderr or r.stdout).strip().splitlines() or ["exit %d" % r.returncode])[-1]
                print("veriwatt: %s failed: %s" % (tool, last), file=sys.stderr)
                break
        if ok:
            print("deployed %d files to %s with %s; reset the board to start the meter" % (len(files), args.port, tool))
            return EXIT_OK
    raise DeviceError("could not deploy to %s: is it a MicroPython board with a REPL on that port? "
                      "(try `mpremote connect %s repl`)" % (args.port, args.port))


def cmd_stop(args: argparse.Namespace) -> int:
    """Stop the meter on a board whose meter line is its REPL's: send the interrupt sequence
    (CR, Ctrl-C; the meter stops between requests with every state change on flash) and wait
    for the REPL's prompt. mpremote sends the same sequence, so it needs no stop first."""
    import serial

    try:
        ser = serial.serial_for_url(args.port, 115200, timeout=0.1)
    except (serial.SerialException, OSError) as e:
        raise DeviceError("cannot open %s: %s" % (args.port, e))
    seen = b""
    try:
        ser.write(b"\r\x03")
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            seen = (seen + ser.read(256))[-512:]
            if b">>> " in seen or b"raw REPL" in seen:
                break
            if b"stopped" in seen:
                ser.write(b"\r")      # ask for a fresh prompt
        else:
            raise DeviceError("no REPL prompt on %s within %d s: a simulated meter has no REPL (Ctrl-C its veriwatt sim); "
                              "a board: reset it in safe mode" % (args.port, args.timeout))
    finally:
        ser.close()
    print("meter on %s stopped; the board's REPL is free (reset the board to restart the meter)" % args.port)
    return EXIT_OK


# STM32 boards veriwatt can flash (images: `make stm32`, build/stm32/<board>/firmware.*).
# Probe: the Nucleo-64's on-board ST-LINK/V2-1 (USB connector CN1) for pyocd and st-flash;
# dfu-util needs the ROM bootloader in USB DFU mode (BOOT0 jumper to VDD, reset) and a USB
# cable wired to the MCU's own PA11 (D-) / PA12 (D+) on CN10, since a Nucleo-64 has no MCU
# USB connector.
STM32_BOARDS: Dict[str, Dict[str, str]] = {
    "nucleo_f446re": {"mcu": "STM32F446RE", "pyocd_target": "stm32f446retx"},
    "nucleo_f401re": {"mcu": "STM32F401RE", "pyocd_target": "stm32f401retx"},
}
STM32_FLASH_BASE = "0x08000000"
# The port's F4 images are two pieces: sector 0 (vectors) and from sector 5 (0x08020000) on.
# Sectors 1-4 between them hold the /flash filesystem with the meter's readings, so an image
# must never be written as one contiguous .bin: that would erase them.
STM32_TEXT1_BASE = "0x08020000"
STM32_TOOL_FOR = {".hex": "pyocd", ".bin": "st-flash", ".dfu": "dfu-util"}
STM32_TOOL_TAKES = {"pyocd": (".hex", ".bin"), "st-flash": (".hex", ".bin"), "dfu-util": (".dfu",)}


def stm32_flash_commands(board: str, image: Path, tool: str = "auto") -> List[List[str]]:
    """The commands that write `image` (.hex; .dfu; or the port's firmware0.bin + firmware1.bin pair)
    to a Nucleo board.  None of them touches flash sectors 1-4 (the /flash filesystem)."""
    if board not in STM32_BOARDS:
        raise VeriwattError("unknown board %r: choose %s" % (board, ", ".join(sorted(STM32_BOARDS))))
    ext = image.suffix.lower()
    if ext not in STM32_TOOL_FOR:
        raise VeriwattError("%s: give a .hex, .bin or .dfu image (make stm32 builds build/stm32/%s/firmware.hex)"
                            % (image, board))
    if tool == "auto":
        tool = STM32_TOOL_FOR[ext]
    if ext not in STM32_TOOL_TAKES[tool]:
        raise VeriwattError("%s cannot write a %s image: give it %s" % (tool, ext, " or ".join(STM32_TOOL_TAKES[tool])))
    img = str(image)
    pieces = [(img, STM32_FLASH_BASE)]
    if ext == ".bin":
        if image.name != "firmware0.bin":
            raise VeriwattError("%s: a .bin must be the port's firmware0.bin (0x08000000) with firmware1.bin "
                                "(0x08020000) beside it, so that the filesystem sectors between them survive; "
                                "or give the .hex" % image)
        pieces.append((str(image.with_name("firmware1.bin")), STM32_TEXT1_BASE))
    if tool == "pyocd":
        exe = _venv_tool("pyocd") or "pyocd"
        cmd = [exe, "flash", "--target", STM32_BOARDS[board]["pyocd_target"]]
        if ext == ".hex":
            return [cmd + [img]]
        return [cmd + ["--base-address", base, path] for path, base in pieces]
    if tool == "st-flash":
        if ext == ".hex":
            return [["st-flash", "--reset", "--format", "ihex", "write", img]]
        return [["st-flash"] + (["--reset"] if i == len(pieces) - 1 else []) + ["write", path, base]
                for i, (path, base) in enumerate(pieces)]
    return [["dfu-util", "--alt", "0", "--download", img]]


def _flash_stm32(args: argparse.Namespace) -> int:
    image = args.image or args.port
    if not image:
        raise VeriwattError("give the firmware image: veriwatt flash --board %s build/stm32/%s/firmware.hex"
                            % (args.board, args.board))
    img = Path(image)
    cmds = stm32_flash_commands(args.board, img, args.tool)
    if not args.dry_run and not img.is_file():
        raise VeriwattError("firmware image %s not found (make stm32 builds it)" % image)
    for c in cmds:
        print(" ".join(c))
        if args.dry_run:
            continue
        try:
            r = subprocess.run(c)
        except FileNotFoundError:
            raise DeviceError("%s is not installed (pyocd: pip install pyocd; st-flash: apt install stlink-tools; "
                              "dfu-util: apt install dfu-util)" % c[0])
        if r.returncode != 0:
            hint = ("put the board in DFU mode (BOOT0 to VDD, reset) with USB on PA11/PA12" if c[0] == "dfu-util"
                    else "connect the Nucleo's ST-LINK USB (CN1) and check `%s`" % (
                        "pyocd list" if "pyocd" in c[0] else "st-info --probe"))
            raise DeviceError("%s failed (exit %d): %s" % (c[0], r.returncode, hint))
    if not args.dry_run:
        print("flashed %s to the %s; the meter is frozen in: open its serial port (ST-LINK virtual COM port), "
              "then veriwatt provision PORT" % (image, STM32_BOARDS[args.board]["mcu"]))
    return EXIT_OK


STM32_HELP = """STM32 boards: give --board (%s) and the image that `make stm32` builds
(build/stm32/<board>/firmware.hex, .dfu or firmware0.bin, with vwcrypto and the meter frozen in):
  veriwatt flash --board nucleo_f446re build/stm32/nucleo_f446re/firmware.hex
Probe: the Nucleo's on-board ST-LINK (pyocd, st-flash) or USB DFU (dfu-util, BOOT0 high).""" % (
    ", ".join(sorted(STM32_BOARDS)))


def cmd_flash(args: argparse.Namespace) -> int:
    """Write a MicroPython firmware image: ESP32 with esptool, Nucleo STM32 boards (--board) with
    pyocd / st-flash / dfu-util."""
    if args.board:
        return _flash_stm32(args)
    if args.chip.startswith("stm32"):
        print(STM32_HELP)
        return EXIT_OK
    if not args.port:
        raise VeriwattError("give the serial port: veriwatt flash PORT --image ESP32_GENERIC-v1.25.0.bin")
    if not args.image:
        raise VeriwattError("give the firmware image: veriwatt flash PORT --image ESP32_GENERIC-v1.25.0.bin")
    img = Path(args.image)
    if not args.dry_run and not img.is_file():
        raise VeriwattError("firmware image %s not found" % args.image)
    offset = args.offset or ("0x1000" if args.chip == "esp32" else "0x0")
    exe = _venv_tool("esptool.py") or _venv_tool("esptool") or "esptool.py"
    cmds = []
    if args.erase:
        cmds.append([exe, "--chip", args.chip, "--port", args.port, "erase_flash"])
    cmds.append([exe, "--chip", args.chip, "--port", args.port, "--baud", str(args.baud), "write_flash", "-z", offset, str(img)])
    for c in cmds:
        print(" ".join(c))
        if args.dry_run:
            continue
        r = subprocess.run(c)
        if r.returncode != 0:
            raise DeviceError("esptool failed (exit %d): hold BOOT while pressing RESET to enter the bootloader, "
                              "check the port, and try a lower --baud" % r.returncode)
    if not args.dry_run:
        print("flashed %s; now: veriwatt deploy %s --board %s" % (args.image, args.port, args.chip))
    return EXIT_OK


# ------------------------------------------------------------------ sim
def load_meter_sim() -> Any:
    """The simulator module (veriwatt.meter_sim: the firmware sources come from veriwatt.resources)."""
    from . import meter_sim

    return meter_sim


def natmod_env(ms: Any) -> Dict[str, str]:
    """Put the x64 vwcrypto natmod on the simulated meters' path when it is built (or carried by
    the installed package); VERIWATT_SIM_NATMOD=0 leaves it out: the firmware then uses pow()."""
    nat = resources.natmod_dir("x64")
    if os.environ.get("VERIWATT_SIM_NATMOD") != "0" and (nat / "vwcrypto.mpy").exists():
        return {"MICROPYPATH": ms.micropypath([nat])}
    return {}


def start_sim(n: int, storage: str, speed: int, start: Any, seed: int = 1, baud: int = 0, natmod: bool = True) -> Any:
    ms = load_meter_sim()
    natmod = natmod and os.environ.get("VERIWATT_SIM_NATMOD") != "0"
    try:
        sim = ms.MeterSim(n=n, seed=seed, storage=storage, speed=speed, start=start, baud=baud,
                          extra_env=natmod_env(ms) if natmod else {}, natmod=natmod)
        return sim.start()
    except SystemExit as e:  # meter_sim reports a missing micropython this way
        raise VeriwattError(str(e))


def cmd_sim(args: argparse.Namespace) -> int:
    """Start simulated meters (the real firmware on the unix MicroPython) and print their pty paths."""
    from .ptyrelay import PtyRelay

    sim = start_sim(args.meters, args.storage, args.speed, args.start, args.seed, args.baud, not args.no_natmod)
    relays = []
    try:
        ports = []
        for m in sim.meters:
            port = m.port
            if args.noise:
                r = PtyRelay(m.port, noise=args.noise, seed=args.seed + m.index).start()
                relays.append(r)
                port = r.path
            ports.append({"index": m.index, "port": port, "pid": m.proc.pid, "storage": str(m.storage)})
        if args.json:
            print(json.dumps({"meters": ports, "speed": args.speed}), flush=True)
        else:
            for p in ports:
                print("meter %d: %s  (pid %d, storage %s)" % (p["index"], p["port"], p["pid"], p["storage"]), flush=True)
            print("%d simulated seconds per second%s; Ctrl-C to stop. Next: veriwatt provision %s"
                  % (args.speed, ", %.0e of bytes corrupted" % args.noise if args.noise else "", ports[0]["port"]), flush=True)
        deadline = time.monotonic() + args.duration if args.duration else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.5)
            if all(m.proc.poll() is not None for m in sim.meters):
                raise DeviceError("every simulated meter exited: see %s/meter*/stderr.log" % args.storage)
    except KeyboardInterrupt:
        pass
    finally:
        for r in relays:
            r.stop()
        sim.stop()
    return EXIT_OK


# ------------------------------------------------------------------ registration
def register(add: Callable[..., argparse.ArgumentParser], json_arg: Callable, store_args: Callable) -> None:
    def line_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("port", help="serial port: /dev/ttyUSB0, a simulated meter's pty, or a pyserial URL")
        p.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
        p.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for an answer (default 2)")
        p.add_argument("--retries", type=int, default=4, help="retries per request (default 4)")

    p = add("info", cmd_info, "identify the meter on a serial port")
    line_args(p)
    json_arg(p)

    p = add("provision", cmd_provision, "give a meter its keys, clock and customer code")
    line_args(p)
    p.add_argument("--meter-id", help="16 hex digits (default: random)")
    p.add_argument("--clock", default="now", help="meter clock: unix seconds, YYYY-MM-DD[THH:MM:SS] UTC, or now")
    p.add_argument("--group", default="2048", choices=["2048", "3072"], help="group (default 2048)")
    p.add_argument("--out", default=".", help="folder for the key files (default .)")
    p.add_argument("--name", default="meter", help="file name stem: NAME.pub.json, NAME.admin.json (default meter)")
    p.add_argument("--save-code", metavar="FILE", help="also write the customer code to FILE (mode 0600); "
                   "by default it is only printed, for the meter label")
    json_arg(p)

    p = add("wait", cmd_wait, "wait until the meter has certified every slot of a period")
    line_args(p)
    p.add_argument("--period", required=True, help="YYYY-MM (a month), START:END slots or YYYY-MM-DD..YYYY-MM-DD")
    p.add_argument("--tz", default="UTC", help="time zone of a month or dates (default UTC)")
    p.add_argument("--max-wait", type=float, default=600, help="give up after this many seconds (default 600; 0: no limit)")
    p.add_argument("--poll", type=float, default=0.5, help="seconds between two questions to the meter (default 0.5)")

    p = add("set-clock", cmd_set_clock, "set a meter's clock (provisioned meters: needs its admin file beyond a drift trim)")
    line_args(p)
    p.add_argument("--time", default="now", help="unix seconds, YYYY-MM-DD[THH:MM:SS] UTC, or now (default now)")
    p.add_argument("--admin", "--secret", dest="admin", metavar="FILE",
                   help="the meter's admin file from provisioning (NAME.admin.json): authenticates the change")
    json_arg(p)

    p = add("reset", cmd_reset, "wipe a meter back to unprovisioned (needs its admin file)")
    line_args(p)
    p.add_argument("--admin", "--secret", dest="admin", metavar="FILE", required=True,
                   help="the meter's admin file from provisioning (NAME.admin.json)")

    p = add("deploy", cmd_deploy, "copy the firmware and natmod to a board (mpremote; ampy fallback)")
    p.add_argument("port", help="the board's serial port (e.g. /dev/ttyUSB0)")
    p.add_argument("--board", default=None, help="HAL profile: esp32, stm32, qemu, unix (default: the board's own, "
                   "from sys.platform asked through mpremote; needed with --dry-run)")
    p.add_argument("--force", action="store_true", help="deploy --board's HAL even onto a board detected as another")
    p.add_argument("--tool", default="auto", choices=["auto", "mpremote", "ampy"], help="copy tool (default: mpremote, then ampy)")
    p.add_argument("--no-natmod", action="store_true", help="do not copy the vwcrypto natmod")
    p.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    p.add_argument("--timeout", type=int, default=120, help="seconds allowed for the copy (default 120)")

    p = add("stop", cmd_stop, "stop the meter on a board and free its REPL (mpremote does it by itself)")
    p.add_argument("port", help="the board's serial port")
    p.add_argument("--timeout", type=int, default=10, help="seconds to wait for the REPL prompt (default 10)")

    p = add("flash", cmd_flash, "write MicroPython to an ESP32 (esptool) or a Nucleo STM32 board (pyocd, st-flash, dfu-util)")
    p.add_argument("port", nargs="?", help="ESP32: the board's serial port; with --board: the image")
    p.add_argument("--image", help="firmware image: ESP32 .bin; STM32 .hex, .dfu or firmware0.bin (+ firmware1.bin beside it)")
    p.add_argument("--board", choices=sorted(STM32_BOARDS),
                   help="STM32 board: flash the image that `make stm32` builds (build/stm32/BOARD/firmware.hex)")
    p.add_argument("--tool", default="auto", choices=["auto", "pyocd", "st-flash", "dfu-util"],
                   help="STM32 flashing tool (default: pyocd for .hex, st-flash for .bin, dfu-util for .dfu)")
    p.add_argument("--chip", default="esp32", help="esp32, esp32s3, esp32c3, ... or stm32 (prints the STM32 path)")
    p.add_argument("--offset", help="flash offset (default 0x1000 for esp32, 0x0 otherwise)")
    p.add_argument("--baud", type=int, default=460800, help="flashing baud rate (default 460800)")
    p.add_argument("--erase", action="store_true", help="erase the whole flash first")
    p.add_argument("--dry-run", action="store_true", help="print the flashing commands only")

    p = add("sim", cmd_sim, "start simulated meters and print their pty paths")
    p.add_argument("--meters", "-n", type=int, default=1, help="number of meters (default 1)")
    p.add_argument("--storage", default="sim-data", help="folder for the meters' flash (default sim-data)")
    p.add_argument("--speed", type=int, default=1800, help="simulated seconds per second (default 1800: a slot a second)")
    p.add_argument("--start", default="none", help="clock at first boot: YYYY-MM-DD, unix seconds, now, or none "
                   "(default: unset until provisioning)")
    p.add_argument("--seed", type=int, default=1, help="household seed of meter 0")
    p.add_argument("--baud", type=int, default=0, help="throttle meter->host to this baud rate (default: no limit)")
    p.add_argument("--noise", type=float, default=0.0, help="corrupt this fraction of bytes on each line (e.g. 1e-3)")
    p.add_argument("--duration", type=float, default=0, help="stop after this many seconds (default: run until Ctrl-C)")
    p.add_argument("--no-natmod", action="store_true", help="do not load the vwcrypto natmod (use pow)")
    json_arg(p)
