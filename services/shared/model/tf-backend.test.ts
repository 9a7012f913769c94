import * as tf from "@tensorflow/tfjs";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  defaultTfBackendLoaders,
  getTfBackend,
  selectTfBackend,
  type TfBackendLoaders,
  type TfBackendLogger,
} from "./tf-backend.js";

function collectingLogger(): TfBackendLogger & { messages: string[] } {
  const messages: string[] = [];
  return { messages, info: (_fields, message) => messages.push(message) };
}

const absent = (): Promise<void> => Promise.reject(new Error("Cannot find module '@tensorflow/tfjs-node'"));

describe("selectTfBackend", () => {
  afterEach(() => {
    const registered: unknown = tf.findBackendFactory("tensorflow");
    if (registered !== null) tf.removeBackend("tensorflow");
    for (const kernel of tf.getKernelsForBackend("tensorflow")) {
      tf.unregisterKernel(kernel.kernelName, "tensorflow");
    }
  });

  it("prefers the native backend when tfjs-node loads and registers it", async () => {
    // Stand-in for tfjs-node: registers a working backend under the name tfjs-node uses.
    const loaders: TfBackendLoaders = {
      tensorflow: () => {
        tf.registerBackend("tensorflow", tf.findBackendFactory("cpu"));
        for (const kernel of tf.getKernelsForBackend("cpu")) {
          tf.registerKernel({ ...kernel, backendName: "tensorflow" });
        }
        return Promise.resolve();
      },
      wasm: () => Promise.reject(new Error("wasm must not be tried")),
    };
    const logger = collectingLogger();
    const backend = await selectTfBackend(loaders, logger);
    expect(backend.name).toBe("tensorflow");
    expect(backend.skipped).toEqual([]);
    expect(tf.getBackend()).toBe("tensorflow");
    expect(logger.messages).toEqual(["TensorFlow.js backend: tensorflow"]);
  });

  it("falls back to wasm when tfjs-node is absent, saying why", async () => {
    const backend = await selectTfBackend(
      { tensorflow: absent, wasm: defaultTfBackendLoaders.wasm },
      collectingLogger(),
    );
    expect(backend.name).toBe("wasm");
    expect(tf.getBackend()).toBe("wasm");
    expect(backend.skipped).toHaveLength(1);
    expect(backend.skipped[0]?.name).toBe("tensorflow");
    expect(backend.skipped[0]?.reason).toMatch(/could not load: Cannot find module/);
    expect(tf.tidy(() => tf.add(tf.scalar(2), tf.scalar(3)).dataSync()[0])).toBe(5);
  });

  it("falls back to cpu when neither native nor wasm works", async () => {
    const backend = await selectTfBackend(
      { tensorflow: absent, wasm: () => Promise.reject(new Error("no wasm here")) },
      collectingLogger(),
    );
    expect(backend.name).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
    expect(backend.skipped.map((s) => s.name)).toEqual(["tensorflow", "wasm"]);
    expect(backend.skipped[1]?.reason).toBe("could not load: no wasm here");
  });

  it("skips a backend that registers but fails to initialise", async () => {
    // tfjs reports the failed init with console.warn; keep it out of the test output.
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const backend = await selectTfBackend(
      {
        tensorflow: () => {
          tf.registerBackend("tensorflow", () => {
            throw new Error("libtensorflow.so: cannot open shared object file");
          });
          return Promise.resolve();
        },
        wasm: () => Promise.reject(new Error("no wasm here")),
      },
      collectingLogger(),
    );
    expect(backend.name).toBe("cpu");
    expect(backend.skipped[0]?.reason).toMatch(/failed to initialise/);
    expect(warn).toHaveBeenCalledWith("Initialization of backend tensorflow failed");
    warn.mockRestore();
  });

  it("skips a loader that succeeds without registering anything", async () => {
    const backend = await selectTfBackend(
      { tensorflow: () => Promise.resolve(), wasm: () => Promise.reject(new Error("off")) },
      collectingLogger(),
    );
    expect(backend.skipped[0]?.reason).toBe('loaded, but registered no "tensorflow" backend');
  });
});

describe("getTfBackend", () => {
  it("selects wasm on this machine (tfjs-node is not installed) and memoises the choice", async () => {
    const logger = collectingLogger();
    const first = await getTfBackend(logger);
    const second = await getTfBackend();
    expect(second).toBe(first);
    expect(first.name).toBe("wasm");
    expect(first.skipped.map((s) => s.name)).toEqual(["tensorflow"]);
    expect(logger.messages).toEqual(["TensorFlow.js backend: wasm"]);
    const product = first.tf.tidy(() =>
      first.tf.matMul(first.tf.tensor2d([[1, 2]]), first.tf.tensor2d([[3], [4]])).dataSync(),
    );
    expect(Array.from(product)).toEqual([11]);
  });
});
