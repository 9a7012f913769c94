/**
 * Optional warm-up check (VALIDATE_WITH_TFJS): the artifact's own tfjs layers model,
 * evaluated on this process's tfjs backend. Imported only when enabled, because loading
 * TensorFlow.js costs a replica about 90 MiB of RSS and a second of start-up, while the
 * serving scorer never needs it.
 */
import { FEATURE_COUNT } from "../shared/features/feature-schema.js";
import { transformRows } from "../shared/model/feature-pipeline.js";
import { toModelArtifacts } from "../shared/model/logistic-model.js";
import type { LoadedModel } from "../shared/model/model-artifact.js";
import { getTfBackend, type TfBackendLogger } from "../shared/model/tf-backend.js";

/** The tfjs model's probabilities for `probes` and the backend that computed them. */
export interface TfjsEvaluation {
  readonly backend: string;
  readonly probabilities: Float32Array;
}

/** Evaluates the artifact's tfjs model on the probes, through the artifact's pipeline; frees every tensor. */
export async function evaluateWithTfjs(
  loaded: LoadedModel,
  probes: Float64Array,
  logger?: TfBackendLogger,
): Promise<TfjsEvaluation> {
  const backend = await getTfBackend(logger);
  const { tf } = backend;
  const rows = probes.length / FEATURE_COUNT;
  const standardized = new Float32Array(probes.length);
  transformRows(loaded.pipeline, { rows, features: probes }, standardized);
  // Plain copies: files that arrive over gRPC are Node Buffers, often views into a larger
  // pooled ArrayBuffer, and Buffer#slice does not copy, so tfjs would read the whole pool.
  const files = {
    modelJson: Uint8Array.from(loaded.model.modelJson),
    weightsBin: Uint8Array.from(loaded.model.weightsBin),
  };
  const model = await tf.loadLayersModel(tf.io.fromMemory(toModelArtifacts(files)));
  try {
    const output = tf.tidy(() => {
      const prediction = model.predict(tf.tensor2d(standardized, [rows, FEATURE_COUNT]));
      if (Array.isArray(prediction)) throw new Error("the model has several outputs; expected one");
      return prediction;
    });
    const values = (await output.data()) as Float32Array;
    output.dispose();
    return { backend: backend.name, probabilities: values };
  } finally {
    model.dispose();
  }
}
