# SPDX-License-Identifier: MIT
"""veriwatt.zk: zero-knowledge proofs for non-linear tariffs (design and numbers: docs/ZK.md).

transcript.Transcript          domain-separated SHA-256 Fiat-Shamir transcript
sigma.Atom / And / Or          Sigma-protocol statements, prove() / verify()
range.prove_node / verify_node range proofs by digit decomposition (radix 4)
basic.*                        stand-alone opening, equality, one-of, range proofs
tariffs.*                      step, cumulative, threshold (demand response), rebate:
                               prove_<kind>(tariff, commitments, readings, randomness, ctx,
                                            grp=None, [workers=1])
                               verify_<kind>(tariff, commitments, amount, proof, ctx,
                                             grp=None, [workers=1])  -> amount
                               to_json / from_json (signed by the supplier in the host
                               tariff format: veriwatt/tariff.py, docs/TARIFF.md)
encoding.ProofError            raised by every verifier on rejection
(backend: veriwatt.backend.use(name), the process's one modexp switch: "vwcrypto" for the
 proof layer by default, "pow" or "gmpy2" on request)
"""

from .encoding import ProofError  # noqa: F401
