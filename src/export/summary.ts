/** What an export file holds, as `export` prints it: its manifest's counts. */
import { createTarDecoder } from "modern-tar";
import { EXPORT_MANIFEST, manifestSchema } from "../../contract/mod.ts";

/** The file name, archive count and what was left out (with reasons) of an export file. */
export async function readExportManifest(path: string): Promise<Record<string, unknown>> {
  const file = await Deno.open(path);
  for await (const entry of file.readable.pipeThrough(createTarDecoder())) {
    if (entry.header.name !== EXPORT_MANIFEST) {
      await entry.body.cancel();
      continue;
    }
    const manifest = manifestSchema.parse(JSON.parse(await new Response(entry.body).text()));
    return {
      file: path,
      archives: manifest.archives.length,
      left_out: manifest.left_out.length,
      left_out_reasons: manifest.left_out_counts,
    };
  }
  throw new Error(`${path} has no manifest`);
}
