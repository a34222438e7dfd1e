import assert from "node:assert/strict";
import { handleUncaught, isDriverSocketFault } from "../src/server/faults.ts";
import { memoryLogger } from "./support/setup.ts";

/** An error shaped as postgres.js throws it from its write timer (porsager/postgres#1208). */
function driverFault(): TypeError {
  const err = new TypeError("Cannot read properties of null (reading 'write')");
  err.stack =
    `${err.message}\n    at Immediate.nextWrite (file:///deno/npm/registry.npmjs.org/postgres/3.4.9/src/connection.js:255:22)\n    at process.processImmediate (node:internal/timers:485:21)`;
  return err;
}

Deno.test("faults: the driver's write on a closed socket is survived and counted; anything else is fatal", () => {
  const { log, lines } = memoryLogger();
  let counted = 0;
  const known = new ErrorEvent("error", { error: driverFault(), cancelable: true });
  assert.equal(handleUncaught(known, { log, counted: () => counted++ }), "survived");
  assert.equal(known.defaultPrevented, true);
  assert.equal(counted, 1);

  for (
    const error of [
      new TypeError("Cannot read properties of undefined (reading 'map')"),
      new Error("Cannot read properties of null (reading 'write')"),
      Object.assign(new TypeError("Cannot read properties of null (reading 'write')"), {
        stack: "TypeError\n    at somewhere (file:///app/src/collect/mod.ts:1:1)",
      }),
    ]
  ) {
    const event = new ErrorEvent("error", { error, cancelable: true });
    assert.equal(handleUncaught(event, { log, counted: () => counted++ }), "fatal");
    assert.equal(event.defaultPrevented, false, "left to end the process");
  }
  assert.equal(counted, 1);
  assert.ok(isDriverSocketFault(driverFault()));
  assert.ok(lines.some((l) => l.includes("uncaught error: exiting")));
});
