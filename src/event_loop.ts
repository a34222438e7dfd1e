/**
 * Long synchronous work (a million events, 150 hosts' inventories) shares its
 * isolate with the HTTP server: it gives the event loop a turn now and then,
 * so `/healthz` answers during a pass.
 */

/** The longest a stretch of work keeps the event loop before giving it a turn. */
const TURN_MS = 10;
/** The same with no server to answer (`once`, `preview`): only signals wait. */
const TURN_MS_UNSERVED = 50;

const ONE_BYTE = new Uint8Array(1);

/**
 * Lets the event loop poll its I/O (the server's requests) once. Any
 * asynchronous operation does, since the loop polls on its way back from it:
 * one that completes at once takes 0.25 ms after 10 ms of work here (0.03 ms
 * in a loop of them; 2026-12-03), where `setTimeout(0)` took ~2.1-2.3 ms a
 * turn (the timer's resolution), a tenth of a pass at one turn in 10 ms. `setImmediate`
 * and a `MessageChannel` come back without polling: requests waited seconds
 * (README, Scale).
 */
function eventLoopTurn(): Promise<unknown> {
  return crypto.subtle.digest("SHA-1", ONE_BYTE);
}

/** One turn in this many is a timer's: it lets a request through every stage at once. */
const TIMER_TURN_EVERY = 4;

/**
 * Quick turns taken one after another while the isolate serves HTTP. A
 * request needs the loop several times in a row (its bytes read, its handler
 * run, its answer written); one poll every 10 ms spread those over two or
 * three stretches of work while a COPY kept the loop busy, and `/healthz`
 * waited up to 19 turns. After 10 ms of work, three in a row took 0.38 ms
 * and one 0.25 ms; no cost showed in a pass's time (README, Scale).
 */
const QUICK_TURNS_TOGETHER = 3;

let serving = false;

/**
 * Called once this isolate serves HTTP: from then on, turns come every
 * {@linkcode TURN_MS}, and one in {@linkcode TIMER_TURN_EVERY} is a timer's.
 */
export function expectRequests(): void {
  serving = true;
}

/**
 * Gives the event loop a turn once {@linkcode TURN_MS} of work has passed
 * since the last. A request needs several polls (accept, read, answer,
 * write): while the isolate serves HTTP, a turn is
 * {@linkcode QUICK_TURNS_TOGETHER} quick ones in a row, and one in
 * {@linkcode TIMER_TURN_EVERY} starts with a timer's, which keeps the loop
 * polling for its ~2.3 ms. With single quick turns alone, `/healthz` p99 was
 * ~150 ms during a pass; with timers alone, turns cost a tenth of the pass;
 * with runs of quick turns but no timer's, p99 was 72-154 ms (README, Scale).
 */
export class TurnTaker {
  #last = performance.now();
  #turns = 0;

  /** A turn to await when one is due; undefined (nothing to await) otherwise. */
  due(): Promise<void> | undefined {
    if (performance.now() - this.#last <= (serving ? TURN_MS : TURN_MS_UNSERVED)) return undefined;
    return this.now();
  }

  /** A turn now, however little work has passed (around a step that holds the thread at once). */
  now(): Promise<void> {
    let turn = serving && ++this.#turns % TIMER_TURN_EVERY === 0
      ? new Promise((resolve) => setTimeout(resolve, 0))
      : eventLoopTurn();
    for (let i = 1; serving && i < QUICK_TURNS_TOGETHER; i++) turn = turn.then(eventLoopTurn);
    return turn.then(() => {
      this.#last = performance.now();
    });
  }
}
