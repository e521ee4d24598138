#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`make bench`, host part: modexp backends in one run; JSON in build/bench/host.json."""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host"))

from veriwatt import bench  # noqa: E402

result = bench.run()
print(bench.report(result))
os.makedirs(os.path.join(ROOT, "build", "bench"), exist_ok=True)
with open(os.path.join(ROOT, "build", "bench", "host.json"), "w") as f:
    json.dump(result, f, indent=2)
