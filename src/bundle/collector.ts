/**
 * V8's garbage collector, called on purpose. Buffers live outside V8's heap
 * and V8 does not weigh them when it decides to collect, so code that drops
 * many of them while allocating little else asks for a collection itself.
 * V8 offers its collector only behind a flag, which takes effect for
 * contexts made after it is set; where that fails this does nothing.
 */
import v8 from "node:v8";
import vm from "node:vm";

type Collect = (options?: { type: "major" | "minor" }) => void;

let collect: Collect | null | undefined;

/**
 * Collects garbage now: `major` the whole heap, `minor` the young generation
 * only (a millisecond or two, where buffers used once and dropped die).
 */
export function collectGarbage(type: "major" | "minor"): void {
  if (collect === undefined) {
    try {
      v8.setFlagsFromString("--expose-gc");
      const gc = vm.runInNewContext("gc");
      collect = typeof gc === "function" ? gc : null;
    } catch {
      collect = null;
    }
  }
  collect?.({ type });
}
