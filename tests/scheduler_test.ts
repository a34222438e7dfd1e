import assert from "node:assert/strict";
import { emptyPassResult, type PassRequest } from "../src/collect/mod.ts";
import { PassScheduler } from "../src/collect/scheduler.ts";

const EMPTY = emptyPassResult();

function gatedRunner() {
  const calls: PassRequest[] = [];
  let open: Array<() => void> = [];
  let running = 0;
  let maxRunning = 0;
  const run = async (request: PassRequest) => {
    calls.push(request);
    running++;
    maxRunning = Math.max(maxRunning, running);
    await new Promise<void>((resolve) => open.push(resolve));
    running--;
    return EMPTY;
  };
  return {
    run,
    calls,
    get maxRunning() {
      return maxRunning;
    },
    release() {
      const waiting = open;
      open = [];
      waiting.forEach((r) => r());
    },
  };
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 1));
}

Deno.test("triggers during a pass queue exactly one more, one at a time", async () => {
  const runner = gatedRunner();
  const s = new PassScheduler(runner.run);
  assert.deepEqual(s.request(), { started: true, queued: false });
  for (let i = 0; i < 5; i++) assert.deepEqual(s.request(), { started: false, queued: true });
  assert.equal(s.state.queued, true);
  runner.release();
  await until(() => runner.calls.length === 2);
  runner.release();
  await s.idle();
  assert.equal(runner.calls.length, 2);
  assert.equal(runner.maxRunning, 1);
  assert.deepEqual([s.state.running, s.state.queued], [false, false]);
  assert.ok(s.state.last?.finished_at);
});

Deno.test("queued requests merge: clusters unite, a full pass wins", async () => {
  const runner = gatedRunner();
  const s = new PassScheduler(runner.run);
  s.request();
  s.request({ clusters: ["a"] });
  s.request({ clusters: ["b", "a"] });
  runner.release();
  await until(() => runner.calls.length === 2);
  assert.deepEqual(runner.calls[1], { clusters: ["a", "b"] });
  s.request({ clusters: ["c"] });
  s.request({});
  runner.release();
  await until(() => runner.calls.length === 3);
  assert.deepEqual(runner.calls[2], { clusters: undefined });
  runner.release();
  await s.idle();
});

Deno.test("a pass that throws does not wedge the scheduler", async () => {
  let n = 0;
  const s = new PassScheduler(() => {
    n++;
    return Promise.reject(new Error("boom"));
  });
  s.request();
  await s.idle();
  assert.equal(s.state.running, false);
  assert.deepEqual(s.state.last?.errors, ["Error: boom"]);
  s.request();
  await s.idle();
  assert.equal(n, 2);
});

Deno.test("a pass that fails as a whole is retried after 1, 2, 4 s, until the interval takes over", async () => {
  const FakeTimers = await import("npm:@sinonjs/fake-timers@15.5.0");
  const clock = FakeTimers.withGlobal(globalThis).install({
    toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"],
  });
  try {
    const starts: number[] = [];
    let failuresLeft = 4;
    const s = new PassScheduler(() => {
      starts.push(clock.now);
      const errors = failuresLeft-- > 0 ? ["database unreachable"] : [];
      return Promise.resolve({ ...emptyPassResult(), errors });
    });
    s.request();
    s.startTimer(6_000);
    await clock.tickAsync(30_000);
    s.stopTimer();
    // Fails at 0, retried at 1 s and 3 s; the 4 s wait is cut short by the interval's
    // pass at 6 s, which fails too; an 8 s wait would pass the interval, so the
    // interval's passes alone follow, once each.
    assert.deepEqual(starts, [0, 1_000, 3_000, 6_000, 12_000, 18_000, 24_000, 30_000]);
    assert.equal(s.state.last?.errors.length, 0);
  } finally {
    clock.uninstall();
  }
});
