import { beforeAll, describe, expect, it } from "vitest";
import {
  buildLayersModel,
  readModelWeights,
  saveModelFiles,
  toModelArtifacts,
  type ModelFiles,
} from "./logistic-model.js";
import { getTfBackend, type Tf } from "./tf-backend.js";
import type { LogisticWeights } from "./trainer.js";

const WEIGHTS: LogisticWeights = {
  kernel: Float64Array.from([0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9, 0.123456789]),
  bias: -0.25,
};

function editJson(files: ModelFiles, edit: (json: Record<string, unknown>) => void): ModelFiles {
  const json = JSON.parse(new TextDecoder().decode(files.modelJson)) as Record<string, unknown>;
  edit(json);
  return { ...files, modelJson: new TextEncoder().encode(JSON.stringify(json)) };
}

describe("logistic model files", () => {
  let tf: Tf;
  let files: ModelFiles;
  beforeAll(async () => {
    tf = (await getTfBackend({ info: () => undefined })).tf;
    const model = buildLayersModel(tf, WEIGHTS, 1e-4);
    files = await saveModelFiles(tf, model);
    model.dispose();
  });

  it("stores the weights as float32 and reads them back without tfjs", () => {
    const read = readModelWeights(files);
    expect(Array.from(read.kernel)).toEqual(Array.from(WEIGHTS.kernel, Math.fround));
    expect(read.bias).toBe(Math.fround(WEIGHTS.bias));
    expect(files.weightsBin.byteLength).toBe(44);
  });

  it("writes a standard layers model that tf.loadLayersModel loads and that predicts sigmoid(x·k + b)", async () => {
    const json = JSON.parse(new TextDecoder().decode(files.modelJson)) as {
      format: string;
      weightsManifest: { paths: string[] }[];
    };
    expect(json.format).toBe("layers-model");
    expect(json.weightsManifest[0]?.paths).toEqual(["weights.bin"]);
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(toModelArtifacts(files)));
    const x = [1, 2, 0.5, -1, 0, 3, -2, 1, 0.25, 4];
    const output = loaded.predict(tf.tensor2d([x]));
    if (Array.isArray(output)) throw new Error("one output expected");
    const p = (await output.data())[0] ?? Number.NaN;
    let z = Math.fround(WEIGHTS.bias);
    x.forEach((v, i) => (z += v * Math.fround(WEIGHTS.kernel[i] ?? 0)));
    expect(p).toBeCloseTo(1 / (1 + Math.exp(-z)), 6);
    output.dispose();
    loaded.dispose();
  });

  it("loads weights that arrive as a view into a larger buffer (a Node Buffer from gRPC)", async () => {
    const pool = Buffer.alloc(8192, 0x7f);
    files.weightsBin.forEach((byte, i) => (pool[100 + i] = byte));
    const pooled = pool.subarray(100, 100 + files.weightsBin.byteLength);
    const loaded = await tf.loadLayersModel(
      tf.io.fromMemory(toModelArtifacts({ ...files, weightsBin: pooled })),
    );
    const [kernel, bias] = loaded.getWeights().map((tensor) => Array.from(tensor.dataSync()));
    expect(kernel).toEqual(Array.from(WEIGHTS.kernel, Math.fround));
    expect(bias).toEqual([Math.fround(WEIGHTS.bias)]);
    loaded.dispose();
  });

  it("produces byte-identical files for the same weights", async () => {
    const model = buildLayersModel(tf, WEIGHTS, 1e-4);
    const again = await saveModelFiles(tf, model);
    model.dispose();
    expect(again.modelJson).toEqual(files.modelJson);
    expect(again.weightsBin).toEqual(files.weightsBin);
  });

  it("refuses weights files that do not match model.json", () => {
    expect(() => readModelWeights({ ...files, weightsBin: files.weightsBin.slice(0, 40) })).toThrow(
      /weights.bin holds 40 bytes; model.json needs at least 44 \(truncated\?\)/,
    );
    expect(() => readModelWeights({ ...files, weightsBin: new Uint8Array(48) })).toThrow(
      /weights.bin holds 48 bytes; model.json describes 44/,
    );
    const nan = files.weightsBin.slice();
    new DataView(nan.buffer).setFloat32(8, Number.NaN, true);
    expect(() => readModelWeights({ ...files, weightsBin: nan })).toThrow(
      /logistic\/kernel holds a non-finite value/,
    );
  });

  it("refuses a topology the scorer would not reproduce", () => {
    const relu = editJson(files, (json) => {
      const topology = json["modelTopology"] as { config: { layers: { config: { activation: string } }[] } };
      const layer = topology.config.layers[0];
      if (layer) layer.config.activation = "relu";
    });
    expect(() => readModelWeights(relu)).toThrow(/1 unit, sigmoid activation and a bias/);
    const graph = editJson(files, (json) => (json["format"] = "graph-model"));
    expect(() => readModelWeights(graph)).toThrow(/format is graph-model; expected "layers-model"/);
    expect(() => readModelWeights({ ...files, modelJson: new TextEncoder().encode("{") })).toThrow(
      /model.json is not valid JSON/,
    );
  });

  it("refuses a kernel of the wrong width", () => {
    expect(() => buildLayersModel(tf, { kernel: new Float64Array(3), bias: 0 })).toThrow(
      /kernel has 3 weights; the schema has 10 features/,
    );
  });
});
