"""Device commands for meter engineers: info, provision, deploy, flash, sim.

- provision: make fresh secrets on the host, send PROVISION over serial, check that the
  meter's reported public key is the one its secret gives, write meter.pub.json (for the
  supplier and the customer) and meter.secret.json (the engineer's record; mode 0600), and
  print the customer code for the meter label.
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

from .errors import EXIT_OK, DeviceError, VeriwattError

ROOT = Path(__file__).resolve().parents[2]
SECRET_FORMAT = "veriwatt-meter-secret/1"
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
                     "veriwatt set-clock %s --secret meter.secret.json" % args.port)
    if info["first_slot"] != 0xFFFFFFFF:
        lines.append("  readings stored: %d of %d, slots %d..%d (%s .. %s), %d not acknowledged" % (
            info["used"], info["capacity"], info["first_slot"], info["last_slot"],
            slots.slot_start(info["first_slot"]).strftime("%Y-%m-%d %H:%M"),
            slots.slot_start(info["last_slot"]).strftime("%Y-%m-%d %H:%M"), info["unacked"]))
    else:
        lines.append("  no readings stored (capacity %d)" % info["capacity"])
    print("\n".join(lines))
    return EXIT_OK


def provision(link: Any, meter_id: bytes, out_dir: str, clock: int, grp: str = "2048",
              customer_key: Optional[bytes] = None, name: str = "meter") -> Dict[str, Any]:
    """Provision the meter on `link`; write OUT/NAME.pub.json and OUT/NAME.secret.json."""
    from vwcore import aead, group, sig

    from . import keys, tariff

    G = group.get(grp)
    info = link.hello()
    if info["provisioned"]:
        raise DeviceError("meter %s is already provisioned (meter id %s): reset it first with its secret file, "
                          "or use another meter" % (link.name, info["meter_id"].hex()))
    sig_secret, agg_secret = os.urandom(32), os.urandom(32)
    ck = customer_key or os.urandom(aead.CODE_BYTES)
    link.provision(meter_id, G.id, clock, sig_secret, agg_secret, ck)
    info = link.hello()
    y = sig.SigningKey(sig_secret, G).y
    if not info["provisioned"] or info["meter_id"] != meter_id:
        raise DeviceError("meter %s did not take the provisioning (reports meter id %s)" % (link.name, info["meter_id"].hex()))
    if info["sig_pub"] != y:
        raise DeviceError("meter %s reports a public key that its secret does not give: firmware fault, do not use it" % link.name)
    pub = keys.meter_public(meter_id, y, G)
    code = aead.format_customer_code(ck)
    secret = {"format": SECRET_FORMAT, "meter_id": meter_id.hex(), "group": G.name, "sig_secret": sig_secret.hex(),
              "agg_secret": agg_secret.hex(), "customer_code": code, "key_id": pub["key_id"],
              "provisioned": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "note": "engineer's record: sig_secret authorises RESET; give customer_code to the customer only"}
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    pub_path, sec_path = str(Path(out_dir) / (name + ".pub.json")), str(Path(out_dir) / (name + ".secret.json"))
    tariff.write_json(pub_path, pub)
    tariff.write_json(sec_path, secret)
    os.chmod(sec_path, 0o600)
    return {"meter_id": meter_id.hex(), "key_id": pub["key_id"], "customer_code": code, "public_key_file": pub_path,
            "secret_file": sec_path, "clock": clock, "pub": pub, "customer_key": ck}


def cmd_provision(args: argparse.Namespace) -> int:
    """Provision a meter: fresh keys, clock, customer code; writes meter.pub.json and meter.secret.json."""
    from . import records, serial_client

    mid = records.meter_id_bytes(args.meter_id) if args.meter_id else os.urandom(8)
    with serial_client.MeterLink(args.port, args.baud, args.timeout, args.retries) as link:
        res = provision(link, mid, args.out, parse_clock(args.clock), args.group, name=args.name)
    res.pop("pub")
    res.pop("customer_key")
    if args.json:
        print(json.dumps(res, indent=1, sort_keys=True))
    else:
        print("provisioned meter %s on %s (key id %s)\n  public key: %s (give to the supplier and the customer)\n"
              "  secrets:    %s (keep private)\n  customer code for the label: %s"
              % (res["meter_id"], args.port, res["key_id"], res["public_key_file"], res["secret_file"], res["customer_code"]))
    return EXIT_OK


def load_secret_file(path: str) -> Dict[str, Any]:
    """The engineer's record written by provision (NAME.secret.json), checked for its format."""
    from . import tariff

    sec = tariff.load_json(path, "meter secret")
    try:
        if sec.get("format") != SECRET_FORMAT or len(bytes.fromhex(sec["sig_secret"])) != 32 \
                or len(bytes.fromhex(sec["meter_id"])) != 8:
            raise ValueError
    except (AttributeError, KeyError, TypeError, ValueError):
        raise VeriwattError("%s is not a meter secret file (%s with meter_id and sig_secret)" % (path, SECRET_FORMAT))
    return sec


def cmd_set_clock(args: argparse.Namespace) -> int:
    """Set the meter's clock (UTC). On a provisioned meter the clock decides which slot, and so which
    price, a reading gets, so the meter only accepts a change with the engineer's secret file
    (--secret: an authenticated SET_CLOCK, challenge and tag as for reset), except a drift trim of
    at most 120 s (300 s in all since the meter booted) and, when the meter lost its clock (power
    cut on a board without battery-backed RTC), a time not before its newest reading, which INFO
    then flags as unverified until an authenticated set. An unprovisioned meter takes any clock."""
    from vwcore import wire

    from . import records, serial_client

    t = parse_clock(args.time, "--time")
    sec = load_secret_file(args.secret) if args.secret else None
    with serial_client.MeterLink(args.port, args.baud, args.timeout, args.retries) as link:
        before = link.hello()
        if sec is not None:
            mid = records.meter_id_bytes(sec["meter_id"])
            if before["provisioned"] and before["meter_id"] != mid:
                raise VeriwattError("%s is the record of meter %s, but the meter on %s is %s"
                                    % (args.secret, sec["meter_id"], args.port, before["meter_id"].hex()))
            link.set_clock(t, mid, bytes.fromhex(sec["sig_secret"]))
        else:
            try:
                link.set_clock(t)
            except DeviceError as e:
                if e.meter_code == wire.E_AUTH:
                    raise DeviceError("%s\n  a provisioned meter takes this change only with the engineer's record: "
                                      "veriwatt set-clock %s --time %s --secret meter.secret.json" % (e, args.port, args.time))
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
            "; flagged UNVERIFIED until an authenticated set-clock (--secret)" if after["clock_unverified"] else ""))
    return EXIT_OK


def cmd_reset(args: argparse.Namespace) -> int:
    """Wipe a meter back to unprovisioned (needs its secret file from provisioning)."""
    from . import records, serial_client

    from vwcore import wire

    sec = load_secret_file(args.secret)
    with serial_client.MeterLink(args.port, args.baud, args.timeout, args.retries) as link:
        try:
            link.reset(records.meter_id_bytes(sec["meter_id"]), bytes.fromhex(sec["sig_secret"]))
        except DeviceError as e:
            if e.meter_code == wire.E_STORAGE and "not acknowledged" in str(e):
                raise DeviceError("%s\n  collect them first, acknowledged with the customer code (it is in %s): "
                                  "veriwatt fetch %s --store STORE --code CODE" % (e, args.secret, args.port),
                                  e.meter_code)
            raise
    print("meter %s on %s reset: keys and readings wiped" % (sec["meter_id"], args.port))
    return EXIT_OK


# ------------------------------------------------------------------ deploy / flash
def firmware_files(board: str, natmod: bool = True) -> List[Tuple[Path, str]]:
    """(local file, path on the board) for a deployment of the meter firmware."""
    files: List[Tuple[Path, str]] = []
    for pkg in ("vwcore", "vwmeter"):
        for f in sorted((ROOT / "firmware" / pkg).glob("*.py")):
            files.append((f, "%s/%s" % (pkg, f.name)))
    hal = ROOT / "hal" / board / "vwhal.py"
    if not hal.exists():
        raise VeriwattError("no HAL for board %r: choose one of %s" % (
            board, ", ".join(sorted(p.name for p in (ROOT / "hal").iterdir() if (p / "vwhal.py").exists()))))
    files.append((hal, "vwhal.py"))
    for f in sorted((ROOT / "hal" / "common").glob("*.py")):
        files.append((f, f.name))
    if natmod and board != "qemu":  # the QEMU board has vwcrypto built in (user C module)
        arch = NATMOD_ARCH.get(board, board)
        mpy = ROOT / "build" / "natmod" / arch / "vwcrypto.mpy"
        if mpy.exists():
            files.append((mpy, "lib/vwcrypto.mpy"))
        else:
            print("veriwatt: note: %s not built (make natmods); the firmware falls back to pow()" % mpy.relative_to(ROOT),
                  file=sys.stderr)
    main = ROOT / "firmware" / "vwmeter" / "main.py"
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


def cmd_deploy(args: argparse.Namespace) -> int:
    """Copy the meter firmware and the vwcrypto natmod to a MicroPython board (mpremote; ampy fallback)."""
    files = firmware_files(args.board, not args.no_natmod)
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
    path = ROOT / "simulators" / "meter_sim.py"
    if not path.exists():
        raise VeriwattError("simulators/meter_sim.py not found: veriwatt sim runs from a source checkout")
    import importlib.util

    spec = importlib.util.spec_from_file_location("veriwatt_meter_sim", path)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules["veriwatt_meter_sim"] = mod
    spec.loader.exec_module(mod)
    return mod


def natmod_env(ms: Any) -> Dict[str, str]:
    """Put the x64 vwcrypto natmod on the simulated meters' path when it is built
    (VERIWATT_SIM_NATMOD=0 leaves it out: the firmware then uses pow())."""
    nat = ROOT / "build" / "natmod" / "x64"
    if os.environ.get("VERIWATT_SIM_NATMOD") != "0" and (nat / "vwcrypto.mpy").exists():
        return {"MICROPYPATH": ms.micropypath([nat])}
    return {}


def start_sim(n: int, storage: str, speed: int, start: Any, seed: int = 1, baud: int = 0, natmod: bool = True) -> Any:
    ms = load_meter_sim()
    try:
        sim = ms.MeterSim(n=n, seed=seed, storage=storage, speed=speed, start=start, baud=baud,
                          extra_env=natmod_env(ms) if natmod else {})
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
    p.add_argument("--name", default="meter", help="file name stem: NAME.pub.json, NAME.secret.json (default meter)")
    json_arg(p)

    p = add("set-clock", cmd_set_clock, "set a meter's clock (provisioned meters: needs its secret file beyond a drift trim)")
    line_args(p)
    p.add_argument("--time", default="now", help="unix seconds, YYYY-MM-DD[THH:MM:SS] UTC, or now (default now)")
    p.add_argument("--secret", help="the meter's secret file from provisioning: authenticates the change")
    json_arg(p)

    p = add("reset", cmd_reset, "wipe a meter back to unprovisioned (needs its secret file)")
    line_args(p)
    p.add_argument("--secret", required=True, help="the meter's secret file from provisioning")

    p = add("deploy", cmd_deploy, "copy the firmware and natmod to a board (mpremote; ampy fallback)")
    p.add_argument("port", help="the board's serial port (e.g. /dev/ttyUSB0)")
    p.add_argument("--board", default="esp32", help="HAL profile: esp32, stm32, qemu, unix (default esp32)")
    p.add_argument("--tool", default="auto", choices=["auto", "mpremote", "ampy"], help="copy tool (default: mpremote, then ampy)")
    p.add_argument("--no-natmod", action="store_true", help="do not copy the vwcrypto natmod")
    p.add_argument("--dry-run", action="store_true", help="print the commands instead of running them")
    p.add_argument("--timeout", type=int, default=120, help="seconds allowed for the copy (default 120)")

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
