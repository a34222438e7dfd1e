/**
 * The on-premises telemetry collector for the Assisted Installer.
 *
 * @example
 * ```sh
 * deno task start          # main.ts serve
 * deno run -A main.ts once # one pass, then exit
 * ```
 * @module
 */
import { isMainThread, workerData } from "node:worker_threads";
import { type BoundedData, runBounded } from "./src/server/bounded.ts";

if (import.meta.main) {
  if (isMainThread) {
    // This thread only starts the worker that runs the command, heap bounded.
    Deno.exit(await runBounded(new URL(import.meta.url), Deno.args));
  } else {
    const { main } = await import("./src/cli.ts");
    const { removeArchiveSpool } = await import("./src/bundle/spool.ts");
    const code = await main((workerData as BoundedData).args);
    removeArchiveSpool();
    Deno.exit(code);
  }
}
