// Run the customer page's Python (web/static/vwpage.py + firmware/vwcore) under the official
// MicroPython WebAssembly build in Node, as the browser does: node node_page.mjs ROOT REQ.json
// REQ.json: {"code", "meter_id", "request": {...make_bill input without seed/offsets/now...},
//            "offsets": [...], "seed": hex, "now": secs}. Prints {"unlock": ..., "bill": ..., "ms": {...}}.
import { readFileSync, readdirSync } from "fs";
import { join } from "path";

const [root, reqFile] = process.argv.slice(2);
const mpPath = join(root, "web/node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs");
const { loadMicroPython } = await import(mpPath);
const t0 = performance.now();
const mp = await loadMicroPython({ heapsize: 64 * 1024 * 1024, stdout: (s) => process.stderr.write(s + "\n"), linebuffer: true });
mp.FS.mkdirTree("/lib/vwcore");
for (const f of readdirSync(join(root, "firmware/vwcore"))) {
  if (f.endsWith(".py")) mp.FS.writeFile("/lib/vwcore/" + f, readFileSync(join(root, "firmware/vwcore", f)));
}
mp.FS.writeFile("/lib/vwpage.py", readFileSync(join(root, "web/static/vwpage.py")));
const page = mp.pyimport("vwpage");
const t1 = performance.now();
const req = JSON.parse(readFileSync(reqFile, "utf8"));
const unlock = JSON.parse(page.unlock_json(req.code, req.meter_id));
const t2 = performance.now();
let bill = null;
if (unlock.ok) {
  const r = Object.assign({}, req.request, { offsets: req.offsets, seed: req.seed, now: req.now });
  const hex = r.records_hex;
  delete r.records_hex;
  bill = JSON.parse(page.bill_json(JSON.stringify(r), hex));
}
const t3 = performance.now();
process.stdout.write(JSON.stringify({ unlock, bill, ms: { load: t1 - t0, unlock: t2 - t1, bill: t3 - t2 } }));
