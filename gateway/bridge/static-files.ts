import { realpath } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import send from "send";

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" });
  res.end(text);
}

/** What `send` fails with: an http-errors error, whose message is safe to show when `expose`. */
interface SendError {
  readonly status: number;
  readonly expose: boolean;
  readonly message: string;
}

/**
 * Serves the built web UI from one folder: GET and HEAD only, index.html for "/" and for
 * folders, and nothing outside the folder. `send` does the HTTP (content types, ETag and
 * conditional GET, ranges, HEAD) and refuses ".." segments, encoded or not, and dotfiles;
 * it follows symlinks, so a link that leads out of the folder is refused here first.
 */
export class StaticFiles {
  constructor(private readonly root: string) {}

  /** Answers one request for a file under the root. */
  async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      plain(res, 405, `Method ${req.method ?? ""} not allowed for static files; use GET`);
      return;
    }
    // Resolved on each request, so the UI may be built (or rebuilt) while the bridge runs.
    const root = await realpath(this.root).catch(() => undefined);
    if (root === undefined) {
      plain(res, 404, `The web UI is not built: ${this.root} does not exist (run the web build)`);
      return;
    }
    const urlPath = (req.url ?? "/").split("?")[0] ?? "/";
    if (await this.leadsOut(root, urlPath)) {
      plain(res, 403, "Path escapes the web root");
      return;
    }
    res.setHeader("cache-control", "no-cache");
    res.setHeader("x-content-type-options", "nosniff");
    send(req, urlPath, { root, cacheControl: false })
      .on("error", (error: SendError) => {
        // A read that fails after the headers went out can only cut the answer short.
        if (res.headersSent) res.destroy();
        else if (error.expose) plain(res, error.status, `${error.message}: ${urlPath}`);
        // Not exposed: a failed read, whose message holds the file's absolute path.
        else
          plain(res, error.status, error.status === 404 ? `Not found: ${urlPath}` : "Cannot read the file");
      })
      .pipe(res);
  }

  /**
   * Whether the file `send` would serve for `urlPath` is, through a symlink, outside the root.
   * Paths `send` refuses or cannot find anyway (bad encoding, "..", missing) are left to it.
   */
  private async leadsOut(root: string, urlPath: string): Promise<boolean> {
    try {
      const file = path.join(root, decodeURIComponent(urlPath), urlPath.endsWith("/") ? "index.html" : "");
      const real = await realpath(file);
      return real !== root && !real.startsWith(root + path.sep);
    } catch {
      return false;
    }
  }
}
