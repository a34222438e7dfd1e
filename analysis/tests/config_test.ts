import assert from "node:assert/strict";
import {
  ANALYSIS_SETTINGS,
  ConfigError,
  loadAnalysisConfig,
  readSettingNames,
} from "../src/config.ts";

Deno.test("every setting read is declared (so --help and the README list it), and none is declared unread", () => {
  assert.deepEqual(
    [...readSettingNames()].sort(),
    ANALYSIS_SETTINGS.map((s) => s.name).sort(),
  );
});

Deno.test("ANALYSIS_MEMORY_LIMIT takes a size, and names itself (never the value) when it is not one", () => {
  assert.equal(loadAnalysisConfig({ ANALYSIS_MEMORY_LIMIT: "600MB" }).memoryLimit, "600MB");
  assert.equal(loadAnalysisConfig({ ANALYSIS_MEMORY_LIMIT: "1.5GiB" }).memoryLimit, "1.5GiB");
  assert.equal(loadAnalysisConfig({}).memoryLimit, undefined);
  for (const bad of ["lots", "600", "-1GB", "1GB; SET x=1"]) {
    assert.throws(
      () => loadAnalysisConfig({ ANALYSIS_MEMORY_LIMIT: bad }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message === "ANALYSIS_MEMORY_LIMIT must be a size such as 600MB or 1GB",
    );
  }
});
