/**
 * Runs passes one at a time in the background. A request during a pass
 * queues exactly one more (requests merge), so a burst of triggers never
 * turns into a burst of passes.
 */
import { emptyPassResult, type PassRequest, type PassResult } from "../collect/mod.ts";

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

/** Serialises passes and owns the interval timer. */
export class PassScheduler {
  readonly #run: (request: PassRequest) => Promise<PassResult>;
  #running?: Promise<void>;
  #queued?: PassRequest;
  #last?: SchedulerState["last"];
  #timer?: ReturnType<typeof setInterval>;

  constructor(run: (request: PassRequest) => Promise<PassResult>) {
    this.#run = run;
  }

  /** Starts a pass now, or queues one if a pass is running. */
  request(request: PassRequest = {}): { started: boolean; queued: boolean } {
    if (this.#running) {
      this.#queued = merge(this.#queued, request);
      return { started: false, queued: true };
    }
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
        next = this.#queued;
        this.#queued = undefined;
      }
    } finally {
      this.#running = undefined;
    }
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
    this.#timer = setInterval(() => this.request({}), intervalMs);
  }

  /** Stops the timer; a running pass finishes. */
  stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
