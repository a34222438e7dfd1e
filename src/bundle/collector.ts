/**
 * V8's garbage collector, called on purpose. Buffers live outside V8's heap
 * and V8 does not weigh them when it decides to collect, so code that drops
 * many of them while allocating little else asks for a collection itself.
 * V8 offers its collector only behind a flag, which takes effect for
 * contexts made after it is set; where that fails this does nothing.
 */
import v8 from "node:v8";
import vm from "node:vm";

let collect: (() => void) | null | undefined;

/**
 * Collects garbage now. What Deno gives such a context is a full collection
 * that also gives memory back, repeated until it frees nothing more (it takes
 * no options: asked for a young-generation collection, it does the same), so
 * it costs a few ms on a small heap and tens of ms on a pass's.
 */
export function collectGarbage(): void {
  if (collect === undefined) {
    try {
      v8.setFlagsFromString("--expose-gc");
      const gc = vm.runInNewContext("gc");
      collect = typeof gc === "function" ? gc : null;
    } catch {
      collect = null;
    }
  }
  collect?.();
}
