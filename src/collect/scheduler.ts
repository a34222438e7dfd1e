/**
 * Runs passes one at a time in the background. A request during a pass
 * queues exactly one more (requests merge), so a burst of triggers never
 * turns into a burst of passes. A pass that fails as a whole (the database
 * unreachable, say, while a pod is still starting) is tried again soon,
 * after 1, 2, 4 … seconds, rather than an interval later; once the wait
 * would reach the interval, the interval's own passes take over.
 */
import { emptyPassResult, type PassRequest, type PassResult } from "./mod.ts";

/** What the scheduler is doing, for `/v1/status`. */
export interface SchedulerState {
  running: boolean;
  queued: boolean;
  last?: PassResult & { finished_at: string };
}

function merge(a: PassRequest | undefined, b: PassRequest): PassRequest {
  if (!a) return { clusters: b.clusters ? [...b.clusters] : undefined };
  if (!a.clusters || !b.clusters) return { clusters: undefined };
  return { clusters: [...new Set([...a.clusters, ...b.clusters])] };
}

/** The first retry after a failed pass. */
const RETRY_FIRST_MS = 1000;

/** Serialises passes and owns the interval timer. */
export class PassScheduler {
  readonly #run: (request: PassRequest) => Promise<PassResult>;
  #running?: Promise<void>;
  #queued?: PassRequest;
  #last?: SchedulerState["last"];
  #timer?: ReturnType<typeof setInterval>;
  #intervalMs = 0;
  #retry?: ReturnType<typeof setTimeout>;
  #failures = 0;

  constructor(run: (request: PassRequest) => Promise<PassResult>) {
    this.#run = run;
  }

  /** Starts a pass now, or queues one if a pass is running. */
  request(request: PassRequest = {}): { started: boolean; queued: boolean } {
    if (this.#running) {
      this.#queued = merge(this.#queued, request);
      return { started: false, queued: true };
    }
    // Any pass supersedes a pending retry.
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#running = this.#loop(request);
    return { started: true, queued: false };
  }

  async #loop(first: PassRequest): Promise<void> {
    let next: PassRequest | undefined = first;
    try {
      while (next) {
        let result: PassResult;
        try {
          result = await this.#run(next);
        } catch (err) {
          // A pass reports its own problems; this only keeps a bug from wedging the loop.
          result = { ...emptyPassResult(), errors: [String(err)] };
        }
        this.#last = { ...result, finished_at: new Date().toISOString() };
        this.#afterPass(result);
        next = this.#queued;
        this.#queued = undefined;
      }
    } finally {
      this.#running = undefined;
    }
  }

  #afterPass(result: PassResult): void {
    if (result.errors.length === 0) {
      this.#failures = 0;
      return;
    }
    const delay = RETRY_FIRST_MS * 2 ** this.#failures++;
    if (this.#timer === undefined || delay >= this.#intervalMs) return;
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.request({});
    }, delay);
  }

  /** Resolves once no pass is running or queued. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** The current state. */
  get state(): SchedulerState {
    return {
      running: this.#running !== undefined,
      queued: this.#queued !== undefined,
      last: this.#last,
    };
  }

  /** Requests a full pass every `intervalMs`. */
  startTimer(intervalMs: number): void {
    this.stopTimer();
    this.#intervalMs = intervalMs;
    this.#timer = setInterval(() => this.request({}), intervalMs);
  }

  /** Stops the timer; a running pass finishes. */
  stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    clearTimeout(this.#retry);
    this.#timer = undefined;
    this.#retry = undefined;
  }
}
