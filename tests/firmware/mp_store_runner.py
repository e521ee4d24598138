# SPDX-License-Identifier: MIT
# Runs store_cases under the unix micropython: micropython mp_store_runner.py <tmpdir>
# Prints "ok <case>" or "FAIL <case> <error>" per case, then "done".
import os
import sys

import store_cases


def main():
    base = sys.argv[1]
    for i, (name, fn) in enumerate(store_cases.CASES):
        d = base + "/" + name
        os.mkdir(d)
        try:
            fn(d)
            print("ok", name)
        except Exception as e:
            print("FAIL", name, repr(e))
    print("done")


main()
