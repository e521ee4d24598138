# SPDX-License-Identifier: MIT
"""Device operations for meter engineers (a library: the CLI's handlers live in cli_commands):
info, provision, wait, set-clock, reset, deploy, stop, flash, sim.

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

import calendar
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import resources
from .errors import DeviceError, VeriwattError, stderr_note
from .serial_client import DEFAULT_BAUD, DEFAULT_RETRIES, DEFAULT_TIMEOUT

ADMIN_FORMAT = "veriwatt-meter-admin/1"
OLD_SECRET_FORMAT = "veriwatt-meter-secret/1"  # before meters made their own keys (held sig_secret)
NATMOD_ARCH = {
    "esp32": "xtensawin",
    "esp32c3": "rv32imc",
    "stm32": "armv7emsp",
    "stm32f4": "armv7emsp",
    "cortex-m3": "armv7m",
    "x64": "x64",
    "unix": "x64",
}


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
def _link(port: str, baud: int, timeout: float, retries: int) -> Any:
    from . import serial_client

    return serial_client.MeterLink(port, baud, timeout, retries)


def info(
    port: str, baud: int = DEFAULT_BAUD, timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES
) -> Dict[str, Any]:
    """Identify the meter on a serial port (HELLO -> INFO): the INFO fields with the meter id,
    challenge and public keys in hex, plus "key_id" once provisioned."""
    from . import keys

    with _link(port, baud, timeout, retries) as link:
        inf = link.hello()
    out = dict(inf)
    out["meter_id"] = inf["meter_id"].hex()
    out["challenge"] = inf["challenge"].hex()
    out["sig_pub"] = None if inf["sig_pub"] is None else "%x" % inf["sig_pub"]
    out["agg_pub"] = None if inf["agg_pub"] is None else "%x" % inf["agg_pub"]
    if inf["sig_pub"] is not None:
        out["key_id"] = keys.meter_public(inf["meter_id"], inf["sig_pub"], inf["group_id"])["key_id"]
    return out


def write_private(path: str, obj: Any) -> None:
    """A NEW private JSON file (jsonio.create_private: mode 0600 from creation, never overwrites)."""
    from . import jsonio

    if os.path.exists(path):
        raise VeriwattError("%s exists already: move it away or choose another --name / --out" % path)
    jsonio.create_private(path, obj)


def _check_public_key(y: Optional[int], G: Any, what: str, port: str) -> int:
    """The meter's public key from INFO must be an element of the order-q subgroup."""
    from vwcore import modexp

    if y is None or not (1 < y < G.p - 1) or modexp.powmod(y, G.q, G.p) != 1:
        raise DeviceError(
            "meter %s reports no valid %s public key after PROVISION: firmware fault, do not use it" % (port, what)
        )
    return y


def provision(
    link: Any,
    meter_id: bytes,
    out_dir: str,
    clock: int,
    grp: str = "2048",
    customer_key: Optional[bytes] = None,
    name: str = "meter",
    save_code: Optional[str] = None,
) -> Dict[str, Any]:
    """Provision the meter on `link`; write OUT/NAME.pub.json and OUT/NAME.admin.json (mode 0600).

    The meter generates its signing/commitment and aggregation secrets itself (its RNG mixed
    with the host entropy sent here; docs/PROTOCOL.md); the host keeps only the public keys and
    the admin secret (RESET / SET_CLOCK). The customer code is returned (shown once for the
    label) and written only to `save_code` if given."""
    from vwcore import aead, group

    from . import jsonio, keys

    G = group.get(grp)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    pub_path, adm_path = str(Path(out_dir) / (name + ".pub.json")), str(Path(out_dir) / (name + ".admin.json"))
    for path in (adm_path, save_code):
        if path and os.path.exists(path):
            raise VeriwattError("%s exists already: move it away or choose another --name / --out" % path)
    info = link.hello()
    if info["provisioned"]:
        raise DeviceError(
            "meter %s is already provisioned (meter id %s): reset it first with its admin file, "
            "or use another meter" % (link.name, info["meter_id"].hex())
        )
    host_entropy, admin_secret = os.urandom(32), os.urandom(32)
    ck = customer_key or os.urandom(aead.CODE_BYTES)
    # the credential is on disk BEFORE the meter takes it: a crash below never leaves a meter
    # that nobody can reset
    write_private(
        adm_path,
        {
            "format": ADMIN_FORMAT,
            "meter_id": meter_id.hex(),
            "group": G.name,
            "admin_secret": admin_secret.hex(),
            "provisioned": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "note": "engineer's management credential: authorises RESET and clock changes of "
            "this meter only; it cannot sign readings or open them",
        },
    )
    try:
        link.provision(meter_id, G.id, clock, host_entropy, admin_secret, ck)
    except DeviceError:
        try:
            took = link.hello()
        except DeviceError:
            raise DeviceError(
                "meter %s did not answer PROVISION; %s is kept in case it took it: check with "
                "veriwatt info %s" % (link.name, adm_path, link.name)
            )
        if not (took["provisioned"] and took["meter_id"] == meter_id):
            os.remove(adm_path)
            raise
    info = link.hello()
    if not info["provisioned"] or info["meter_id"] != meter_id:
        raise DeviceError(
            "meter %s did not take the provisioning (reports meter id %s)" % (link.name, info["meter_id"].hex())
        )
    y = _check_public_key(info["sig_pub"], G, "signing", link.name)
    _check_public_key(info["agg_pub"], G, "aggregation", link.name)
    pub = keys.meter_public(meter_id, y, G)
    jsonio.write(pub_path, pub)
    code = aead.format_customer_code(ck)
    if save_code:
        write_private(
            save_code, {"format": "veriwatt-customer-code/1", "meter_id": meter_id.hex(), "customer_code": code}
        )
    from . import webaccess  # the web service's access verifier (docs/WEB.md): public, for the supplier

    verifier = webaccess.verifier_of(webaccess.token_from_key(ck, meter_id).hex())
    return {
        "meter_id": meter_id.hex(),
        "key_id": pub["key_id"],
        "customer_code": code,
        "public_key_file": pub_path,
        "admin_file": adm_path,
        "code_file": save_code,
        "clock": clock,
        "access_verifier": verifier,
        "pub": pub,
        "customer_key": ck,
    }


def provision_port(
    port: str,
    out: str = ".",
    meter_id: Optional[str] = None,
    clock: Any = "now",
    group: str = "2048",
    name: str = "meter",
    save_code: Optional[str] = None,
    baud: int = DEFAULT_BAUD,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
) -> Dict[str, Any]:
    """Provision the meter on `port` (it makes its own keys): clock (unix seconds, YYYY-MM-DD[THH:MM:SS]
    UTC or "now"), customer code; writes OUT/NAME.pub.json and OUT/NAME.admin.json (0600). Returns
    {"meter_id", "key_id", "customer_code", "public_key_file", "admin_file", "code_file", "clock"}."""
    from . import records

    mid = records.meter_id_bytes(meter_id) if meter_id else os.urandom(8)
    when = clock if isinstance(clock, int) else parse_clock(clock)
    with _link(port, baud, timeout, retries) as link:
        res = provision(link, mid, out, when, group, name=name, save_code=save_code)
    res.pop("pub")
    res.pop("customer_key")
    return res


def load_admin_file(path: str, note: Optional[Callable[[str], None]] = None) -> Tuple[bytes, bytes]:
    """(meter id, admin secret) from the engineer's admin file (NAME.admin.json). A record of the
    old format (veriwatt-meter-secret/1, from before meters made their own keys) is accepted for
    the meters it provisioned (their admin key is that record's sig_secret), with a warning."""
    from . import jsonio

    sec = jsonio.load(path, "meter admin")
    try:
        fmt = sec.get("format")
        if fmt == ADMIN_FORMAT:
            key = bytes.fromhex(sec["admin_secret"])
        elif fmt == OLD_SECRET_FORMAT:
            key = bytes.fromhex(sec["sig_secret"])
            (note or stderr_note)(
                "warning: %s is an old secret file holding the meter's SIGNING key: whoever "
                "has it can forge this meter's readings. Reset the meter, provision it again (it "
                "then makes its own keys) and delete the file." % path
            )
        else:
            raise ValueError
        mid = bytes.fromhex(sec["meter_id"])
        if len(key) != 32 or len(mid) != 8:
            raise ValueError
    except (AttributeError, KeyError, TypeError, ValueError):
        raise VeriwattError("%s is not a meter admin file (%s with meter_id and admin_secret)" % (path, ADMIN_FORMAT))
    return mid, key


def wait(
    port: str,
    period: str,
    tz: str = "UTC",
    max_wait: float = 600,
    poll: float = 0.5,
    baud: int = DEFAULT_BAUD,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    note: Optional[Callable[[str], None]] = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> Dict[str, Any]:
    """Wait until the meter has certified every slot of a period (HELLO -> INFO, polled): on a
    simulated meter a month passes in seconds, on a real one this waits for the period to end.
    max_wait 0: no limit. progress(newest slot, last slot of the period) after every poll.
    Returns {"port", "start_slot", "end_slot", "first_slot", "last_slot"}."""
    from . import slots

    start, end = slots.parse_period(period, tz)
    deadline = time.monotonic() + max_wait if max_wait else None
    with _link(port, baud, timeout, retries) as link:
        while True:
            inf = link.hello()
            if not inf["provisioned"]:
                raise DeviceError("meter on %s is not provisioned: run veriwatt provision %s first" % (port, port))
            last = inf["last_slot"] if inf["first_slot"] != 0xFFFFFFFF else None
            if progress is not None:
                progress(last if last is not None else 0, end - 1)
            if last is not None and last >= end - 1:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise DeviceError(
                    "period %s not complete after %d s: the meter's clock is at %s, its newest "
                    "reading is slot %s and the period ends at slot %d; wait longer (--max-wait)"
                    % (period, max_wait, _clock_text(inf, "%Y-%m-%d %H:%M UTC"), last, end - 1)
                )
            time.sleep(poll)
    if inf["first_slot"] > start:
        (note or stderr_note)(
            "note: the meter's readings start at slot %d, after the period's start %d: "
            "the period will be incomplete" % (inf["first_slot"], start)
        )
    return {"port": port, "start_slot": start, "end_slot": end, "first_slot": inf["first_slot"], "last_slot": last}


def _clock_text(inf: Dict[str, Any], fmt: str = "%Y-%m-%d %H:%M:%S UTC") -> str:
    return time.strftime(fmt, time.gmtime(inf["clock"])) if inf["clock_set"] else "not set"


def set_clock(
    port: str,
    time_: Any = "now",
    admin: Optional[str] = None,
    baud: int = DEFAULT_BAUD,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
) -> Dict[str, Any]:
    """Set the meter's clock (UTC; `time_` as for provision). On a provisioned meter the clock decides
    which slot, and so which price, a reading gets, so the meter only accepts a change with the
    engineer's admin file (`admin`: an authenticated SET_CLOCK), except a drift trim of at most
    120 s (300 s in all since the meter booted) and, when the meter lost its clock, a time not
    before its newest reading (flagged unverified until an authenticated set).
    Returns {"port", "clock", "previous", "authenticated", "clock_unverified"}."""
    from vwcore import wire

    t = time_ if isinstance(time_, int) else parse_clock(time_, "--time")
    sec = load_admin_file(admin) if admin else None
    with _link(port, baud, timeout, retries) as link:
        before = link.hello()
        if sec is not None:
            mid, secret = sec
            if before["provisioned"] and before["meter_id"] != mid:
                raise VeriwattError(
                    "%s is the admin file of meter %s, but the meter on %s is %s"
                    % (admin, mid.hex(), port, before["meter_id"].hex())
                )
            link.set_clock(t, mid, secret)
        else:
            try:
                link.set_clock(t)
            except DeviceError as e:
                if e.meter_code == wire.E_AUTH:
                    raise DeviceError(
                        "%s\n  a provisioned meter takes this change only with the engineer's record: "
                        "veriwatt set-clock %s --time %s --admin meter.admin.json" % (e, port, time_)
                    )
                raise
        after = link.hello()
    return {
        "port": port,
        "clock": after["clock"],
        "previous": before["clock"] if before["clock_set"] else None,
        "authenticated": sec is not None,
        "clock_unverified": after["clock_unverified"],
    }


def reset(
    port: str, admin: str, baud: int = DEFAULT_BAUD, timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES
) -> Dict[str, Any]:
    """Wipe a meter back to unprovisioned with its admin file (NAME.admin.json): {"port", "meter_id"}."""
    from vwcore import wire

    mid, secret = load_admin_file(admin)
    with _link(port, baud, timeout, retries) as link:
        try:
            link.reset(mid, secret)
        except DeviceError as e:
            if e.meter_code == wire.E_STORAGE and "not acknowledged" in str(e):
                raise DeviceError(
                    "%s\n  collect them first, acknowledged with the customer code (on the meter label): "
                    "veriwatt fetch %s --store STORE --code CODE" % (e, port),
                    e.meter_code,
                )
            raise
    return {"port": port, "meter_id": mid.hex()}


# ------------------------------------------------------------------ deploy / flash
def firmware_files(
    board: str, natmod: bool = True, note: Optional[Callable[[str], None]] = None
) -> List[Tuple[Path, str]]:
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
        raise VeriwattError(
            "no HAL for board %r: choose one of %s"
            % (board, ", ".join(sorted(p.name for p in hal_dir.iterdir() if (p / "vwhal.py").exists())))
        )
    files.append((hal, "vwhal.py"))
    for f in sorted((hal_dir / "common").glob("*.py")):
        files.append((f, f.name))
    if natmod and board != "qemu":  # the QEMU board has vwcrypto built in (user C module)
        arch = NATMOD_ARCH.get(board, board)
        mpy = resources.natmod_file(arch)
        if mpy.exists():
            files.append((mpy, "lib/vwcrypto.mpy"))
        elif resources.checkout_root() is not None:
            (note or stderr_note)(
                "note: %s not built (make natmods); the firmware falls back to pow()" % resources.describe(mpy)
            )
        else:
            (note or stderr_note)(
                "note: this veriwatt carries no vwcrypto natmod for %s; the firmware falls back to pow()" % arch
            )
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
    return [([exe, "--port", port, "mkdir", "--exists-okay", d], True) for d in dirs] + [
        ([exe, "--port", port, "put", str(l), r], False) for l, r in files
    ]


# sys.platform of a MicroPython port -> the HAL profile for it (the stm32 port says "pyboard")
PLATFORM_HAL = {"esp32": "esp32", "pyboard": "stm32", "stm32": "stm32", "qemu": "qemu", "linux": "unix"}
PROBE = (
    "import os, sys; print('VWPROBE', sys.platform, '|', getattr(sys.implementation, '_machine', '') "
    "or (os.uname().machine if hasattr(os, 'uname') else '?'))"
)


def detect_board(port: str, timeout: float) -> Tuple[str, str]:
    """(sys.platform, os.uname().machine) of the MicroPython board on `port`, asked through
    mpremote's raw REPL (a running meter yields the line to it)."""
    exe = _venv_tool("mpremote")
    if exe is None:
        raise VeriwattError(
            "mpremote is not installed, so the board cannot be identified: "
            "pip install 'veriwatt[device]', or give --board"
        )
    try:
        r = subprocess.run([exe, "connect", port, "exec", PROBE], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        r = None
    out = "" if r is None else r.stdout
    for line in out.splitlines():
        if line.startswith("VWPROBE "):
            plat, _, machine = line[8:].partition(" | ")
            return plat.strip(), machine.strip()
    last = (
        "no answer in %d s" % timeout
        if r is None
        else ((r.stderr or r.stdout).strip().splitlines() or ["exit %d" % r.returncode])[-1]
    )
    raise DeviceError(
        "could not identify the board on %s (%s): is it a MicroPython board with a REPL on that port? "
        "(try `mpremote connect %s repl`)" % (port, last, port)
    )


def choose_board(
    port: str,
    given: Optional[str],
    detected: Optional[Tuple[str, str]],
    force: bool,
    note: Optional[Callable[[str], None]] = None,
) -> str:
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
            raise VeriwattError(
                "the board on %s reports sys.platform %r (%s), for which there is no HAL profile: "
                "give one with --board esp32|stm32|qemu if it fits" % (port, plat, machine)
            )
        return given
    if given and given != hal:
        if not force:
            raise VeriwattError(
                "the board on %s is a %s board (sys.platform %r, %s): it needs --board %s, not %s "
                "(--force deploys the %s HAL anyway)" % (port, hal, plat, machine, hal, given, given)
            )
        (note or stderr_note)("warning: deploying the %s HAL onto a %s board (--force)" % (given, hal))
        return given
    return hal


def deploy(
    port: str,
    board: Optional[str] = None,
    force: bool = False,
    tool: str = "auto",
    natmod: bool = True,
    dry_run: bool = False,
    timeout: int = 120,
    note: Optional[Callable[[str], None]] = None,
) -> Dict[str, Any]:
    """Copy the meter firmware and the vwcrypto natmod to a MicroPython board (mpremote, then
    adafruit-ampy). The board's HAL is detected (mpremote) unless `dry_run`, which needs `board`
    and only returns the commands. Returns {"port", "board", "detected", "files", "tool", "commands"}."""
    detected = None if dry_run else detect_board(port, min(timeout, 60))
    hal = choose_board(port, board, detected, force, note)
    files = firmware_files(hal, natmod, note)
    res: Dict[str, Any] = {
        "port": port,
        "board": hal,
        "detected": list(detected) if detected else None,
        "files": len(files),
        "tool": None,
        "commands": [],
    }
    for name in [tool] if tool != "auto" else ["mpremote", "ampy"]:
        cmds = deploy_commands(port, files, name)
        res["commands"] = [" ".join(c) for c, _ in cmds]
        if dry_run:
            return res
        why = _run_all(cmds, name, timeout)
        if why is None:
            res["tool"] = name
            return res
        (note or stderr_note)(why)
    raise DeviceError(
        "could not deploy to %s: is it a MicroPython board with a REPL on that port? "
        "(try `mpremote connect %s repl`)" % (port, port)
    )


def _run_all(cmds: List[Tuple[List[str], bool]], tool: str, timeout: int) -> Optional[str]:
    """Run the copy commands; None when they all worked, else why not (one line)."""
    for c, may_fail in cmds:
        try:
            r = subprocess.run(c, capture_output=True, text=True, timeout=timeout)
        except FileNotFoundError:
            return "%s is not installed (pip install 'veriwatt[device]')" % tool
        except subprocess.TimeoutExpired:
            return "%s timed out after %d s" % (tool, timeout)
        if r.returncode != 0 and not may_fail:
            last = ((r.stderr or r.stdout).strip().splitlines() or ["exit %d" % r.returncode])[-1]
            return "%s failed: %s" % (tool, last)
    return None


def stop(port: str, timeout: int = 10) -> Dict[str, Any]:
    """Stop the meter on a board whose meter line is its REPL's: send the interrupt sequence
    (CR, Ctrl-C; the meter stops between requests with every state change on flash) and wait
    for the REPL's prompt. mpremote sends the same sequence, so it needs no stop first."""
    import serial

    try:
        ser = serial.serial_for_url(port, 115200, timeout=0.1)
    except (serial.SerialException, OSError) as e:
        raise DeviceError("cannot open %s: %s" % (port, e))
    seen = b""
    try:
        ser.write(b"\r\x03")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = (seen + ser.read(256))[-512:]
            if b">>> " in seen or b"raw REPL" in seen:
                break
            if b"stopped" in seen:
                ser.write(b"\r")  # ask for a fresh prompt
        else:
            raise DeviceError(
                "no REPL prompt on %s within %d s: a simulated meter has no REPL (Ctrl-C its veriwatt sim); "
                "a board: reset it in safe mode" % (port, timeout)
            )
    finally:
        ser.close()
    return {"port": port, "stopped": True}


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
        raise VeriwattError(
            "%s: give a .hex, .bin or .dfu image (make stm32 builds build/stm32/%s/firmware.hex)" % (image, board)
        )
    if tool == "auto":
        tool = STM32_TOOL_FOR[ext]
    if ext not in STM32_TOOL_TAKES[tool]:
        raise VeriwattError("%s cannot write a %s image: give it %s" % (tool, ext, " or ".join(STM32_TOOL_TAKES[tool])))
    img = str(image)
    pieces = [(img, STM32_FLASH_BASE)]
    if ext == ".bin":
        if image.name != "firmware0.bin":
            raise VeriwattError(
                "%s: a .bin must be the port's firmware0.bin (0x08000000) with firmware1.bin "
                "(0x08020000) beside it, so that the filesystem sectors between them survive; "
                "or give the .hex" % image
            )
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
        return [
            ["st-flash"] + (["--reset"] if i == len(pieces) - 1 else []) + ["write", path, base]
            for i, (path, base) in enumerate(pieces)
        ]
    return [["dfu-util", "--alt", "0", "--download", img]]


def _flash_stm32(
    board: str, image: Optional[str], tool: str, dry_run: bool, echo: Callable[[str], None]
) -> Dict[str, Any]:
    if not image:
        raise VeriwattError(
            "give the firmware image: veriwatt flash --board %s build/stm32/%s/firmware.hex" % (board, board)
        )
    img = Path(image)
    cmds = stm32_flash_commands(board, img, tool)
    if not dry_run and not img.is_file():
        raise VeriwattError("firmware image %s not found (make stm32 builds it)" % image)
    for c in cmds:
        echo(" ".join(c))
        if dry_run:
            continue
        try:
            r = subprocess.run(c)
        except FileNotFoundError:
            raise DeviceError(
                "%s is not installed (pyocd: pip install pyocd; st-flash: apt install stlink-tools; "
                "dfu-util: apt install dfu-util)" % c[0]
            )
        if r.returncode != 0:
            hint = (
                "put the board in DFU mode (BOOT0 to VDD, reset) with USB on PA11/PA12"
                if c[0] == "dfu-util"
                else "connect the Nucleo's ST-LINK USB (CN1) and check `%s`"
                % ("pyocd list" if "pyocd" in c[0] else "st-info --probe")
            )
            raise DeviceError("%s failed (exit %d): %s" % (c[0], r.returncode, hint))
    return {
        "image": image,
        "board": board,
        "commands": [" ".join(c) for c in cmds],
        "flashed": not dry_run,
        "next": "the meter is frozen in: open its serial port (ST-LINK virtual COM port), then veriwatt provision PORT"
        if not dry_run
        else None,
        "mcu": STM32_BOARDS[board]["mcu"],
    }


STM32_HELP = """STM32 boards: give --board (%s) and the image that `make stm32` builds
(build/stm32/<board>/firmware.hex, .dfu or firmware0.bin, with vwcrypto and the meter frozen in):
  veriwatt flash --board nucleo_f446re build/stm32/nucleo_f446re/firmware.hex
Probe: the Nucleo's on-board ST-LINK (pyocd, st-flash) or USB DFU (dfu-util, BOOT0 high).""" % (
    ", ".join(sorted(STM32_BOARDS))
)


def flash(
    port: Optional[str] = None,
    image: Optional[str] = None,
    board: Optional[str] = None,
    chip: str = "esp32",
    offset: Optional[str] = None,
    baud: int = 460800,
    erase: bool = False,
    tool: str = "auto",
    dry_run: bool = False,
    echo: Optional[Callable[[str], None]] = None,
) -> Dict[str, Any]:
    """Write a MicroPython firmware image: an ESP32 (`chip`) on `port` with esptool, or a Nucleo
    STM32 `board` with pyocd / st-flash / dfu-util (`image`, or `port` taken as the image).
    echo(command line) before each command runs (or instead, with `dry_run`).
    Returns {"image", "commands", "flashed", ...}; {"help": STM32_HELP} for chip stm32* without board."""
    echo = echo or (lambda line: None)
    if board:
        return _flash_stm32(board, image or port, tool, dry_run, echo)
    if chip.startswith("stm32"):
        return {"help": STM32_HELP, "commands": [], "flashed": False}
    if not port:
        raise VeriwattError("give the serial port: veriwatt flash PORT --image ESP32_GENERIC-v1.25.0.bin")
    if not image:
        raise VeriwattError("give the firmware image: veriwatt flash PORT --image ESP32_GENERIC-v1.25.0.bin")
    if not dry_run and not Path(image).is_file():
        raise VeriwattError("firmware image %s not found" % image)
    exe = _venv_tool("esptool.py") or _venv_tool("esptool") or "esptool.py"
    cmds = [[exe, "--chip", chip, "--port", port, "erase_flash"]] if erase else []
    cmds.append(
        [
            exe,
            "--chip",
            chip,
            "--port",
            port,
            "--baud",
            str(baud),
            "write_flash",
            "-z",
            offset or ("0x1000" if chip == "esp32" else "0x0"),
            str(Path(image)),
        ]
    )
    for c in cmds:
        echo(" ".join(c))
        rc = 0 if dry_run else subprocess.run(c).returncode
        if rc != 0:
            raise DeviceError(
                "esptool failed (exit %d): hold BOOT while pressing RESET to enter the bootloader, "
                "check the port, and try a lower --baud" % rc
            )
    return {
        "image": image,
        "chip": chip,
        "commands": [" ".join(c) for c in cmds],
        "flashed": not dry_run,
        "next": None if dry_run else "veriwatt deploy %s --board %s" % (port, chip),
    }


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
        sim = ms.MeterSim(
            n=n,
            seed=seed,
            storage=storage,
            speed=speed,
            start=start,
            baud=baud,
            extra_env=natmod_env(ms) if natmod else {},
            natmod=natmod,
        )
        return sim.start()
    except SystemExit as e:  # meter_sim reports a missing micropython this way
        raise VeriwattError(str(e))


def sim_ports(sim: Any, noise: float = 0.0, seed: int = 1) -> Tuple[List[Dict[str, Any]], List[Any]]:
    """The running simulated meters' ports ({"index", "port", "pid", "storage"}), each behind a
    relay that corrupts `noise` of the bytes when noise > 0; and the relays (stop them after)."""
    from .ptyrelay import PtyRelay

    ports, relays = [], []
    for m in sim.meters:
        port = m.port
        if noise:
            r = PtyRelay(m.port, noise=noise, seed=seed + m.index).start()
            relays.append(r)
            port = r.path
        ports.append({"index": m.index, "port": port, "pid": m.proc.pid, "storage": str(m.storage)})
    return ports, relays
