/**
 * TensorFlow.js backend selection: the native binding when it is installed, else the WASM
 * backend, else the pure-JS CPU backend. Training speed differs by an order of magnitude
 * between them, so the choice and the reason each faster option was skipped are logged and
 * recorded in every artifact's manifest.
 */
import { access } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { pino } from "pino";

/** The TensorFlow.js namespace this project trains with. */
export type Tf = typeof tf;

/** Backends in order of preference; "tensorflow" is what @tensorflow/tfjs-node registers. */
export type TfBackendName = "tensorflow" | "wasm" | "cpu";

/** A faster backend that was not used, and why. */
export interface SkippedBackend {
  readonly name: TfBackendName;
  readonly reason: string;
}

/** The backend in use, the tf namespace bound to it, and why the faster ones were skipped. */
export interface TfBackend {
  readonly name: TfBackendName;
  readonly tf: Tf;
  readonly skipped: readonly SkippedBackend[];
}

/**
 * Loaders that make a backend available to tf (register it). Injected so tests can drive
 * every path of the selection; the defaults import the real packages.
 */
export interface TfBackendLoaders {
  /** Loads @tensorflow/tfjs-node, which registers the "tensorflow" backend. */
  readonly tensorflow: () => Promise<void>;
  /** Loads @tensorflow/tfjs-backend-wasm and points it at its .wasm binaries. */
  readonly wasm: () => Promise<void>;
}

/** The part of a pino logger the selection uses. */
export interface TfBackendLogger {
  info(fields: object, message: string): void;
}

/** Package name kept in a variable: it is an optional dependency that may not be installed. */
const TFJS_NODE_PACKAGE: string = "@tensorflow/tfjs-node";

/** Imports @tensorflow/tfjs-node; rejects when the optional dependency is absent or broken. */
async function loadTfjsNode(): Promise<void> {
  await import(TFJS_NODE_PACKAGE);
}

/**
 * The folder holding the .wasm binaries, resolved from node_modules as a file path: in Node
 * the WASM backend reads the binaries from disk, so a URL prefix would not load.
 */
export function wasmBinaryDir(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm")) + path.sep;
}

async function loadWasm(): Promise<void> {
  const dir = wasmBinaryDir();
  // Fail here, with the path in the message, rather than deep inside backend init.
  try {
    await access(path.join(dir, "tfjs-backend-wasm.wasm"));
  } catch (error) {
    throw new Error(`tfjs-backend-wasm binaries not found in ${dir}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  wasm.setWasmPaths(dir);
}

/** The real package loaders. */
export const defaultTfBackendLoaders: TfBackendLoaders = { tensorflow: loadTfjsNode, wasm: loadWasm };

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message.split("\n")[0] ?? error.message;
  return String(error);
}

/**
 * Runs a tiny matrix product and sigmoid on the active backend: a backend that registers but
 * computes garbage (or throws on first use) must not be chosen.
 */
function checkBackendComputes(): string | undefined {
  try {
    const values = tf.tidy(() => {
      const product = tf.matMul(tf.tensor2d([1, 2, 3], [1, 3]), tf.tensor2d([4, 5, 6], [3, 1]));
      return tf.concat([product.reshape([1]), tf.sigmoid(tf.scalar(0)).reshape([1])]);
    });
    const data = values.dataSync();
    values.dispose();
    if (data[0] !== 32 || Math.abs((data[1] ?? Number.NaN) - 0.5) > 1e-6) {
      return `self-test computed [${Array.from(data).join(", ")}], expected [32, 0.5]`;
    }
    return undefined;
  } catch (error) {
    return `self-test threw: ${errorMessage(error)}`;
  }
}

async function tryBackend(
  name: TfBackendName,
  load: (() => Promise<void>) | undefined,
): Promise<string | undefined> {
  if (load !== undefined) {
    try {
      await load();
    } catch (error) {
      return `could not load: ${errorMessage(error)}`;
    }
  }
  // Typed as always present, but returns null for a name nobody registered.
  const factory: unknown = tf.findBackendFactory(name);
  if (factory === null) return `loaded, but registered no "${name}" backend`;
  let initialised: boolean;
  try {
    initialised = await tf.setBackend(name);
    await tf.ready();
  } catch (error) {
    return `failed to initialise: ${errorMessage(error)}`;
  }
  if (!initialised) return "failed to initialise (see the tfjs warning above)";
  return checkBackendComputes();
}

/**
 * Selects the fastest backend that loads, initialises and computes correctly, activates it,
 * and logs the choice. Prefer getTfBackend(), which does this once per process.
 */
export async function selectTfBackend(
  loaders: TfBackendLoaders = defaultTfBackendLoaders,
  logger: TfBackendLogger = defaultLogger(),
): Promise<TfBackend> {
  const skipped: SkippedBackend[] = [];
  const candidates: readonly [TfBackendName, (() => Promise<void>) | undefined][] = [
    ["tensorflow", loaders.tensorflow],
    ["wasm", loaders.wasm],
    ["cpu", undefined],
  ];
  for (const [name, load] of candidates) {
    const problem = await tryBackend(name, load);
    if (problem === undefined) {
      const backend: TfBackend = { name, tf, skipped };
      logger.info({ backend: name, skipped }, `TensorFlow.js backend: ${name}`);
      return backend;
    }
    skipped.push({ name, reason: problem });
  }
  throw new Error(
    `no TensorFlow.js backend works: ${skipped.map((s) => `${s.name}: ${s.reason}`).join("; ")}`,
  );
}

function defaultLogger(): TfBackendLogger {
  return pino({ name: "tf-backend", level: process.env["LOG_LEVEL"] ?? "info" });
}

let selected: Promise<TfBackend> | undefined;

/**
 * The process-wide backend, selected on first call and memoised: switching backends under
 * live tensors would invalidate them.
 */
export function getTfBackend(logger?: TfBackendLogger): Promise<TfBackend> {
  selected ??= selectTfBackend(defaultTfBackendLoaders, logger ?? defaultLogger());
  return selected;
}
