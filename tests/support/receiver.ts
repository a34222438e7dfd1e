/** The real local receiver on a loopback port, for upload tests. */
import { createReceiver, ReceiverStore } from "../../src/receiver/mod.ts";

/** A running receiver. */
export interface TestReceiver {
  endpoint: string;
  store: ReceiverStore;
  /** Upload requests seen, accepted or not. */
  requests: number;
  /** Questions to the payload tracker seen. */
  tracks: number;
  /** The real receiver's handler, for scripted answers that still store. */
  handle(request: Request): Promise<Response>;
  close(): Promise<void>;
}

/** Scripts an answer to request `n` (from 1); undefined lets the real receiver answer. */
export type Answer = (
  n: number,
  request: Request,
  closing: Promise<void>,
) => Response | undefined | Promise<Response | undefined>;

/** Starts a receiver; `answer` can override the response to script faults. */
export async function startReceiver(
  options: { token?: string; maxBytes?: number; answer?: Answer; track?: Answer } = {},
): Promise<TestReceiver> {
  const dir = await Deno.makeTempDir({ prefix: "collector-received-" });
  const store = new ReceiverStore(dir);
  await store.open();
  const app = createReceiver(store, { token: options.token, maxBytes: options.maxBytes });
  const state = { requests: 0, tracks: 0 };
  // Answers that hang forever are released when the receiver closes, so shutdown can finish.
  const closing = Promise.withResolvers<void>();
  const ready = Promise.withResolvers<number>();
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen: ({ port }) => ready.resolve(port),
  }, async (req) => {
    if (new URL(req.url).pathname.includes("/track/")) {
      state.tracks++;
      return (await options.track?.(state.tracks, req, closing.promise)) ?? await app.fetch(req);
    }
    state.requests++;
    return (await options.answer?.(state.requests, req, closing.promise)) ?? await app.fetch(req);
  });
  const port = await ready.promise;
  return {
    endpoint: `http://127.0.0.1:${port}/api/ingress/v1/upload`,
    store,
    get requests() {
      return state.requests;
    },
    get tracks() {
      return state.tracks;
    },
    handle: async (request) => await app.fetch(request),
    async close() {
      closing.resolve();
      await server.shutdown();
      await store.settled();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
