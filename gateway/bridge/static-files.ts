import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { pipeline } from "node:stream/promises";

/** Content types of the files a bundled web UI consists of. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff2": "font/woff2",
  ".wasm": "application/wasm",
};

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" });
  res.end(text);
}

function inside(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root + path.sep);
}

/**
 * Serves the built web UI from one folder: GET and HEAD only, index.html for "/" and for
 * folders, a content type per extension, and nothing outside the folder: ".." segments,
 * encoded or not, and symlinks that lead out are refused.
 */
export class StaticFiles {
  private rootReal: Promise<string | undefined> | undefined;

  constructor(private readonly root: string) {}

  /** Answers one request for a file under the root. */
  async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      plain(res, 405, `Method ${req.method ?? ""} not allowed for static files; use GET`);
      return;
    }
    const rawPath = (req.url ?? "/").split("?")[0] ?? "/";
    let decoded: string;
    try {
      decoded = decodeURIComponent(rawPath);
    } catch {
      plain(res, 400, "Malformed percent-encoding in the path");
      return;
    }
    const root = await this.realRoot();
    if (root === undefined) {
      plain(res, 404, `The web UI is not built: ${this.root} does not exist (run the web build)`);
      return;
    }
    if (decoded.includes("\0") || decoded.split(/[/\\]/).includes("..")) {
      plain(res, 403, "Path escapes the web root");
      return;
    }
    // Without ".." segments, resolving "./<path>" stays under the root (an absolute path too);
    // only a symlink can lead out, which the realpath check below refuses.
    let file = path.resolve(root, `.${path.sep}${decoded}`);
    try {
      if ((await stat(file)).isDirectory()) file = path.join(file, "index.html");
      file = await realpath(file);
      const info = await stat(file);
      if (!inside(root, file)) {
        plain(res, 403, "Path escapes the web root");
        return;
      }
      if (!info.isFile()) throw new Error("not a file");
      res.writeHead(200, {
        "content-type": CONTENT_TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream",
        "content-length": info.size,
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
      });
      if (req.method === "HEAD") {
        res.end();
        return;
      }
      await pipeline(createReadStream(file), res);
    } catch (error) {
      if (res.headersSent) {
        res.destroy(error instanceof Error ? error : undefined);
        return;
      }
      plain(res, 404, `Not found: ${rawPath}`);
    }
  }

  private realRoot(): Promise<string | undefined> {
    // Resolved once, lazily, so the UI may be built after the bridge starts.
    this.rootReal ??= realpath(this.root).then(
      (r) => r,
      () => {
        this.rootReal = undefined;
        return undefined;
      },
    );
    return this.rootReal;
  }
}
