// Builds the console into dist/: the app bundled by esbuild (Preact, uPlot and
// our code in one ES module plus one stylesheet), the static pages, and the
// API reference page with swagger-ui-dist's prebuilt files. Nothing is loaded
// from another origin at run time.
//
//   node console/build.mjs            production build (minified)
//   node console/build.mjs --dev      readable output with source maps
import { build } from "esbuild";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "dist");
const dev = process.argv.includes("--dev");
const require = createRequire(import.meta.url);

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });

await build({
  entryPoints: { app: join(here, "src/main.tsx") },
  outdir: join(out, "assets"),
  bundle: true,
  format: "esm",
  target: ["es2022", "chrome110", "firefox110", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  minify: !dev,
  sourcemap: dev ? "linked" : false,
  legalComments: "linked",
  logLevel: "warning",
});

cpSync(join(here, "static"), out, { recursive: true });

// The API reference: swagger-ui-dist's prebuilt bundle and stylesheet, without
// their source-map comments (the maps are not shipped).
const swagger = dirname(require.resolve("swagger-ui-dist/package.json"));
for (const f of ["swagger-ui-bundle.js", "swagger-ui.css"]) {
  const text = readFileSync(join(swagger, f), "utf8").replace(/\n\/[/*][#@] sourceMappingURL=[^\n]*\s*$/, "\n");
  writeFileSync(join(out, "docs", f), text);
}
cpSync(join(swagger, "LICENSE"), join(out, "docs", "swagger-ui.LICENSE.txt"));
console.log(`console: built ${out}`);
