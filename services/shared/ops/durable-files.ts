import { open } from "node:fs/promises";

/**
 * fsyncs a file or a folder. After a rename, syncing the folder is what makes the new name
 * survive power loss; writers of artifacts and caches do it before they call a write done.
 */
export async function fsyncPath(target: string): Promise<void> {
  const handle = await open(target, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Options of writeFileSynced: the open flag ("wx" refuses to replace a file) and its mode. */
export interface SyncedWriteOptions {
  readonly flag?: "w" | "wx";
  readonly mode?: number;
}

/** Writes `content` to `file` and fsyncs it before resolving, so a later rename publishes whole bytes. */
export async function writeFileSynced(
  file: string,
  content: Uint8Array | string,
  options: SyncedWriteOptions = {},
): Promise<void> {
  const handle = await open(file, options.flag ?? "w", options.mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
