import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse, parseAllDocuments } from "yaml";
import type { K8sObject } from "./k8s-objects.js";

/**
 * Reads a kustomization the way `kubectl apply -k` does for the features this folder uses
 * (resources, namespace, images, configMapGenerator files and envs, secretGenerator envs), including
 * kustomize's load restrictor, so the manifests can be checked with no kubectl or cluster.
 */

/** One generator entry (configMapGenerator / secretGenerator). */
export interface GeneratorSpec {
  readonly name: string;
  readonly type?: string;
  readonly files?: readonly string[];
  readonly envs?: readonly string[];
  readonly literals?: readonly string[];
}

/** The fields of kustomization.yaml that this folder uses. */
export interface Kustomization {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly namespace?: string;
  readonly resources?: readonly string[];
  readonly images?: readonly {
    readonly name: string;
    readonly newName?: string;
    readonly newTag?: string;
    readonly digest?: string;
  }[];
  readonly configMapGenerator?: readonly GeneratorSpec[];
  readonly secretGenerator?: readonly GeneratorSpec[];
}

/** One YAML document of a resource file. */
export interface ManifestDocument {
  /** Path relative to the kustomization root, e.g. "predict-service.yaml". */
  readonly file: string;
  /** Position of the document in its file, from 0. */
  readonly index: number;
  readonly object: K8sObject;
}

/** A generated Secret: its keys, and the env file they were read from. */
export interface GeneratedSecret {
  readonly keys: ReadonlySet<string>;
  readonly source: string;
}

export interface KustomizeBundle {
  readonly root: string;
  readonly kustomization: Kustomization;
  readonly documents: readonly ManifestDocument[];
  /** Generated ConfigMaps: name to (data key to file path relative to root). */
  readonly configMaps: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Generated ConfigMaps' values from `envs` files: name to (data key to value). */
  readonly configMapValues: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Generated Secrets by name. */
  readonly secrets: ReadonlyMap<string, GeneratedSecret>;
}

/** Resolves `relative` under `root`, refusing what kustomize's load restrictor refuses. */
export function resolveInsideRoot(root: string, relative: string): string {
  const resolved = path.resolve(root, relative);
  const fromRoot = path.relative(root, resolved);
  if (fromRoot === "" || fromRoot.startsWith("..") || path.isAbsolute(fromRoot)) {
    throw new Error(
      `"${relative}" is outside the kustomization root ${root}: kustomize's load restrictor refuses it`,
    );
  }
  return resolved;
}

/** Parses every document of a YAML stream; a syntax error names the file and line. */
export function parseYamlDocuments(text: string, file: string): unknown[] {
  return parseAllDocuments(text).map((document, index) => {
    const [error] = document.errors;
    if (error !== undefined) {
      throw new Error(`${file}: document ${index}: ${error.message}`);
    }
    return document.toJS() as unknown;
  });
}

/**
 * The keys of a kustomize env file: `KEY=value` lines, `#` comments and blank lines
 * skipped, a bare `KEY` (value taken from kustomize's own environment) counted too.
 */
export function parseEnvFileKeys(text: string, file: string): Set<string> {
  const keys = new Set<string>();
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) return;
    const key = line.split("=", 1)[0] ?? "";
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new Error(`${file}:${index + 1}: "${key}" is not a valid environment variable name`);
    }
    if (keys.has(key)) throw new Error(`${file}:${index + 1}: key ${key} appears twice`);
    keys.add(key);
  });
  return keys;
}

/**
 * The env file of a secretGenerator, or its committed `.example` when the real one is
 * (rightly) absent because it holds secret values and is gitignored.
 */
function readSecretEnvFile(root: string, relative: string): { text: string; source: string } {
  const real = resolveInsideRoot(root, relative);
  const example = `${real}.example`;
  const chosen = existsSync(real) ? real : example;
  if (!existsSync(chosen)) {
    throw new Error(`secretGenerator env file ${relative} is missing, and so is ${relative}.example`);
  }
  return { text: readFileSync(chosen, "utf8"), source: path.relative(root, chosen) };
}

/** The `KEY=value` entries of a kustomize env file (keys checked as parseEnvFileKeys does). */
export function parseEnvFileEntries(text: string, file: string): Map<string, string> {
  parseEnvFileKeys(text, file);
  const entries = new Map<string, string>();
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) continue;
    const at = line.indexOf("=");
    entries.set(at < 0 ? line : line.slice(0, at), at < 0 ? "" : line.slice(at + 1));
  }
  return entries;
}

/** Loads `kustomization.yaml` under `root` with every resource and generator it names. */
export function loadKustomizeBundle(root: string): KustomizeBundle {
  const kustomizationFile = path.join(root, "kustomization.yaml");
  const kustomization = parse(readFileSync(kustomizationFile, "utf8")) as Kustomization;

  const documents: ManifestDocument[] = [];
  for (const resource of kustomization.resources ?? []) {
    const file = resolveInsideRoot(root, resource);
    if (!existsSync(file)) throw new Error(`kustomization.yaml lists ${resource}, which does not exist`);
    parseYamlDocuments(readFileSync(file, "utf8"), resource).forEach((value, index) => {
      if (value === null) return; // an empty document, e.g. after a trailing "---"
      if (typeof value !== "object" || Array.isArray(value)) {
        throw new Error(`${resource}: document ${index} is not a mapping`);
      }
      documents.push({ file: resource, index, object: value });
    });
  }

  const configMaps = new Map<string, Map<string, string>>();
  const configMapValues = new Map<string, Map<string, string>>();
  for (const generator of kustomization.configMapGenerator ?? []) {
    const data = new Map<string, string>();
    const values = new Map<string, string>();
    for (const envFile of generator.envs ?? []) {
      const file = resolveInsideRoot(root, envFile);
      if (!existsSync(file))
        throw new Error(`configMapGenerator ${generator.name}: env file ${envFile} does not exist`);
      for (const [key, value] of parseEnvFileEntries(readFileSync(file, "utf8"), envFile))
        values.set(key, value);
    }
    configMapValues.set(generator.name, values);
    for (const entry of generator.files ?? []) {
      const [key, file] = entry.includes("=") ? entry.split("=", 2) : [path.basename(entry), entry];
      if (key === undefined || file === undefined) throw new Error(`configMapGenerator entry "${entry}"`);
      if (!existsSync(resolveInsideRoot(root, file))) {
        throw new Error(`configMapGenerator ${generator.name}: file ${file} does not exist`);
      }
      data.set(key, file);
    }
    configMaps.set(generator.name, data);
  }

  const secrets = new Map<string, GeneratedSecret>();
  for (const generator of kustomization.secretGenerator ?? []) {
    const keys = new Set<string>();
    const sources: string[] = [];
    for (const envFile of generator.envs ?? []) {
      const { text, source } = readSecretEnvFile(root, envFile);
      for (const key of parseEnvFileKeys(text, source)) keys.add(key);
      sources.push(source);
    }
    for (const literal of generator.literals ?? []) keys.add(literal.split("=", 1)[0] ?? "");
    secrets.set(generator.name, { keys, source: sources.join(", ") });
  }

  return { root, kustomization, documents, configMaps, configMapValues, secrets };
}
