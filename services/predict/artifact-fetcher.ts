import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import type { GetModelArtifactResponse } from "../gen/liver/v1/retrain_service.js";
import { ModelSource } from "../gen/liver/v1/predict_service.js";
import { ModelLoadError } from "./model-load-error.js";
import type { ModelLoader } from "./model-loader.js";
import type { LoadedArtifact, VersionTarget } from "./model-updater.js";
import type { RetrainConnection } from "./retrain-connection.js";

/** What the fetcher needs. */
export interface ArtifactFetcherDeps {
  readonly connection: RetrainConnection;
  readonly loader: ModelLoader;
  /** Deadline of one GetModelArtifact call. */
  readonly timeoutMs: number;
}

/**
 * Pulls an announced version with GetModelArtifact and hands it to the loader with the
 * sha256 the version event announced, so bytes that differ from what RetrainService
 * promoted (altered in storage or on the way) are refused before anything is parsed.
 */
export class ArtifactFetcher {
  constructor(private readonly deps: ArtifactFetcherDeps) {}

  async fetch(target: VersionTarget): Promise<LoadedArtifact> {
    const response = await this.call(target.version);
    if (response.modelVersion !== target.version) {
      throw new ModelLoadError(
        "verify",
        `GetModelArtifact(${target.version}) returned version ${JSON.stringify(response.modelVersion)}`,
      );
    }
    if (target.sha256 !== "" && response.sha256 !== target.sha256) {
      throw new ModelLoadError(
        "verify",
        `GetModelArtifact(${target.version}) returned manifest sha256 ${response.sha256}; the version event announced ${target.sha256}`,
      );
    }
    const model = await this.deps.loader.load({
      files: response.files,
      expectedSha256: target.sha256 !== "" ? target.sha256 : response.sha256,
      expectedVersion: target.version,
      source: ModelSource.MODEL_SOURCE_RETRAIN_SERVICE,
    });
    return { model, files: response.files };
  }

  private call(version: string): Promise<GetModelArtifactResponse> {
    const deadline = new Date(Date.now() + this.deps.timeoutMs);
    return new Promise((resolve, reject) => {
      this.deps.connection.client.getModelArtifact(
        { modelVersion: version },
        new Metadata(),
        { deadline },
        (error: ServiceError | null, response: GetModelArtifactResponse) => {
          if (error === null) {
            resolve(response);
            return;
          }
          // Every transport or server error may pass: the next heartbeat naming the version retries.
          reject(
            new ModelLoadError(
              "fetch",
              `GetModelArtifact(${version}) failed with ${status[error.code]}: ${error.details}`,
              true,
            ),
          );
        },
      );
    });
  }
}
