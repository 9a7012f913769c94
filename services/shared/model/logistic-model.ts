/**
 * The trained weights as a real TensorFlow.js LayersModel (one sigmoid Dense unit) and its
 * standard files, model.json + weights.bin, which tf.loadLayersModel reads. Reading the
 * weights back (readModelWeights) needs no tfjs: the serving scorer is built from the very
 * float32 values tfjs evaluated with.
 */
import type * as tfTypes from "@tensorflow/tfjs";
import { FEATURE_COUNT } from "../features/feature-schema.js";
import type { Tf } from "./tf-backend.js";
import type { LogisticWeights } from "./trainer.js";

/** File names inside an artifact. */
export const MODEL_JSON_FILE = "model.json";
export const WEIGHTS_FILE = "weights.bin";

/** Name of the Dense layer, and so the prefix of its weight names. */
const LAYER_NAME = "logistic";
const KERNEL_NAME = `${LAYER_NAME}/kernel`;
const BIAS_NAME = `${LAYER_NAME}/bias`;

/** The two files of a tfjs layers model, as bytes. */
export interface ModelFiles {
  readonly modelJson: Uint8Array;
  readonly weightsBin: Uint8Array;
}

/**
 * A Sequential model computing sigmoid(x · kernel + bias) on standardized inputs, with the
 * given weights. Zero initializers keep model.json identical across runs; the L1 penalty is
 * recorded as the kernel regularizer so the file says what was trained.
 */
export function buildLayersModel(tf: Tf, weights: LogisticWeights, l1 = 0): tfTypes.Sequential {
  if (weights.kernel.length !== FEATURE_COUNT) {
    throw new Error(`kernel has ${weights.kernel.length} weights; the schema has ${FEATURE_COUNT} features`);
  }
  const model = tf.sequential({
    name: "liver_logistic_regression",
    layers: [
      tf.layers.dense({
        name: LAYER_NAME,
        units: 1,
        activation: "sigmoid",
        inputShape: [FEATURE_COUNT],
        kernelInitializer: "zeros",
        biasInitializer: "zeros",
        kernelRegularizer: tf.regularizers.l1({ l1 }),
      }),
    ],
  });
  tf.tidy(() => {
    model.setWeights([
      tf.tensor2d(Float32Array.from(weights.kernel), [FEATURE_COUNT, 1]),
      tf.tensor1d(Float32Array.of(weights.bias)),
    ]);
  });
  return model;
}

function weightBytes(data: tfTypes.io.WeightData | undefined): Uint8Array {
  if (data === undefined) throw new Error("tfjs saved no weight data");
  const buffers = Array.isArray(data) ? data : [data];
  const total = buffers.reduce((sum, b) => sum + b.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const buffer of buffers) {
    out.set(new Uint8Array(buffer), at);
    at += buffer.byteLength;
  }
  return out;
}

/** Saves the model through tf.io.withSaveHandler into the files tfjs's own loaders read. */
export async function saveModelFiles(tf: Tf, model: tfTypes.LayersModel): Promise<ModelFiles> {
  let files: ModelFiles | undefined;
  await model.save(
    tf.io.withSaveHandler((artifacts) => {
      const weightsBin = weightBytes(artifacts.weightData);
      const json: tfTypes.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format ?? "layers-model",
        generatedBy: artifacts.generatedBy ?? "TensorFlow.js",
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
      };
      files = { modelJson: new TextEncoder().encode(JSON.stringify(json)), weightsBin };
      return Promise.resolve({
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: "JSON",
          weightDataBytes: weightsBin.byteLength,
        },
      });
    }),
  );
  if (files === undefined) throw new Error("tfjs did not call the save handler");
  return files;
}

function fail(message: string): never {
  throw new Error(`${MODEL_JSON_FILE}: ${message}`);
}

function parseModelJson(bytes: Uint8Array): tfTypes.io.ModelJSON {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw new Error(`${MODEL_JSON_FILE} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof json !== "object" || json === null) fail("expected a JSON object");
  const model = json as Partial<tfTypes.io.ModelJSON>;
  if (model.format !== "layers-model") fail(`format is ${String(model.format)}; expected "layers-model"`);
  if (!Array.isArray(model.weightsManifest)) fail("weightsManifest is missing");
  if (typeof model.modelTopology !== "object") fail("modelTopology is missing");
  return model as tfTypes.io.ModelJSON;
}

interface DenseConfig {
  units?: unknown;
  activation?: unknown;
  use_bias?: unknown;
  batch_input_shape?: unknown;
}

/** The topology must be exactly one sigmoid Dense unit on FEATURE_COUNT inputs: what the scorer computes. */
function checkTopology(topology: object): void {
  const config = (topology as { config?: { layers?: unknown } }).config;
  const layers = config?.layers;
  if (!Array.isArray(layers) || layers.length !== 1) fail("expected a Sequential model with one layer");
  const layer = layers[0] as { class_name?: unknown; config?: DenseConfig };
  const dense = layer.config;
  if (layer.class_name !== "Dense" || dense === undefined) fail("the layer must be Dense");
  if (dense.units !== 1 || dense.activation !== "sigmoid" || dense.use_bias !== true) {
    fail("the Dense layer must have 1 unit, sigmoid activation and a bias");
  }
  const shape = dense.batch_input_shape;
  if (!Array.isArray(shape) || shape[1] !== FEATURE_COUNT) {
    fail(`the model must take ${FEATURE_COUNT} inputs; batch_input_shape is ${JSON.stringify(shape)}`);
  }
}

/**
 * The logistic weights stored in model.json + weights.bin, checked against the topology
 * and the schema's feature count, decoded without tfjs (little-endian float32, as tfjs
 * writes them).
 */
export function readModelWeights(files: ModelFiles): LogisticWeights {
  const model = parseModelJson(files.modelJson);
  checkTopology(model.modelTopology);
  const groups = model.weightsManifest;
  if (groups.length !== 1 || groups[0]?.paths.length !== 1 || groups[0].paths[0] !== WEIGHTS_FILE) {
    fail(`weightsManifest must name exactly one file, ${WEIGHTS_FILE}`);
  }
  const view = new DataView(
    files.weightsBin.buffer,
    files.weightsBin.byteOffset,
    files.weightsBin.byteLength,
  );
  let offset = 0;
  let kernel: Float64Array | undefined;
  let bias: number | undefined;
  for (const spec of groups[0].weights) {
    if (spec.dtype !== "float32" || spec.quantization !== undefined) {
      fail(
        `weight ${spec.name} is ${spec.dtype}${spec.quantization ? " (quantized)" : ""}; expected float32`,
      );
    }
    const count = spec.shape.reduce((a, b) => a * b, 1);
    if (offset + count * 4 > files.weightsBin.byteLength) {
      throw new Error(
        `${WEIGHTS_FILE} holds ${files.weightsBin.byteLength} bytes; ${MODEL_JSON_FILE} needs ` +
          `at least ${offset + count * 4} (truncated?)`,
      );
    }
    const values = new Float64Array(count);
    for (let i = 0; i < count; i++) values[i] = view.getFloat32(offset + i * 4, true);
    offset += count * 4;
    if (values.some((v) => !Number.isFinite(v))) fail(`weight ${spec.name} holds a non-finite value`);
    if (spec.name === KERNEL_NAME && spec.shape.join() === `${FEATURE_COUNT},1`) kernel = values;
    else if (spec.name === BIAS_NAME && spec.shape.join() === "1") bias = values[0];
    else fail(`unexpected weight ${spec.name} with shape [${spec.shape.join(", ")}]`);
  }
  if (offset !== files.weightsBin.byteLength) {
    throw new Error(
      `${WEIGHTS_FILE} holds ${files.weightsBin.byteLength} bytes; ${MODEL_JSON_FILE} describes ${offset}`,
    );
  }
  if (kernel === undefined || bias === undefined)
    fail(`weights ${KERNEL_NAME} and ${BIAS_NAME} are both required`);
  return { kernel, bias };
}

/** The files as tfjs ModelArtifacts, for tf.loadLayersModel(tf.io.fromMemory(...)). */
export function toModelArtifacts(files: ModelFiles): tfTypes.io.ModelArtifacts {
  const model = parseModelJson(files.modelJson);
  // A copy that owns its whole ArrayBuffer: a Node Buffer's .slice() is a view into a shared
  // pool, and tfjs reads the ArrayBuffer from byte 0.
  const weights = new Uint8Array(files.weightsBin).buffer;
  return {
    modelTopology: model.modelTopology,
    format: model.format,
    generatedBy: model.generatedBy,
    convertedBy: model.convertedBy ?? null,
    weightSpecs: model.weightsManifest.flatMap((group) => group.weights),
    weightData: weights,
  };
}
