import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildWeb, JS_GZIP_BUDGET_BYTES } from "./build.js";

describe("buildWeb", () => {
  const dirs: string[] = [];
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(path.join(tmpdir(), "web-build-"));
    dirs.push(dir);
    return dir;
  };
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it("writes index.html pointing at content-hashed bundle and stylesheet, within the size budget", async () => {
    const outDir = path.join(await tempDir(), "dist");
    const result = await buildWeb({ outDir });
    const files = (await readdir(outDir)).sort();
    expect(files).toHaveLength(3);
    const script = files.find((f) => /^app-[0-9a-f]{10}\.js$/.test(f));
    const stylesheet = files.find((f) => /^styles-[0-9a-f]{10}\.css$/.test(f));
    expect(script).toBe(result.script);
    const html = await readFile(path.join(outDir, "index.html"), "utf8");
    expect(html).toContain(`<script type="module" src="${script ?? "?"}"></script>`);
    expect(html).toContain(`href="${stylesheet ?? "?"}"`);
    expect(result.jsGzipBytes).toBeGreaterThan(1000);
    expect(result.jsGzipBytes).toBeLessThanOrEqual(JS_GZIP_BUDGET_BYTES);
    const js = await readFile(path.join(outDir, result.script), "utf8");
    // Calls go to the page's own origin: no absolute URL to a gateway is baked in.
    expect(js).toContain("/liver.v1.PredictService/Predict");
    expect(js).not.toMatch(/https?:\/\/(?:localhost|127\.0\.0\.1)/);
  });

  it("builds a page the strict CSP allows: no inline script, style, handler or eval", async () => {
    const outDir = path.join(await tempDir(), "dist");
    const result = await buildWeb({ outDir });
    const html = await readFile(path.join(outDir, "index.html"), "utf8");
    // Every <script> has a src; no <style> element, style attribute or on* handler.
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) expect(tag).toMatch(/\bsrc="/);
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=|javascript:/i);
    const js = await readFile(path.join(outDir, result.script), "utf8");
    // No code from strings (script-src 'self' has no 'unsafe-eval'), no style attribute set.
    expect(js).not.toMatch(/\beval\(|new Function\(|setAttribute\("style"/);
  });

  it("replaces an earlier build but refuses to wipe a folder that is not one", async () => {
    const root = await tempDir();
    const outDir = path.join(root, "dist");
    await mkdir(outDir);
    await writeFile(path.join(outDir, "index.html"), "old build");
    await writeFile(path.join(outDir, "app-0000000000.js"), "old");
    await buildWeb({ outDir });
    expect(await readdir(outDir)).not.toContain("app-0000000000.js");

    const precious = path.join(root, "precious");
    await mkdir(precious);
    await writeFile(path.join(precious, "notes.txt"), "keep me");
    await expect(buildWeb({ outDir: precious })).rejects.toThrow(/not empty and holds no index\.html/);
    expect(await readFile(path.join(precious, "notes.txt"), "utf8")).toBe("keep me");
  });
});
