/**
 * Builds the web UI into a folder the bridge (or any static server next to Envoy) serves:
 * the TypeScript bundled and minified by esbuild, the stylesheet, and index.html pointing at
 * content-hashed file names so a new build is never mixed with a cached old one. Reports
 * the gzipped size of the JavaScript, which has a budget (JS_GZIP_BUDGET_BYTES).
 *
 * `npm run build:web` runs it; `buildWeb` is also called by the end-to-end test.
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const WEB_DIR = path.dirname(fileURLToPath(import.meta.url));

/** Where `npm run build:web` writes, and where the bridge looks by default. */
export const DEFAULT_WEB_OUT_DIR = path.join(WEB_DIR, "dist");

/** The budget for the page's JavaScript, gzipped (43.6 KiB with the grpc-web library, which adds about 9 KiB). */
export const JS_GZIP_BUDGET_BYTES = 48 * 1024;

/**
 * The file names Envoy's page routes read (gateway/envoy.yaml): Envoy cannot serve a
 * content-hashed name, so it maps the `/app-` and `/styles-` prefixes to these fixed ones.
 */
export const ENVOY_PAGE_NAMES = { script: "app.js", stylesheet: "styles.css", html: "index.html" } as const;

/** Build settings. */
export interface WebBuildOptions {
  /** Output folder, replaced as a whole (default gateway/web/dist). */
  readonly outDir?: string;
  /**
   * Also write the same bytes under ENVOY_PAGE_NAMES into this folder (replaced as a whole):
   * the page the Envoy image serves (the Dockerfile's web stage passes `--envoy-dir`).
   */
  readonly envoyDir?: string;
  /** Minify (default true). */
  readonly minify?: boolean;
}

/** One written file. */
export interface BuiltFile {
  readonly name: string;
  readonly bytes: number;
  readonly gzipBytes: number;
}

/** What was built. */
export interface WebBuildResult {
  readonly outDir: string;
  readonly files: readonly BuiltFile[];
  /** The JavaScript bundle's file name, e.g. "app-3f2a9c1d.js". */
  readonly script: string;
  /** Gzipped size of all JavaScript the page loads. */
  readonly jsGzipBytes: number;
}

function contentHash(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 10);
}

function replaceOnce(html: string, from: string, to: string): string {
  const count = html.split(from).length - 1;
  if (count !== 1) throw new Error(`index.html must reference ${from} exactly once; found ${count}`);
  return html.replace(from, to);
}

/** Refuses to delete a folder that is not a previous build (so a wrong outDir cannot wipe data). */
async function assertReplaceable(outDir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(outDir);
  } catch {
    return;
  }
  if (entries.length > 0 && !entries.includes("index.html")) {
    throw new Error(
      `${outDir} is not empty and holds no index.html; refusing to replace it with the web build`,
    );
  }
}

async function replaceFolder(staging: string, target: string): Promise<void> {
  await rm(target, { recursive: true, force: true });
  await mkdir(path.dirname(target), { recursive: true });
  await rename(staging, target);
}

/** Bundles, hashes and writes the page; throws when the JavaScript exceeds its budget. */
export async function buildWeb(options: WebBuildOptions = {}): Promise<WebBuildResult> {
  const outDir = path.resolve(options.outDir ?? DEFAULT_WEB_OUT_DIR);
  const bundle = await build({
    entryPoints: [path.join(WEB_DIR, "src", "app.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["chrome116", "firefox124", "safari17.4"],
    minify: options.minify ?? true,
    legalComments: "none",
    write: false,
    outdir: "out",
    logLevel: "silent",
  });
  const [js] = bundle.outputFiles;
  if (js === undefined || bundle.outputFiles.length !== 1) {
    throw new Error(
      `esbuild produced ${bundle.outputFiles.length} files; expected exactly one JavaScript bundle`,
    );
  }
  const css = await readFile(path.join(WEB_DIR, "styles.css"));
  const script = `app-${contentHash(js.contents)}.js`;
  const stylesheet = `styles-${contentHash(css)}.css`;
  let html = await readFile(path.join(WEB_DIR, "index.html"), "utf8");
  html = replaceOnce(html, 'src="app.js"', `src="${script}"`);
  html = replaceOnce(html, 'href="styles.css"', `href="${stylesheet}"`);

  const outputs: [string, Uint8Array][] = [
    [script, js.contents],
    [stylesheet, css],
    ["index.html", new TextEncoder().encode(html)],
  ];
  await assertReplaceable(outDir);
  const staging = `${outDir}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  for (const [name, bytes] of outputs) await writeFile(path.join(staging, name), bytes);
  await replaceFolder(staging, outDir);
  if (options.envoyDir !== undefined) {
    const envoyDir = path.resolve(options.envoyDir);
    const envoyStaging = `${envoyDir}.tmp-${process.pid}`;
    await assertReplaceable(envoyDir);
    await rm(envoyStaging, { recursive: true, force: true });
    await mkdir(envoyStaging, { recursive: true });
    await writeFile(path.join(envoyStaging, ENVOY_PAGE_NAMES.script), js.contents);
    await writeFile(path.join(envoyStaging, ENVOY_PAGE_NAMES.stylesheet), css);
    await writeFile(path.join(envoyStaging, ENVOY_PAGE_NAMES.html), html);
    await replaceFolder(envoyStaging, envoyDir);
  }

  const files = outputs.map(([name, bytes]) => ({
    name,
    bytes: bytes.length,
    gzipBytes: gzipSync(bytes, { level: 9 }).length,
  }));
  const jsGzipBytes = files.filter((f) => f.name.endsWith(".js")).reduce((n, f) => n + f.gzipBytes, 0);
  if (jsGzipBytes > JS_GZIP_BUDGET_BYTES) {
    throw new Error(
      `the page's JavaScript is ${jsGzipBytes} bytes gzipped; the budget is ${JS_GZIP_BUDGET_BYTES}`,
    );
  }
  return { outDir, files, script, jsGzipBytes };
}

async function main(): Promise<void> {
  const started = performance.now();
  const flag = process.argv.indexOf("--envoy-dir");
  const envoyDir = flag === -1 ? undefined : process.argv[flag + 1];
  if (flag !== -1 && envoyDir === undefined) throw new Error("--envoy-dir needs a folder");
  const result = await buildWeb({ envoyDir });
  for (const file of result.files) {
    console.log(
      `${file.name.padEnd(28)} ${String(file.bytes).padStart(8)} B  ${String(file.gzipBytes).padStart(7)} B gzipped`,
    );
  }
  const kib = (result.jsGzipBytes / 1024).toFixed(1);
  console.log(
    `JavaScript: ${kib} KiB gzipped (budget ${JS_GZIP_BUDGET_BYTES / 1024} KiB); wrote ${result.outDir} in ${Math.round(performance.now() - started)} ms`,
  );
  await stat(path.join(result.outDir, "index.html"));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
