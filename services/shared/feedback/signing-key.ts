import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { MIN_KEY_BYTES } from "./feedback-token.js";

/** File name of the locally generated key inside DATA_PATH. */
export const SIGNING_KEY_FILE = "feedback-signing.key";

/**
 * Parses FEEDBACK_SIGNING_KEY: hex (64+ characters) or base64 (44+), so a Kubernetes
 * Secret made with `openssl rand -hex 32` or `-base64 32` works as it is.
 */
export function parseSigningKey(text: string, source = "FEEDBACK_SIGNING_KEY"): Buffer {
  const trimmed = text.trim();
  const key =
    /^[0-9a-fA-F]+$/.test(trimmed) && trimmed.length % 2 === 0
      ? Buffer.from(trimmed, "hex")
      : Buffer.from(trimmed, "base64");
  if (key.length < MIN_KEY_BYTES) {
    throw new Error(
      `${source} decodes to ${key.length} bytes; at least ${MIN_KEY_BYTES} are required (make one with: openssl rand -hex 32)`,
    );
  }
  return key;
}

/**
 * The key for a local run: FEEDBACK_SIGNING_KEY when set, else the one kept in the data
 * folder, created (mode 0600) on first use so every process of one data folder agrees.
 */
export function loadOrCreateSigningKey(dataPath: string, envValue: string | undefined): Buffer {
  if (envValue !== undefined && envValue.trim() !== "") return parseSigningKey(envValue);
  const file = path.join(dataPath, SIGNING_KEY_FILE);
  try {
    return parseSigningKey(readFileSync(file, "utf8"), file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(dataPath, { recursive: true });
  const key = randomBytes(32);
  try {
    writeFileSync(file, `${key.toString("hex")}\n`, { mode: 0o600, flag: "wx" });
    return key;
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === "EEXIST")
      return parseSigningKey(readFileSync(file, "utf8"), file);
    throw error;
  }
}
