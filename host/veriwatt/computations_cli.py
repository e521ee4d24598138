# SPDX-License-Identifier: MIT
"""`veriwatt profiles|scores|verify-scores|beacon|sample|verify-sample`: thin CLI over
veriwatt.profiles and veriwatt.sampling (docs/COMPUTATIONS.md). Parses, calls the library,
prints; exit codes as everywhere: 0 ok, 1 verification failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable, Dict, List, Tuple

from .cli_output import invalid, out
from .errors import EXIT_INVALID, EXIT_OK, InvalidError, VeriwattError

OPT_IN = (
    "Profiling is opt-in: nothing is computed without --consent. With it, the score file "
    "records your consent and the recipient learns the scores (and only them)."
)


def _score_lines(scores: List[Dict[str, Any]]) -> List[str]:
    """One line per category: its inner product and/or squared distance."""
    return [
        "  %-24s %s" % (s["category"], "  ".join("%s %d" % (k, s[k]) for k in ("inner", "distance") if k in s))
        for s in scores
    ]


def _period(args: argparse.Namespace) -> tuple:
    from . import slots

    if not args.period:
        raise VeriwattError("give --period YYYY-MM, START:END (slots) or YYYY-MM-DD..YYYY-MM-DD")
    return slots.parse_period(args.period, args.tz or "UTC")


def _store_month(args: argparse.Namespace, a: int, b: int) -> tuple:
    """(records, openings, meter public key) of [a, b) from the store, checked and opened."""
    from . import api, records
    from .cli_commands import customer_key

    with api._open_store(args.store) as st:
        pub = api._meter_key(st, args.meter_key, args.meter)
        recs = api._records(st, pub, a, b)
    checker = records.Checker.from_pub(pub)
    for r in recs:
        why = checker.problem(r)
        if why:
            raise InvalidError("stored record invalid: %s" % why)
    return recs, records.open_all(recs, customer_key(args)), pub


def _to_verify(
    args: argparse.Namespace, what: str, cap: str, signed_what: str, signed_path: str, load_signed: Callable[..., Any]
) -> Tuple[Any, Dict[str, Any], Any]:
    """(the file to verify, args.file; the meter key, args.meter_key; the signed file it is
    checked against, load_signed(signed_path, args.supplier_key), or None when that is
    INVALID: printed, the caller exits 1)."""
    from . import jsonio, keys

    doc = jsonio.load(args.file, what, cap)
    pub = keys.load_public(args.meter_key, "meter")
    return doc, pub, invalid(args, signed_what, signed_path, lambda: load_signed(signed_path, args.supplier_key))


# ------------------------------------------------------------------ profile sets
def cmd_profiles(args: argparse.Namespace) -> int:
    """Profile sets and suspect patterns: write an example, sign one (supplier), check one."""
    from . import jsonio, keys, profiles

    if args.action == "example":
        a, b = _period(args)
        body = profiles.example(args.kind, a, b)
        if args.out:
            jsonio.write(args.out, body)
        else:
            print(json.dumps(body, indent=1))
        return EXIT_OK
    if not args.file:
        raise VeriwattError("give the profile set file")
    if args.action == "sign":
        if not args.key:
            raise VeriwattError("give the supplier's secret key: --key supplier.key.json")
        body = jsonio.load(args.file, "profile set", "profiles")
        if isinstance(body, dict) and body.get("format") == profiles.SIGNED_FORMAT:
            body = body.get("profiles")
        signed = profiles.sign(body, keys.load_secret(args.key))
        jsonio.write(args.out or args.file, signed)
        out(
            args,
            {"file": args.out or args.file, "digest": signed["digest"]},
            "signed profile set -> %s (%s)" % (args.out or args.file, signed["digest"]),
        )
        return EXIT_OK
    ps = invalid(args, "profile set", args.file, lambda: profiles.load_signed(args.file, args.supplier_key))
    if ps is None:
        return EXIT_INVALID
    res = {
        "valid": True,
        "kind": ps.kind,
        "name": ps.name,
        "supplier": ps.supplier,
        "digest": ps.digest,
        "period": {"start_slot": ps.start, "end_slot": ps.end},
        "categories": [c for c, _ in ps.categories],
        "sample_rate": ps.sample_rate,
    }
    out(
        args,
        res,
        "profile set %s: VALID (%s %r by %s, %d slots, categories %s)"
        % (args.file, ps.kind, ps.name, ps.supplier, ps.n, ", ".join(c for c, _ in ps.categories)),
    )
    return EXIT_OK


def cmd_scores(args: argparse.Namespace) -> int:
    """Compare the certified readings of a profile set's period with its profiles, with proofs.

    Profiling is opt-in: nothing is computed without --consent; the score file records the
    consent, and the recipient (supplier, or a fraud team for a suspect pattern) learns the
    scores only: total, inner products and squared distances (profile sets), or the squared
    distance (suspect pattern). Proving takes about 3 ms per slot (a month: a few seconds)."""
    from . import jsonio, profiles, slots

    if not args.consent:
        raise VeriwattError("refused: " + OPT_IN)
    ps = profiles.load_signed(args.profiles, args.supplier_key)
    recs, ops, pub = _store_month(args, ps.start, ps.end)
    if len(recs) != ps.n:
        raise VeriwattError(
            "the store holds %d of the %d readings of %s: fetch the rest first"
            % (len(recs), ps.n, slots.describe(ps.start, ps.end))
        )
    doc = profiles.make_scores(recs, ops, ps, pub, consent=True)
    jsonio.write(args.out, doc)
    res = {
        "file": args.out,
        "kind": ps.kind,
        "scores": doc["scores"],
        "total": doc.get("total"),
        "proof_bytes": doc["proof"]["bytes"],
        "consent": doc["consent"],
    }
    lines = [
        "%s for meter %s, %s -> %s (consent recorded %s)"
        % (ps.kind, pub["meter_id"], slots.describe(ps.start, ps.end), args.out, doc["consent"]["given"])
    ]
    lines += _score_lines(doc["scores"])
    out(args, res, "\n".join(lines))
    return EXIT_OK


def cmd_verify_scores(args: argparse.Namespace) -> int:
    """Check a score file: the signed profile set, the meter, every signature and the proof."""
    from . import profiles

    doc, pub, ps = _to_verify(args, "score file", "scores", "profile set", args.profiles, profiles.load_signed)
    if ps is None:
        return EXIT_INVALID
    rep = invalid(args, "score file", args.file, lambda: profiles.verify_scores(doc, ps, pub))
    if rep is None:
        return EXIT_INVALID
    lines = [
        "score file %s: VALID: meter %s, %s %r, consent given %s%s"
        % (
            args.file,
            rep["meter_id"],
            ps.kind,
            ps.name,
            rep["consent"],
            (", total %d Wh, nearest profile %s" % (rep["total"], rep["nearest"])) if ps.kind == "profiles" else "",
        )
    ]
    lines += _score_lines(rep["scores"])
    out(args, rep, "\n".join(lines))
    return EXIT_OK


# ------------------------------------------------------------------ sampling
def cmd_beacon(args: argparse.Namespace) -> int:
    """Sampling beacons (supplier): make and sign one after a period ends, or check one."""
    from . import jsonio, keys, sampling

    if args.action == "make":
        if not args.key or not args.out:
            raise VeriwattError("give the supplier's secret key (--key) and the output file (--out)")
        a, b = _period(args)
        value = jsonio.hex_bytes(args.value, "--value", 32) if args.value else None
        key = keys.load_secret(args.key)
        body = sampling.new_beacon(a, b, args.supplier or key.get("name", ""), value)
        signed = sampling.sign(body, key)
        jsonio.write(args.out, signed)
        out(
            args,
            {"file": args.out, "digest": signed["digest"]},
            "beacon for slots %d:%d -> %s (%s)" % (a, b, args.out, signed["digest"]),
        )
        return EXIT_OK
    if not args.file:
        raise VeriwattError("give the beacon file")
    be = invalid(args, "beacon", args.file, lambda: sampling.load_signed(args.file, args.supplier_key))
    if be is None:
        return EXIT_INVALID
    out(
        args,
        {
            "valid": True,
            "digest": be.digest,
            "period": {"start_slot": be.start, "end_slot": be.end},
            "published": be.published,
        },
        "beacon %s: VALID (slots %d:%d, published %s)" % (args.file, be.start, be.end, be.published),
    )
    return EXIT_OK


def _rate_source(args: argparse.Namespace) -> Any:
    from . import api, profiles

    if bool(args.tariff) == bool(args.profiles):
        raise VeriwattError("give the signed source of the sample rate: --tariff FILE or --profiles FILE (one)")
    if args.tariff:
        return api.load_tariff(args.tariff, args.supplier_key)
    return profiles.load_signed(args.profiles, args.supplier_key)


def cmd_sample(args: argparse.Namespace) -> int:
    """Disclose the settlement sample the signed beacon selects (exactly those slots)."""
    from . import jsonio, sampling

    be = sampling.load_signed(args.beacon, args.supplier_key)
    src = _rate_source(args)
    recs, ops, pub = _store_month(args, be.start, be.end)
    doc = sampling.make_sample(recs, ops, be, src, pub)
    jsonio.write(args.out, doc)
    n = len(doc["disclosure"]["slots"])
    out(
        args,
        {"file": args.out, "slots": n, "rate": doc["rate"]},
        "sample of meter %s: %d slot(s) of %d selected (1 in %d) -> %s"
        % (pub["meter_id"], n, be.end - be.start, doc["rate"], args.out),
    )
    return EXIT_OK


def cmd_verify_sample(args: argparse.Namespace) -> int:
    """Check a sampled disclosure: the beacon, the rate, every opening, exactly the selected slots."""
    from . import sampling

    doc, pub, be = _to_verify(args, "sample", "disclosure", "beacon", args.beacon, sampling.load_signed)
    if be is None:
        return EXIT_INVALID
    src = _rate_source(args)
    rep = invalid(args, "sample", args.file, lambda: sampling.verify_sample(doc, be, src, pub))
    if rep is None:
        return EXIT_INVALID
    out(
        args,
        rep,
        "sample %s: VALID: meter %s, %d slot(s) (1 in %d), %d Wh sampled, estimate %d Wh"
        % (args.file, rep["meter_id"], len(rep["slots"]), rep["rate"], rep["sampled_wh"], rep["estimate_wh"]),
    )
    return EXIT_OK


# ------------------------------------------------------------------ the command table rows
def commands() -> List[Any]:
    """Rows of the CLI command table (veriwatt.cli_commands adds them to COMMANDS)."""
    from .cli import Command, common, opt

    period = common("period", required=False, help="YYYY-MM, START:END or DATE..DATE")
    rate = (
        opt("--beacon", required=True, help="the supplier's signed beacon for the period"),
        opt("--tariff", help="signed tariff giving the sample rate (sample_rate, default 100)"),
        opt("--profiles", help="or: signed profile set giving the sample rate"),
        "supplier-key",
        "json",
    )
    return [
        Command(
            "profiles",
            cmd_profiles,
            "signed profile sets and suspect patterns (example, sign, verify)",
            (
                opt("action", choices=["example", "sign", "verify"]),
                opt("file", nargs="?", help="profile set file"),
                opt("--kind", choices=["profiles", "suspect"], default="profiles", help="example: kind of set"),
                period,
                "tz",
                opt("--key", help="sign: supplier secret key (supplier.key.json)"),
                opt("--out", help="output file (sign: default overwrites FILE; example: default stdout)"),
                "supplier-key",
                "json",
            ),
        ),
        Command(
            "scores",
            cmd_scores,
            "opt-in: scores of your readings against a signed profile set, with proofs",
            (
                "stored",
                "code",
                opt("--profiles", required=True, help="signed profile set or suspect pattern"),
                "supplier-key",
                opt("--consent", action="store_true", help="you agree to the comparison (required: " + OPT_IN + ")"),
                opt("--out", default="scores.json", help="score file to write (default scores.json)"),
                "json",
            ),
        ),
        Command(
            "verify-scores",
            cmd_verify_scores,
            "check a score file with the profile set and the meter key",
            (
                opt("file", help="score file"),
                opt("--profiles", required=True, help="the signed profile set the scores claim"),
                common("meter-key", required=True),
                "supplier-key",
                "json",
            ),
        ),
        Command(
            "beacon",
            cmd_beacon,
            "settlement sampling beacons (make after the period ends, verify)",
            (
                opt("action", choices=["make", "verify"]),
                opt("file", nargs="?", help="verify: beacon file"),
                period,
                "tz",
                opt("--key", help="make: supplier secret key"),
                opt("--supplier", help="make: supplier name (default: the key's name)"),
                opt("--value", help="make: the 32-byte value in hex (default: fresh random)"),
                opt("--out", help="make: beacon file to write"),
                "supplier-key",
                "json",
            ),
        ),
        Command(
            "sample",
            cmd_sample,
            "disclose the settlement sample a signed beacon selects",
            ("stored", "code", opt("--out", default="sample.json", help="file to write (default sample.json)")) + rate,
        ),
        Command(
            "verify-sample",
            cmd_verify_sample,
            "check a sampled disclosure (exactly the selected slots)",
            (opt("file", help="sampled disclosure file"), common("meter-key", required=True)) + rate,
        ),
    ]
