import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ArtifactFile } from "../gen/liver/v1/retrain_service.js";
import { CACHE_POINTER_FILE, ModelCache } from "./model-cache.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function cacheDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "predict-cache-test-"));
  dirs.push(dir);
  return path.join(dir, "cache");
}

function file(name: string, text: string): ArtifactFile {
  const content = Buffer.from(text);
  return { name, content, sha256: createHash("sha256").update(content).digest("hex") };
}

const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);

describe("ModelCache", () => {
  it("is empty before the first save", async () => {
    expect(await new ModelCache(await cacheDir()).load()).toBeUndefined();
  });

  it("keeps the last saved version only, with its announced sha256", async () => {
    const cache = new ModelCache(await cacheDir());
    await cache.save("v1", SHA_A, [file("manifest.json", "{1}"), file("weights.bin", "w1")]);
    await cache.save("v2", SHA_B, [file("manifest.json", "{2}"), file("weights.bin", "w2")]);
    const loaded = await cache.load();
    expect(loaded?.version).toBe("v2");
    expect(loaded?.sha256).toBe(SHA_B);
    expect(loaded?.files.map((f) => [f.name, f.content.toString()])).toEqual([
      ["manifest.json", "{2}"],
      ["weights.bin", "w2"],
    ]);
    expect(loaded?.files[0]?.sha256).toBe(file("manifest.json", "{2}").sha256);
    expect((await readdir(cache.dir)).sort()).toEqual([CACHE_POINTER_FILE, `v2-${"b".repeat(16)}`]);
  });

  it("saving the same version again is harmless", async () => {
    const cache = new ModelCache(await cacheDir());
    await cache.save("v1", SHA_A, [file("manifest.json", "{1}")]);
    await cache.save("v1", SHA_A, [file("manifest.json", "{1}")]);
    expect((await cache.load())?.version).toBe("v1");
  });

  it("refuses names from the network that could leave the cache folder", async () => {
    const cache = new ModelCache(await cacheDir());
    await expect(cache.save("v1", SHA_A, [file("../escape", "x")])).rejects.toThrow(
      'artifact file name "../escape" is not a plain name',
    );
    await expect(cache.save("../v1", SHA_A, [file("manifest.json", "x")])).rejects.toThrow(
      'artifact version "../v1" is not a plain name',
    );
    await expect(cache.save("v1", "not-a-sha", [file("manifest.json", "x")])).rejects.toThrow(
      'sha256 "not-a-sha" is not 64 hex digits',
    );
  });

  it("says what is wrong with a damaged pointer", async () => {
    const cache = new ModelCache(await cacheDir());
    await cache.save("v1", SHA_A, [file("manifest.json", "{1}")]);
    await writeFile(path.join(cache.dir, CACHE_POINTER_FILE), "{not json");
    await expect(cache.load()).rejects.toThrow(/current\.json is not JSON/);
    await writeFile(path.join(cache.dir, CACHE_POINTER_FILE), JSON.stringify({ version: "v1" }));
    await expect(cache.load()).rejects.toThrow(/current\.json lacks version, sha256 or dir/);
  });
});
