// Builds the live display into src/airpicture/web/static/ (served at / by airpicture.web).
// Everything the page needs is in that directory: no CDN, no tiles, nothing from the internet at run time.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "airpicture", "web", "static");
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "base"), { recursive: true });

await build({
  entryPoints: { app: join(here, "src", "app.js") },
  bundle: true,
  minify: true,
  sourcemap: false,
  format: "iife",
  target: ["chrome110", "firefox110", "safari16"],
  outdir: out,
  loader: { ".png": "file", ".svg": "file" },
  assetNames: "assets/[name]-[hash]",
  legalComments: "linked",
  logLevel: "warning",
});
copyFileSync(join(here, "src", "index.html"), join(out, "index.html"));
// Natural Earth (world-atlas TopoJSON): land for the coastlines, countries for the borders; 1:50m and 1:10m.
for (const f of ["land-50m.json", "countries-50m.json", "land-10m.json", "countries-10m.json"]) {
  copyFileSync(join(here, "node_modules", "world-atlas", f), join(out, "base", f));
}
console.log(`built ${out}`);
