/**
 * Long synchronous work (a million events, 150 hosts' inventories) shares its
 * isolate with the HTTP server: it gives the event loop a turn now and then,
 * so `/healthz` answers during a pass.
 */

/** The longest a stretch of work keeps the event loop before giving it a turn. */
const TURN_MS = 10;

const ONE_BYTE = new Uint8Array(1);

/**
 * Lets the event loop poll its I/O (the server's requests) once. Any
 * asynchronous operation does, since the loop polls on its way back from it:
 * one that completes at once takes ~0.4 ms here, where `setTimeout(0)` took
 * ~2.3 ms a turn (the timer's resolution), a tenth of a pass at one turn in
 * 10 ms. `setImmediate` and a `MessageChannel` come back without polling:
 * requests waited seconds (README, Scale).
 */
export function eventLoopTurn(): Promise<unknown> {
  return crypto.subtle.digest("SHA-1", ONE_BYTE);
}

/** Gives the event loop a turn once {@linkcode TURN_MS} of work has passed since the last. */
export class TurnTaker {
  #last = performance.now();

  /** A turn to await when one is due; undefined (nothing to await) otherwise. */
  due(): Promise<void> | undefined {
    if (performance.now() - this.#last <= TURN_MS) return undefined;
    return eventLoopTurn().then(() => {
      this.#last = performance.now();
    });
  }
}
