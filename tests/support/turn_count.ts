/**
 * Run by event_loop_test.ts in a process of its own (an isolate that other tests' servers,
 * timers and workers do not share): sends 40 requests to a server in this isolate, one at a
 * time, while it works in slices that each end with a due turn, and prints how many turns
 * each request took, as JSON.
 */
import { expectRequests, TurnTaker } from "../../src/event_loop.ts";
import { busy } from "./busy.ts";

expectRequests();
const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  () => new Response("ok"),
);
const turns = new TurnTaker();
const taken: number[] = [];
for (let request = 0; request < 40; request++) {
  let answered = false;
  const answer = fetch(`http://127.0.0.1:${server.addr.port}/`)
    .then((r) => r.text())
    .then(() => answered = true);
  let n = 0;
  while (!answered) {
    busy(11); // past TURN_MS, so a turn is due after every slice
    const turn = turns.due();
    if (turn) {
      await turn;
      n++;
    }
  }
  await answer;
  taken.push(n);
}
await server.shutdown();
console.log(JSON.stringify(taken));
