import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { context } from "@opentelemetry/api";
import { ModelVersionStatus } from "../gen/liver/v1/model.js";
import type { ListModelVersionsResponse } from "../gen/liver/v1/retrain_service.js";
import { grpcError, type GrpcStatusError } from "../shared/grpc/grpc-errors.js";
import type { ArtifactFetcher } from "./artifact-fetcher.js";
import type { RetrainConnection } from "./retrain-connection.js";
import type { ServingModel } from "./serving-model.js";
import { RpcFailure } from "../shared/grpc/rpc-failure.js";

/** Older versions kept loaded at once; the least recently used one is dropped beyond it. */
export const DEFAULT_MAX_LOADED_VERSIONS = 4;

/** Why a named version cannot be served now, as the status to answer with. */
export class ModelVersionError extends RpcFailure {
  constructor(status: GrpcStatusError) {
    super(status);
    this.name = "ModelVersionError";
  }
}

/** A version the registry can serve: it passed the gate (serving now or retired). */
export interface ServableVersion {
  readonly version: string;
  readonly sha256: string;
}

/** What the library needs. */
export interface ModelVersionLibraryDeps {
  readonly connection: RetrainConnection;
  /** Fetches with GetModelArtifact and verifies the manifest's sha256 before loading. */
  readonly fetcher: ArtifactFetcher;
  /** Deadline of one ListModelVersions call. */
  readonly timeoutMs: number;
  readonly maxLoaded?: number;
}

/**
 * Versions other than the serving one, for callers that name one (the Open Inference
 * Protocol's model_version). The registry in RetrainService says which versions exist and
 * their sha256; a named version is fetched once, verified against that sha256 and kept
 * loaded in a small LRU, so a client pinned to an older version does not refetch it per call
 * and a stranger naming many versions cannot make this replica hold them all. Rejected
 * candidates are never offered: they failed the quality gate.
 */
export class ModelVersionLibrary {
  private readonly loaded = new Map<string, ServingModel>();
  private readonly loading = new Map<string, Promise<ServingModel>>();

  constructor(private readonly deps: ModelVersionLibraryDeps) {}

  /** A loaded version, or undefined (no network). Marks it recently used. */
  cached(version: string): ServingModel | undefined {
    const model = this.loaded.get(version);
    if (model !== undefined) {
      this.loaded.delete(version);
      this.loaded.set(version, model);
    }
    return model;
  }

  /** The registry's servable versions, newest first. Rejects with UNAVAILABLE when Retrain cannot say. */
  async servable(): Promise<ServableVersion[]> {
    const response = await this.list();
    return response.versions
      .filter(
        (v) =>
          v.status === ModelVersionStatus.MODEL_VERSION_STATUS_SERVING ||
          v.status === ModelVersionStatus.MODEL_VERSION_STATUS_RETIRED,
      )
      .map((v) => ({ version: v.modelVersion, sha256: v.sha256 }));
  }

  /**
   * The named version, loaded and verified; rejects with NOT_FOUND naming the versions that
   * exist when the registry cannot serve it, UNAVAILABLE when it cannot be fetched now.
   */
  async get(version: string, modelName: string): Promise<ServingModel> {
    const hit = this.cached(version);
    if (hit !== undefined) return hit;
    let pending = this.loading.get(version);
    if (pending === undefined) {
      pending = this.load(version, modelName).finally(() => this.loading.delete(version));
      this.loading.set(version, pending);
    }
    return pending;
  }

  private async load(version: string, modelName: string): Promise<ServingModel> {
    // The asking call's trace context, for the fetch after the await: Predict's synchronous
    // context manager does not carry it over (services/shared/ops/synchronous-context-manager.ts).
    const asking = context.active();
    const versions = await this.servable();
    const entry = versions.find((v) => v.version === version);
    if (entry === undefined) throw new ModelVersionError(notFound(modelName, version, versions));
    let model: ServingModel;
    try {
      ({ model } = await context.with(asking, () => this.deps.fetcher.fetch(entry)));
    } catch (error) {
      throw new ModelVersionError(
        grpcError(
          status.UNAVAILABLE,
          `version ${version} of ${modelName} could not be loaded from RetrainService at ${this.deps.connection.address}: ${(error as Error).message}; retry later`,
        ),
      );
    }
    this.loaded.set(version, model);
    const max = this.deps.maxLoaded ?? DEFAULT_MAX_LOADED_VERSIONS;
    for (const oldest of this.loaded.keys()) {
      if (this.loaded.size <= max) break;
      this.loaded.delete(oldest);
    }
    return model;
  }

  private list(): Promise<ListModelVersionsResponse> {
    const deadline = new Date(Date.now() + this.deps.timeoutMs);
    return new Promise((resolve, reject) => {
      this.deps.connection.client.listModelVersions(
        {},
        new Metadata(),
        { deadline },
        (error: ServiceError | null, response: ListModelVersionsResponse) => {
          if (error === null) resolve(response);
          else
            reject(
              new ModelVersionError(
                grpcError(
                  status.UNAVAILABLE,
                  `the model registry (RetrainService at ${this.deps.connection.address}) did not answer: ${status[error.code]} ${error.details}; retry later`,
                ),
              ),
            );
        },
      );
    });
  }
}

/** NOT_FOUND naming the versions that are available. */
export function notFound(
  modelName: string,
  version: string,
  versions: readonly ServableVersion[],
): GrpcStatusError {
  const names = versions.map((v) => v.version);
  return grpcError(
    status.NOT_FOUND,
    `model ${modelName} has no servable version ${JSON.stringify(version.slice(0, 64))}; available versions: ${names.length === 0 ? "none" : names.join(", ")}`,
  );
}
