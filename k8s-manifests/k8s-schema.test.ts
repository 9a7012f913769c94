import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { KUBERNETES_SCHEMA_VERSION, validateK8sObject } from "./k8s-schema.js";
import { kubectlAvailable, kubectlKustomize } from "./kubectl-kustomize.js";
import { loadKustomizeBundle, type KustomizeBundle } from "./kustomize-bundle.js";

// Kubernetes' own schema (kubernetes-models, generated from the 1.27 OpenAPI spec) for every
// object `kubectl apply -k k8s-manifests` sends, and kubectl's own kustomize against the
// project's reading of kustomization.yaml (which the other manifest tests use).

const root = path.dirname(fileURLToPath(import.meta.url));
const bundle = loadKustomizeBundle(root);
const hasKubectl = kubectlAvailable();
const rendered = hasKubectl ? kubectlKustomize(root) : undefined;

type Obj = Record<string, unknown>;

function obj(value: unknown): Obj {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error("expected a mapping");
  return value as Obj;
}

function kindName(object: unknown): string {
  const o = obj(object);
  return `${String(o.kind)}/${String(obj(o.metadata).name)}`;
}

/** The objects the project's bundle stands for: its documents plus the generated ones. */
function projectObjects(b: KustomizeBundle): Obj[] {
  const namespace = b.kustomization.namespace;
  const images = new Map((b.kustomization.images ?? []).map((i) => [i.name, i]));
  const objects = b.documents.map((d) => {
    const o = structuredClone(d.object) as unknown as Obj;
    const metadata = obj(o.metadata);
    if (namespace !== undefined && o.kind !== "Namespace") metadata.namespace = namespace;
    const pod = ((o.spec as Obj | undefined)?.template as Obj | undefined)?.spec as Obj | undefined;
    for (const container of (pod?.containers ?? []) as Obj[]) {
      const [imageName = ""] = String(container.image).split(":");
      const rule = images.get(imageName);
      if (rule?.newTag !== undefined) container.image = `${rule.newName ?? imageName}:${rule.newTag}`;
    }
    return o;
  });
  for (const [name, files] of b.configMaps) {
    const entries: [string, string][] = [...files].map(([key, file]) => [
      key,
      readFileSync(path.join(root, file), "utf8"),
    ]);
    entries.push(...(b.configMapValues.get(name) ?? new Map<string, string>()));
    const data = Object.fromEntries(entries);
    objects.push({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace }, data });
  }
  for (const [name, secret] of b.secrets) {
    const data = Object.fromEntries([...secret.keys].map((key) => [key, ""]));
    objects.push({ apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: { name, namespace }, data });
  }
  return objects;
}

/** kubectl's output with the generators' hash suffixes taken off every name and reference. */
function withoutHashSuffixes(objects: readonly unknown[], generated: ReadonlySet<string>): unknown[] {
  const hashed = new Map<string, string>();
  for (const o of objects) {
    const name = String(obj(obj(o).metadata).name);
    const base = name.replace(/-[a-z0-9]{10}$/, "");
    if (base !== name && generated.has(base)) hashed.set(name, base);
  }
  const strip = (value: unknown): unknown => {
    if (typeof value === "string") return hashed.get(value) ?? value;
    if (Array.isArray(value)) return value.map(strip);
    if (typeof value === "object" && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, strip(v)]));
    }
    return value;
  };
  return objects.map(strip);
}

describe(`every object of the bundle against the Kubernetes ${KUBERNETES_SCHEMA_VERSION} API schema`, () => {
  it("the project's bundle has no schema errors", () => {
    expect(projectObjects(bundle).flatMap(validateK8sObject)).toEqual([]);
  });

  it.skipIf(rendered === undefined)(
    "kubectl kustomize's output has no schema errors (skipped: no kubectl)",
    () => {
      expect(rendered?.length).toBeGreaterThan(10);
      expect((rendered ?? []).flatMap(validateK8sObject)).toEqual([]);
    },
  );
});

describe("the README's examples", () => {
  it("every YAML object in k8s-manifests/README.md is valid, and matches certificates.yaml where it shows one", () => {
    const readme = readFileSync(path.join(root, "README.md"), "utf8");
    const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1] ?? "") as unknown);
    expect(blocks.length).toBeGreaterThan(0);
    const ours = new Map(projectObjects(bundle).map((o) => [kindName(o), o]));
    for (const example of blocks) {
      expect(validateK8sObject(example)).toEqual([]);
      const same = ours.get(kindName(example));
      expect(same, `${kindName(example)} is an object of the bundle`).toBeDefined();
      expect(obj(same).spec).toEqual(obj(example).spec);
    }
  });
});

describe("negative controls: one mistake each, reported with its object and path", () => {
  const predict = (): Obj => {
    const found = projectObjects(bundle).find((o) => kindName(o) === "Deployment/liver-predict");
    if (found === undefined) throw new Error("test set-up: no Deployment/liver-predict");
    return found;
  };
  const podSpec = (o: Obj): Obj => obj(obj(obj(o.spec).template).spec);
  const container = (o: Obj): Obj => obj((podSpec(o).containers as unknown[])[0]);
  const issue = (path: string, message: RegExp): unknown => ({
    object: "Deployment/liver-predict",
    path,
    message: expect.stringMatching(message) as string,
  });

  it("a misspelt field, deep in the pod template", () => {
    const o = predict();
    const c = container(o);
    c.imagePulPolicy = c.imagePullPolicy ?? "IfNotPresent";
    delete c.imagePullPolicy;
    expect(validateK8sObject(o)).toEqual([
      issue("/spec/template/spec/containers/0/imagePulPolicy", /unknown field "imagePulPolicy"/),
    ]);
  });

  it("a misspelt field in metadata", () => {
    const o = predict();
    obj(o.metadata).label = { app: "x" };
    expect(validateK8sObject(o)).toEqual([issue("/metadata/label", /unknown field/)]);
  });

  it("a wrong type", () => {
    const o = predict();
    obj(o.spec).revisionHistoryLimit = "ten";
    expect(validateK8sObject(o)).toEqual([issue("/spec/revisionHistoryLimit", /must be integer/)]);
  });

  it("a missing required field", () => {
    const o = predict();
    delete container(o).name;
    expect(validateK8sObject(o)).toEqual([
      issue("/spec/template/spec/containers/0", /required property name/),
    ]);
  });

  it("a value outside an enum", () => {
    const o = predict();
    container(o).imagePullPolicy = "Sometimes";
    expect(validateK8sObject(o)).toEqual([
      issue("/spec/template/spec/containers/0/imagePullPolicy", /allowed values/),
    ]);
  });

  it("a kind that API version does not have", () => {
    const o = predict();
    o.apiVersion = "apps/v1beta9";
    expect(validateK8sObject(o)).toEqual([
      {
        object: "Deployment/liver-predict",
        path: "",
        message: expect.stringMatching(/no kind Deployment in API apps\/v1beta9/) as string,
      },
    ]);
  });
});

describe("the project's reading of kustomization.yaml matches kubectl kustomize", () => {
  it.skipIf(rendered === undefined)(
    "same objects, same content once namespace, images and generator hashes are applied (skipped: no kubectl)",
    () => {
      const generated = new Set([...bundle.configMaps.keys(), ...bundle.secrets.keys()]);
      const theirs = new Map(withoutHashSuffixes(rendered ?? [], generated).map((o) => [kindName(o), o]));
      const ours = new Map(projectObjects(bundle).map((o) => [kindName(o), o]));
      expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
      for (const [key, object] of ours) expect(theirs.get(key), key).toEqual(object);
    },
  );
});
