import { randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { ArtifactFile } from "../gen/liver/v1/retrain_service.js";
import { sha256Hex } from "../shared/model/model-artifact.js";
import { fsyncPath, writeFileSynced } from "../shared/ops/durable-files.js";

/** Pointer file naming the cached version; replaced atomically (write, fsync, rename). */
export const CACHE_POINTER_FILE = "current.json";

/** What the cache holds: the files of one version as GetModelArtifact returned them. */
export interface CachedArtifact {
  readonly version: string;
  /** SHA-256 of the manifest, as announced by RetrainService; verified again on load. */
  readonly sha256: string;
  readonly files: ArtifactFile[];
  readonly savedAt: Date;
}

interface Pointer {
  readonly version: string;
  readonly sha256: string;
  readonly dir: string;
  readonly savedAt: string;
}

const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

/** Refuses file and version names that could leave the cache folder (they come off the network). */
function checkName(kind: string, name: string): void {
  if (!SAFE_NAME.test(name) || name.includes("..")) {
    throw new Error(
      `artifact ${kind} "${name}" is not a plain name (letters, digits, '.', '_', '-', at most 128); refusing to write it to disk`,
    );
  }
}

/**
 * This replica's last good artifact on local disk, so it can serve after a restart while
 * RetrainService is down. Written like the registry writes artifacts: into a temporary
 * folder, fsynced, renamed, then the pointer swapped; a crash mid-write leaves the previous
 * entry intact. Contents are re-verified on load (the loader checks the manifest's sha256).
 */
export class ModelCache {
  constructor(readonly dir: string) {}

  /** Stores `files` as the cached version and drops older entries. */
  async save(version: string, sha256: string, files: readonly ArtifactFile[]): Promise<void> {
    checkName("version", version);
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`sha256 "${sha256}" is not 64 hex digits`);
    for (const file of files) checkName("file name", file.name);
    await mkdir(this.dir, { recursive: true });
    const entry = `${version}-${sha256.slice(0, 16)}`;
    const final = path.join(this.dir, entry);
    if (!(await exists(final))) {
      const temp = path.join(this.dir, `.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
      await mkdir(temp);
      try {
        for (const file of files)
          await writeFileSynced(path.join(temp, file.name), file.content, { mode: 0o644 });
        await fsyncPath(temp);
        await rename(temp, final);
      } catch (error) {
        await rm(temp, { recursive: true, force: true });
        // Another writer of the same version won the rename: its files are the same bytes.
        if (!(await exists(final))) throw error;
      }
    }
    const pointer: Pointer = { version, sha256, dir: entry, savedAt: new Date().toISOString() };
    const tempPointer = path.join(this.dir, `.${CACHE_POINTER_FILE}.${randomBytes(6).toString("hex")}`);
    await writeFileSynced(tempPointer, `${JSON.stringify(pointer)}\n`, { mode: 0o644 });
    await rename(tempPointer, path.join(this.dir, CACHE_POINTER_FILE));
    await fsyncPath(this.dir);
    await this.prune(entry);
  }

  /** The cached artifact, or undefined when the cache is empty. Throws when it is unreadable. */
  async load(): Promise<CachedArtifact | undefined> {
    let text: string;
    try {
      text = await readFile(path.join(this.dir, CACHE_POINTER_FILE), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    const pointer = parsePointer(text, path.join(this.dir, CACHE_POINTER_FILE));
    const dir = path.join(this.dir, pointer.dir);
    const names = (await readdir(dir)).sort();
    const files: ArtifactFile[] = [];
    for (const name of names) {
      const content = await readFile(path.join(dir, name));
      files.push({ name, content, sha256: sha256Hex(content) });
    }
    return { version: pointer.version, sha256: pointer.sha256, files, savedAt: new Date(pointer.savedAt) };
  }

  private async prune(keep: string): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (name === keep || name === CACHE_POINTER_FILE || name.startsWith(".")) continue;
      await rm(path.join(this.dir, name), { recursive: true, force: true });
    }
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

function parsePointer(text: string, file: string): Pointer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const record = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const { version, sha256, dir, savedAt } = record;
  if (typeof version !== "string" || typeof sha256 !== "string" || typeof dir !== "string") {
    throw new Error(`${file} lacks version, sha256 or dir`);
  }
  checkName("version", version);
  checkName("folder", dir);
  return { version, sha256, dir, savedAt: typeof savedAt === "string" ? savedAt : new Date(0).toISOString() };
}
