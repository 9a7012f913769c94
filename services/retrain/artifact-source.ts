import path from "node:path";
import type { GetModelArtifactResponse } from "../gen/liver/v1/retrain_service.js";
import { manifestSha256, readArtifactFiles } from "../shared/model/model-artifact.js";
import type { ArtifactSource } from "./retrain-service.js";

/** Options of DiskArtifactSource. */
export interface DiskArtifactSourceOptions {
  readonly modelPath: string;
  /** The manifest sha256 the registry recorded for a version; the folder must still match it. */
  readonly expectedSha256: (modelVersion: string) => string | undefined;
  /** Versions kept in memory (each a few KB); the newest are the ones replicas fetch. */
  readonly cacheSize?: number;
}

/**
 * GetModelArtifact's reader: every file of `MODEL_PATH/<version>`, verified against its
 * manifest and against the sha256 the registry committed, so a replica is never handed a
 * folder that changed on disk. Versions are immutable, so verified answers are cached:
 * a fleet of replicas fetching a new version costs one disk read.
 */
export class DiskArtifactSource implements ArtifactSource {
  private readonly cache = new Map<string, GetModelArtifactResponse>();
  private readonly inflight = new Map<string, Promise<GetModelArtifactResponse>>();
  private readonly cacheSize: number;

  constructor(private readonly options: DiskArtifactSourceOptions) {
    this.cacheSize = options.cacheSize ?? 8;
  }

  read(modelVersion: string): Promise<GetModelArtifactResponse> {
    const cached = this.cache.get(modelVersion);
    if (cached !== undefined) {
      // Refresh its place in the LRU order.
      this.cache.delete(modelVersion);
      this.cache.set(modelVersion, cached);
      return Promise.resolve(cached);
    }
    const running = this.inflight.get(modelVersion);
    if (running !== undefined) return running;
    const loading = this.load(modelVersion).finally(() => this.inflight.delete(modelVersion));
    this.inflight.set(modelVersion, loading);
    return loading;
  }

  private async load(modelVersion: string): Promise<GetModelArtifactResponse> {
    const files = await readArtifactFiles(path.join(this.options.modelPath, modelVersion));
    const sha256 = manifestSha256(files);
    const expected = this.options.expectedSha256(modelVersion);
    if (expected !== undefined && expected !== sha256) {
      throw new Error(
        `manifest.json of ${modelVersion} has sha256 ${sha256} but the registry recorded ${expected}: the folder was changed after it was published`,
      );
    }
    const response: GetModelArtifactResponse = {
      modelVersion,
      sha256,
      files: files.map((file) => ({
        name: file.name,
        content: Buffer.from(file.content.buffer, file.content.byteOffset, file.content.byteLength),
        sha256: file.sha256,
      })),
    };
    this.cache.set(modelVersion, response);
    while (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    return response;
  }
}
