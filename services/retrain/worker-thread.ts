import { Worker, type ResourceLimits } from "node:worker_threads";

/**
 * Starts a worker thread whose entry is a sibling module of this file, given by its base
 * name (e.g. "training-worker-entry"). Compiled, the entry is the .js file. Under tsx or
 * vitest it is the .ts source, and a worker does not inherit the tsx loader (Node 20
 * ignores `--import tsx` in Worker execArgv for the entry), so a tiny bootstrap registers
 * tsx inside the worker first and then imports the entry.
 */
export function startWorkerThread(
  entryBaseName: string,
  workerData: unknown,
  resourceLimits?: ResourceLimits,
): Worker {
  const here = import.meta.url;
  const options = { workerData, ...(resourceLimits === undefined ? {} : { resourceLimits }) };
  if (!here.endsWith(".ts")) return new Worker(new URL(`./${entryBaseName}.js`, here), options);
  const entry = new URL(`./${entryBaseName}.ts`, here).href;
  const tsxApi = import.meta.resolve("tsx/esm/api");
  const bootstrap =
    `import(${JSON.stringify(tsxApi)})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })` +
    `.catch((error) => { setImmediate(() => { throw error; }); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}
