/**
 * The archive contract between the collector and the analysis program: the
 * layout, `metadata.json`, the keys allowed to leave (from the allow-list),
 * a bounded reader, and the local receiver's store format. Both programs
 * import this module; neither imports the other.
 */
export * from "./archive.ts";
export * from "./policy.ts";
export * from "./store.ts";
export * from "./export.ts";
export * from "./event_templates.ts";
export * from "./ingress.ts";
