import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { parseYamlDocuments, type Kustomization } from "./kustomize-bundle.js";

/** The kubectl binary: KUBECTL when set, else `kubectl` on PATH. */
export const KUBECTL = process.env.KUBECTL ?? "kubectl";

/** True when kubectl (with its built-in kustomize) can be run here. */
export function kubectlAvailable(): boolean {
  const result = spawnSync(KUBECTL, ["version", "--client"], { encoding: "utf8" });
  return result.error === undefined && result.status === 0;
}

/**
 * Every object `kubectl apply -k root` would send, as `kubectl kustomize` renders them (real
 * kustomize: namespace, images, generators with hash suffixes and the references to them).
 * A secretGenerator env file that is absent (secrets.env is gitignored) is taken from its
 * committed `.example`, in a temporary copy of the folder, so this runs on a clean clone.
 */
export function kubectlKustomize(root: string): unknown[] {
  const work = mkdtempSync(path.join(tmpdir(), "liver-kustomize-"));
  try {
    cpSync(root, work, { recursive: true });
    const kustomization = parse(readFileSync(path.join(work, "kustomization.yaml"), "utf8")) as Kustomization;
    for (const generator of kustomization.secretGenerator ?? []) {
      for (const envFile of generator.envs ?? []) {
        const real = path.join(work, envFile);
        if (!existsSync(real)) writeFileSync(real, readFileSync(`${real}.example`));
      }
    }
    const result = spawnSync(KUBECTL, ["kustomize", work], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (result.error !== undefined) throw result.error;
    if (result.status !== 0) throw new Error(`kubectl kustomize ${root} failed: ${result.stderr}`);
    return parseYamlDocuments(result.stdout, "kubectl kustomize output").filter((d) => d !== null);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
