/** The real local receiver on a loopback port, for upload tests. */
import { createReceiver, ReceiverStore } from "../../src/receiver/mod.ts";

/** A running receiver. */
export interface TestReceiver {
  endpoint: string;
  store: ReceiverStore;
  /** Requests seen, accepted or not. */
  requests: number;
  close(): Promise<void>;
}

/** Starts a receiver; `answer` can override the response to script faults. */
export async function startReceiver(
  options: {
    token?: string;
    maxBytes?: number;
    answer?: (n: number, request: Request) => Response | Promise<Response> | undefined;
  } = {},
): Promise<TestReceiver> {
  const dir = await Deno.makeTempDir({ prefix: "collector-received-" });
  const store = new ReceiverStore(dir);
  await store.open();
  const app = createReceiver(store, { token: options.token, maxBytes: options.maxBytes });
  const state = { requests: 0 };
  const ready = Promise.withResolvers<number>();
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen: ({ port }) => ready.resolve(port),
  }, (req) => {
    state.requests++;
    return options.answer?.(state.requests, req) ?? app.fetch(req);
  });
  const port = await ready.promise;
  return {
    endpoint: `http://127.0.0.1:${port}/api/ingress/v1/upload`,
    store,
    get requests() {
      return state.requests;
    },
    async close() {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
