import { ModelSource } from "../gen/liver/v1/predict_service.js";
import { readArtifactFiles } from "../shared/model/model-artifact.js";
import type { ModelCache } from "./model-cache.js";
import type { ModelLoader } from "./model-loader.js";
import type { FallbackSource } from "./model-updater.js";

/** The replica's own last good artifact, re-verified against the sha256 it was announced with. */
export function cacheFallback(cache: ModelCache, loader: ModelLoader): FallbackSource {
  return {
    name: `local cache ${cache.dir}`,
    load: async () => {
      const cached = await cache.load();
      if (cached === undefined) return undefined;
      return loader.load({
        files: cached.files,
        expectedSha256: cached.sha256,
        expectedVersion: cached.version,
        source: ModelSource.MODEL_SOURCE_LOCAL_CACHE,
      });
    },
  };
}

/**
 * An artifact folder shipped with the deployment (BUNDLED_MODEL_PATH), e.g. models/v1 from
 * `npm run train`: verified against its own manifest, since no version event announced it.
 */
export function bundledFallback(dir: string, loader: ModelLoader): FallbackSource {
  return {
    name: `bundled artifact ${dir}`,
    load: async () =>
      loader.load({
        files: await readArtifactFiles(dir),
        expectedSha256: undefined,
        expectedVersion: undefined,
        source: ModelSource.MODEL_SOURCE_BUNDLED,
      }),
  };
}
