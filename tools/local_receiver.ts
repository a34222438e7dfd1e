/** The local receiver served in-process on loopback, for the demo, the benchmark and the container test. */
import { createReceiver, ReceiverStore } from "../src/receiver/mod.ts";

/** A running in-process receiver. */
export interface LocalReceiver {
  endpoint: string;
  store: ReceiverStore;
  close(): Promise<void>;
}

/** Serves a receiver keeping its uploads in `dir`, on a free loopback port. */
export async function serveLocalReceiver(dir: string): Promise<LocalReceiver> {
  const store = new ReceiverStore(dir);
  await store.open();
  const ready = Promise.withResolvers<number>();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: ({ port }) => ready.resolve(port) },
    createReceiver(store).fetch,
  );
  return {
    endpoint: `http://127.0.0.1:${await ready.promise}/api/ingress/v1/upload`,
    store,
    async close() {
      await server.shutdown();
      await store.settled();
    },
  };
}
