/**
 * The page's files as the bridge serves them, through a plain HTTP server: what `send` does for
 * us (content types, ETag and 304, ranges, HEAD, dotfiles, "..") and the one thing it does not
 * do, refusing symlinks that lead out of the web root, against the paths a stranger would try.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, request, type OutgoingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StaticFiles } from "./static-files.js";

const SECRET = "TOP SECRET";
let tempDir: string;
let server: Server;
let base: string;

interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/** A request with the path sent exactly as written (fetch would normalise "..", "%2e" and "\"). */
function raw(rawPath: string, headers: OutgoingHttpHeaders = {}, method = "GET"): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/`, { path: rawPath, headers, method }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function serveFrom(root: string): Promise<string> {
  const files = new StaticFiles(root);
  server = createServer((req, res) => void files.serve(req, res));
  server.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  tempDir = await mkdtemp(path.join(tmpdir(), "static-files-test-"));
  const webRoot = path.join(tempDir, "dist");
  const outside = path.join(tempDir, "outside");
  await mkdir(path.join(webRoot, "assets"), { recursive: true });
  await mkdir(path.join(webRoot, "linked-index"), { recursive: true });
  await mkdir(path.join(webRoot, "evil.example"), { recursive: true });
  await mkdir(outside, { recursive: true });
  await writeFile(path.join(webRoot, "index.html"), "<!doctype html><title>Liver</title>");
  await writeFile(path.join(webRoot, "assets", "app.js"), "console.log('ui');");
  await writeFile(path.join(webRoot, ".env"), `KEY=${SECRET}`);
  await writeFile(path.join(tempDir, "secret.txt"), SECRET);
  await writeFile(path.join(outside, "index.html"), SECRET);
  await writeFile(path.join(outside, "secret.txt"), SECRET);
  // Links out of the root: to a file, to a folder, and a folder's index.html.
  await symlink(path.join(tempDir, "secret.txt"), path.join(webRoot, "link-out.txt"));
  await symlink(outside, path.join(webRoot, "link-dir"));
  await symlink(path.join(outside, "index.html"), path.join(webRoot, "linked-index", "index.html"));
  // A link that stays inside is fine.
  await symlink(path.join(webRoot, "assets", "app.js"), path.join(webRoot, "link-in.js"));
  base = await serveFrom(webRoot);
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(tempDir, { recursive: true, force: true });
});

describe("StaticFiles", () => {
  it("serves index.html at / and files with their content types, revalidated on every use", async () => {
    const index = await raw("/");
    expect(index).toMatchObject({ status: 200, body: "<!doctype html><title>Liver</title>" });
    expect(index.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(index.headers["cache-control"]).toBe("no-cache");
    expect(index.headers["x-content-type-options"]).toBe("nosniff");
    const script = await raw("/assets/app.js?v=1");
    expect(script.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect((await raw("/link-in.js")).body).toBe("console.log('ui');");
    expect((await raw("/missing.js")).status).toBe(404);
    expect((await raw("/assets/")).status).toBe(404);
  });

  it("answers a matching ETag with 304, a range with 206 and HEAD without a body", async () => {
    const first = await raw("/assets/app.js");
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^W\/".+"$/);
    const again = await raw("/assets/app.js", { "if-none-match": etag });
    expect(again).toMatchObject({ status: 304, body: "" });
    const part = await raw("/assets/app.js", { range: "bytes=0-6" });
    expect(part).toMatchObject({ status: 206, body: "console" });
    expect((await raw("/assets/app.js", { range: "bytes=900-999" })).status).toBe(416);
    const head = await raw("/assets/app.js", {}, "HEAD");
    expect(head).toMatchObject({ status: 200, body: "" });
    expect(head.headers["content-length"]).toBe(String("console.log('ui');".length));
  });

  it("redirects a folder to its trailing slash on this site, never to another host", async () => {
    expect(await raw("/assets")).toMatchObject({ status: 301, headers: { location: "/assets/" } });
    // "//evil.example/" would be a protocol-relative address: the browser would leave the site.
    for (const sneaky of ["//evil.example", "///evil.example", "/%2fevil.example"]) {
      const reply = await raw(sneaky);
      expect(reply.status, sneaky).toBe(301);
      expect(reply.headers.location, sneaky).toMatch(/^\/[^/\\]/);
    }
  });

  it("refuses methods other than GET and HEAD", async () => {
    const posted = await raw("/index.html", {}, "POST");
    expect(posted.status).toBe(405);
    expect(posted.headers.allow).toBe("GET, HEAD");
  });

  it("never serves anything outside the web root, nor a dotfile, nor says where the root is", async () => {
    for (const hostile of [
      "/../secret.txt",
      "/assets/../../secret.txt",
      "/%2e%2e/secret.txt",
      "/%2E%2E/secret.txt",
      "/.%2e/secret.txt",
      "/assets/%2e%2e/%2e%2e/secret.txt",
      "/..%2fsecret.txt",
      "/..%5csecret.txt",
      "/%252e%252e/secret.txt",
      "/link-out.txt",
      "/link-dir/secret.txt",
      "/link-dir/",
      "/linked-index/",
      "/link-dir/%2e%2e/secret.txt",
      `/${encodeURIComponent(path.join(tempDir, "secret.txt"))}`,
      `/${path.join(tempDir, "secret.txt")}`,
      "/.env",
      "/assets/../.env",
    ]) {
      const reply = await raw(hostile);
      expect([403, 404], hostile).toContain(reply.status);
      expect(reply.body, hostile).not.toContain(SECRET);
      expect(reply.body, hostile).not.toContain(path.join(tempDir, "dist"));
    }
  });

  it("answers 400 to a path that is not percent-encoded right or holds a NUL byte", async () => {
    for (const malformed of ["/%E0%A4%A", "/%", "/%00index.html", "/index.html%00.js"]) {
      const reply = await raw(malformed);
      expect(reply.status, malformed).toBe(400);
      expect(reply.body, malformed).not.toContain(path.join(tempDir, "dist"));
    }
  });
});

describe("StaticFiles before the page is built", () => {
  it("says the UI is not built, then serves it once the folder exists", async () => {
    const later = path.join(tempDir, "later");
    const files = new StaticFiles(later);
    const own = createServer((req, res) => void files.serve(req, res));
    own.listen(0, "127.0.0.1");
    await new Promise((resolve) => own.once("listening", resolve));
    const url = `http://127.0.0.1:${(own.address() as AddressInfo).port}/`;
    try {
      const before = await fetch(url);
      expect(before.status).toBe(404);
      expect(await before.text()).toContain("The web UI is not built");
      await mkdir(later);
      await writeFile(path.join(later, "index.html"), "built");
      const after = await fetch(url);
      expect(after.status).toBe(200);
      expect(await after.text()).toBe("built");
    } finally {
      await new Promise((resolve) => own.close(resolve));
    }
  });
});
