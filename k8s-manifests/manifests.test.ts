import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  allContainers,
  selectorMatches,
  type Container,
  type HorizontalPodAutoscalerSpec,
  type K8sObject,
  type NetworkPolicyPeer,
  type NetworkPolicySpec,
  type PodDisruptionBudgetSpec,
  type PodSpec,
  type Probe,
  type ServiceSpec,
  type StringMap,
  type WorkloadSpec,
} from "./k8s-objects.js";
import { loadKustomizeBundle, parseEnvFileKeys, resolveInsideRoot } from "./kustomize-bundle.js";
import { parseDockerfile, stageChain } from "./dockerfile-stages.js";

// No kubectl, no cluster, no Envoy here: the manifests are checked statically, as
// `kubectl apply -k k8s-manifests` would assemble them.

const root = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.dirname(root);
const bundle = loadKustomizeBundle(root);
const NAMESPACE = "liver";

/** The binding names (README.md, Configuration), plus the documented additional settings of both services. */
const ENV_NAMES: ReadonlySet<string> = new Set([
  "PREDICT_PORT",
  "RETRAIN_PORT",
  "GATEWAY_PORT",
  "DATA_PATH",
  "MODEL_PATH",
  "RETRAIN_ADDR",
  "ADMIN_TOKEN",
  "FEEDBACK_SIGNING_KEY",
  "PREDICT_METRICS_PORT",
  "RETRAIN_METRICS_PORT",
  "LOG_LEVEL",
  "HEARTBEAT_INTERVAL_MS",
  "MODEL_CACHE_PATH",
  // Both services read it; the termination grace period is budgeted against it.
  "SHUTDOWN_GRACE_MS",
  // RetrainService: which peers' x-forwarded-for names a feedback's client (the gateway's).
  "TRUSTED_GATEWAY_ADDRESSES",
  // Sign-in (issue 10), from the ConfigMap liver-auth.
  "AUTH_ISSUER",
  "AUTH_AUDIENCE",
  "AUTH_JWKS_URL",
  // TLS on every hop (binding names), and the plaintext health-only port for the kubelet.
  "TLS_CERT_FILE",
  "TLS_KEY_FILE",
  "TLS_CLIENT_CA_FILE",
  "TLS_CA_FILE",
  "HEALTH_PORT",
]);
/** Settings that must only ever come from the Secret. */
const SECRET_ENV: ReadonlySet<string> = new Set(["ADMIN_TOKEN", "FEEDBACK_SIGNING_KEY"]);
/** Keys of the Secret that Envoy reads as files (its oauth2 filter's client secret and HMAC key). */
const SECRET_FILES: ReadonlySet<string> = new Set(["OAUTH2_CLIENT_SECRET", "OAUTH2_HMAC_SECRET"]);

const PREDICT = { name: "liver-predict", grpcService: "liver.v1.PredictService", port: 8000 } as const;
const RETRAIN = { name: "liver-retrain", grpcService: "liver.v1.RetrainService", port: 8080 } as const;
const GATEWAY = { name: "liver-gateway", port: 5000 } as const;

// ---- views of the bundle -------------------------------------------------------------

interface Found<T> {
  readonly object: K8sObject;
  readonly name: string;
  readonly spec: T;
  readonly where: string;
}

function ofKind<T>(kind: string): Found<T>[] {
  return bundle.documents
    .filter((d) => d.object.kind === kind)
    .map((d) => ({
      object: d.object,
      name: d.object.metadata?.name ?? "",
      spec: (d.object.spec ?? {}) as T,
      where: `${d.file}#${d.index} ${kind}/${d.object.metadata?.name ?? "?"}`,
    }));
}

function one<T>(kind: string, name: string): Found<T> {
  const found = ofKind<T>(kind).filter((o) => o.name === name);
  expect(found, `exactly one ${kind} named ${name}`).toHaveLength(1);
  return found[0] as Found<T>;
}

interface Workload {
  readonly kind: string;
  readonly name: string;
  readonly spec: WorkloadSpec;
  readonly pod: PodSpec;
  readonly labels: StringMap;
  readonly annotations: StringMap;
  readonly where: string;
}

const workloads: readonly Workload[] = ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"].flatMap(
  (kind) =>
    ofKind<WorkloadSpec>(kind).map((w) => ({
      kind,
      name: w.name,
      spec: w.spec,
      pod: w.spec.template?.spec ?? {},
      labels: w.spec.template?.metadata?.labels ?? {},
      annotations: w.spec.template?.metadata?.annotations ?? {},
      where: w.where,
    })),
);

function workload(name: string): Workload {
  const found = workloads.filter((w) => w.name === name);
  expect(found, `exactly one workload named ${name}`).toHaveLength(1);
  return found[0] as Workload;
}

/** The one container of a service's pod (each pod here runs exactly one). */
function mainContainer(w: Workload): Container {
  const containers = w.pod.containers ?? [];
  expect(containers, `${w.where}: one container`).toHaveLength(1);
  return containers[0] as Container;
}

function containerPort(container: Container, portName: string): number {
  const port = (container.ports ?? []).find((p) => p.name === portName);
  if (port === undefined) throw new Error(`container ${container.name} has no port named ${portName}`);
  return port.containerPort;
}

function envValue(container: Container, name: string): string | undefined {
  return (container.env ?? []).find((e) => e.name === name)?.value;
}

/** Workloads whose pods a Service / PDB / NetworkPolicy selector picks. */
function selectedWorkloads(selector: StringMap | undefined): Workload[] {
  if (selector === undefined || Object.keys(selector).length === 0) return [];
  return workloads.filter((w) => selectorMatches({ matchLabels: selector }, w.labels));
}

function everyWorkload(): Workload[] {
  expect(workloads.length, "the bundle has workloads").toBeGreaterThan(0);
  return [...workloads];
}

/** Every mapping anywhere under `value`, for checks that must hold wherever a field appears. */
function allMappings(value: unknown, out: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (Array.isArray(value)) for (const item of value) allMappings(item, out);
  else if (typeof value === "object" && value !== null) {
    out.push(value as Record<string, unknown>);
    for (const item of Object.values(value)) allMappings(item, out);
  }
  return out;
}

/** Non-test TypeScript files under `dir`. */
function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [full] : [];
  });
}

// ---- the kustomization -----------------------------------------------------------------

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    // A folder with its own kustomization.yaml is applied on its own (monitoring/).
    if (entry.isDirectory())
      return existsSync(path.join(full, "kustomization.yaml")) ? [] : yamlFilesUnder(full);
    return /\.ya?ml$/.test(entry.name) ? [path.relative(root, full).split(path.sep).join("/")] : [];
  });
}

describe("kustomization.yaml", () => {
  it("lists every manifest file of the folder, and every generator input exists", () => {
    const listed = new Set(bundle.kustomization.resources);
    const generatorInputs = new Set([...bundle.configMaps.values()].flatMap((data) => [...data.values()]));
    const unlisted = yamlFilesUnder(root).filter(
      (file) => file !== "kustomization.yaml" && !listed.has(file) && !generatorInputs.has(file),
    );
    expect(unlisted, "YAML files that `kubectl apply -k` would silently skip").toEqual([]);
    expect(listed.size).toBe(bundle.kustomization.resources?.length);
  });

  it("puts everything in the liver namespace", () => {
    expect(bundle.kustomization.namespace).toBe(NAMESPACE);
  });

  it("reads nothing above its own folder (kustomize's load restrictor)", () => {
    expect(() => resolveInsideRoot(root, "../gateway/envoy.yaml")).toThrow(/load restrictor/);
    expect(resolveInsideRoot(root, "auth-config.env")).toBe(path.join(root, "auth-config.env"));
  });

  it("names a tag for each of the project's images, and the workloads use exactly those", () => {
    const images = bundle.kustomization.images ?? [];
    for (const image of images) expect(image.newTag ?? image.digest, image.name).toBeTruthy();
    const ours = new Set(images.map((i) => i.name));
    const used = everyWorkload().flatMap((w) => allContainers(w.pod).map((c) => c.image ?? ""));
    for (const image of used) {
      const [name] = image.split(":");
      if (name !== undefined && ours.has(name)) continue;
      // Third-party images carry an explicit version tag, never latest.
      expect(image, `${image} must be pinned to a version`).toMatch(/^[\w./-]+:v?\d+\.\d+\.\d+$/);
    }
    expect([...ours].sort()).toEqual(["liver-mesh/envoy", "liver-mesh/predict", "liver-mesh/retrain"]);
  });
});

// ---- every object ------------------------------------------------------------------------

describe("every object", () => {
  it("has apiVersion, kind, metadata.name and the liver namespace", () => {
    expect(bundle.documents.length).toBeGreaterThan(10);
    for (const { file, index, object } of bundle.documents) {
      const where = `${file}#${index}`;
      expect(typeof object.apiVersion, `${where} apiVersion`).toBe("string");
      expect(typeof object.kind, `${where} kind`).toBe("string");
      expect(object.metadata?.name, `${where} metadata.name`).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      if (object.kind === "Namespace") expect(object.metadata?.name).toBe(NAMESPACE);
      else expect(object.metadata?.namespace, `${where} metadata.namespace`).toBe(NAMESPACE);
      expect(object.metadata?.labels?.["app.kubernetes.io/part-of"], `${where} part-of label`).toBe("liver");
    }
  });

  it("is unique by kind and name", () => {
    const keys = bundle.documents.map((d) => `${String(d.object.kind)}/${d.object.metadata?.name ?? ""}`);
    expect(keys.filter((key, i) => keys.indexOf(key) !== i)).toEqual([]);
  });

  it("commits no Secret object: secrets come only from the secretGenerator", () => {
    expect(bundle.documents.filter((d) => d.object.kind === "Secret")).toEqual([]);
  });
});

// ---- selectors and ports -------------------------------------------------------------------

describe("selectors and ports", () => {
  it("every workload's selector matches its own pod labels", () => {
    for (const w of everyWorkload()) {
      const selector = w.spec.selector ?? {};
      expect(Object.keys(selector.matchLabels ?? {}).length, `${w.where} selector`).toBeGreaterThan(0);
      expect(selectorMatches(selector, w.labels), `${w.where} selector vs template labels`).toBe(true);
    }
  });

  it("no two workloads' pods are selected by the same selector", () => {
    for (const w of everyWorkload()) {
      expect(selectedWorkloads(w.spec.selector?.matchLabels).map((x) => x.name)).toEqual([w.name]);
    }
  });

  it("every Service selects one workload and each targetPort is a port of its container", () => {
    const services = ofKind<ServiceSpec>("Service");
    expect(services.length).toBeGreaterThanOrEqual(4);
    for (const service of services) {
      const targets = selectedWorkloads(service.spec.selector);
      expect(targets, `${service.where} selects exactly one workload`).toHaveLength(1);
      const ports = allContainers((targets[0] as Workload).pod).flatMap((c) => c.ports ?? []);
      for (const port of service.spec.ports ?? []) {
        const target = port.targetPort ?? port.port;
        const match = ports.find((p) => (typeof target === "number" ? p.containerPort : p.name) === target);
        expect(match, `${service.where} port ${port.port} targetPort ${target}`).toBeDefined();
        // A headless Service publishes pod IPs; clients dial `port` on them directly.
        if (service.spec.clusterIP === "None") expect(match?.containerPort).toBe(port.port);
      }
    }
  });

  it("every PodDisruptionBudget selects one workload", () => {
    for (const pdb of ofKind<PodDisruptionBudgetSpec>("PodDisruptionBudget")) {
      expect(selectedWorkloads(pdb.spec.selector?.matchLabels), pdb.where).toHaveLength(1);
    }
  });
});

// ---- Retrain --------------------------------------------------------------------------------

describe("Retrain", () => {
  const retrain = workload(RETRAIN.name);
  const container = mainContainer(retrain);

  it("is a StatefulSet with exactly one replica", () => {
    expect(retrain.kind).toBe("StatefulSet");
    expect(retrain.spec.replicas).toBe(1);
  });

  it("is governed by a headless Service and reached through the ClusterIP Service liver-retrain:8080", () => {
    const governing = one<ServiceSpec>("Service", retrain.spec.serviceName ?? "(unset serviceName)");
    expect(governing.spec.clusterIP).toBe("None");
    expect(selectedWorkloads(governing.spec.selector).map((w) => w.name)).toEqual([RETRAIN.name]);
    const service = one<ServiceSpec>("Service", RETRAIN.name);
    expect(service.spec.clusterIP).toBeUndefined();
    expect(service.spec.type ?? "ClusterIP").toBe("ClusterIP");
    expect(service.spec.ports).toEqual([
      expect.objectContaining({ port: RETRAIN.port, targetPort: "grpc", appProtocol: "grpc" }),
    ]);
    expect(containerPort(container, "grpc")).toBe(RETRAIN.port);
  });

  it("has one ReadWriteOnce claim, mounted at DATA_PATH and MODEL_PATH through sub-paths", () => {
    const claims = retrain.spec.volumeClaimTemplates ?? [];
    expect(claims).toHaveLength(1);
    const claim = claims[0];
    expect(claim?.spec?.accessModes).toEqual(["ReadWriteOnce"]);
    expect(claim?.spec?.resources?.requests?.storage).toMatch(/^\d+(Mi|Gi)$/);
    const claimName = claim?.metadata?.name;
    const mounts = (container.volumeMounts ?? []).filter((m) => m.name === claimName);
    const byPath = new Map(mounts.map((m) => [m.mountPath, m.subPath]));
    const dataPath = envValue(container, "DATA_PATH") ?? "(unset)";
    const modelPath = envValue(container, "MODEL_PATH") ?? "(unset)";
    expect([...byPath.keys()].sort()).toEqual([dataPath, modelPath].sort());
    expect(byPath.get(dataPath)).toBeTruthy();
    expect(byPath.get(modelPath)).toBeTruthy();
    expect(byPath.get(dataPath)).not.toBe(byPath.get(modelPath));
  });

  it("keeps its volume when the StatefulSet is deleted or scaled", () => {
    const policy = (retrain.spec as { persistentVolumeClaimRetentionPolicy?: StringMap })
      .persistentVolumeClaimRetentionPolicy;
    expect(policy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
  });

  it("gives the first start (import and training) a startup budget of at least ten minutes", () => {
    const probe = container.startupProbe ?? {};
    expect((probe.periodSeconds ?? 10) * (probe.failureThreshold ?? 3)).toBeGreaterThanOrEqual(600);
  });

  it("is waited for by Predict's startup probe as long as its own first start may take", () => {
    const budget = (probe: Probe | undefined): number =>
      (probe?.periodSeconds ?? 10) * (probe?.failureThreshold ?? 3);
    const predictStartup = mainContainer(workload(PREDICT.name)).startupProbe;
    expect(budget(predictStartup)).toBeGreaterThanOrEqual(budget(container.startupProbe));
  });

  it("has a memory request that covers the 300 MiB RSS target and a higher limit", () => {
    const mebibytes = (quantity: string | undefined): number => {
      const match = /^(\d+)(Mi|Gi)$/.exec(quantity ?? "");
      if (match === null) throw new Error(`memory quantity "${String(quantity)}" is not like 320Mi or 1Gi`);
      return Number(match[1]) * (match[2] === "Gi" ? 1024 : 1);
    };
    const request = mebibytes(container.resources?.requests?.memory);
    const limit = mebibytes(container.resources?.limits?.memory);
    expect(request).toBeGreaterThanOrEqual(300);
    expect(limit).toBeGreaterThan(request);
  });
});

describe("volumes", () => {
  it("no access mode anywhere is ReadWriteMany or ReadOnlyMany", () => {
    const modes = bundle.documents.flatMap((d) =>
      allMappings(d.object).flatMap((m) =>
        Array.isArray(m.accessModes) ? (m.accessModes as unknown[]) : [],
      ),
    );
    expect(modes.length).toBeGreaterThan(0);
    expect(modes.filter((mode) => mode !== "ReadWriteOnce" && mode !== "ReadWriteOncePod")).toEqual([]);
  });

  it("every path setting points at a mounted volume (the root filesystem is read-only)", () => {
    for (const w of everyWorkload()) {
      for (const c of allContainers(w.pod)) {
        const mountPaths = new Set((c.volumeMounts ?? []).map((m) => m.mountPath));
        for (const name of ["DATA_PATH", "MODEL_PATH", "MODEL_CACHE_PATH"]) {
          const value = envValue(c, name);
          if (value !== undefined) expect(mountPaths.has(value), `${w.where} ${name}=${value}`).toBe(true);
        }
      }
    }
  });
});

// ---- Predict ---------------------------------------------------------------------------------

describe("Predict", () => {
  const predict = workload(PREDICT.name);
  const container = mainContainer(predict);

  it("is a Deployment behind the HEADLESS Service liver-predict:8000 (per-request balancing)", () => {
    expect(predict.kind).toBe("Deployment");
    const service = one<ServiceSpec>("Service", PREDICT.name);
    expect(service.spec.clusterIP).toBe("None");
    expect(service.spec.ports).toEqual([
      expect.objectContaining({ port: PREDICT.port, appProtocol: "grpc" }),
    ]);
    expect(containerPort(container, "grpc")).toBe(PREDICT.port);
  });

  it("is scaled by an autoscaling/v2 CPU HPA from at least two replicas", () => {
    const hpas = ofKind<HorizontalPodAutoscalerSpec>("HorizontalPodAutoscaler").filter(
      (h) => h.spec.scaleTargetRef?.name === PREDICT.name,
    );
    expect(hpas).toHaveLength(1);
    const hpa = hpas[0] as Found<HorizontalPodAutoscalerSpec>;
    expect(hpa.object.apiVersion).toBe("autoscaling/v2");
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: PREDICT.name,
    });
    const min = hpa.spec.minReplicas ?? 1;
    expect(min).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.maxReplicas ?? 0).toBeGreaterThan(min);
    const cpu = (hpa.spec.metrics ?? []).find((m) => m.type === "Resource" && m.resource?.name === "cpu");
    expect(cpu?.resource?.target?.type).toBe("Utilization");
    expect(cpu?.resource?.target?.averageUtilization).toBeGreaterThan(0);
    // Utilization is measured against the request, so there must be one.
    expect(container.resources?.requests?.cpu).toBeTruthy();
    // The HPA owns the count; a fixed one would be re-applied by every `kubectl apply`.
    if (predict.spec.replicas !== undefined) expect(predict.spec.replicas).toBeGreaterThanOrEqual(min);
  });

  it("has a PodDisruptionBudget that keeps at least one replica up", () => {
    const pdbs = ofKind<PodDisruptionBudgetSpec>("PodDisruptionBudget").filter((p) =>
      selectedWorkloads(p.spec.selector?.matchLabels).some((w) => w.name === PREDICT.name),
    );
    expect(pdbs).toHaveLength(1);
    const pdb = (pdbs[0] as Found<PodDisruptionBudgetSpec>).spec;
    const hpa = ofKind<HorizontalPodAutoscalerSpec>("HorizontalPodAutoscaler")[0];
    const minReplicas = hpa?.spec.minReplicas ?? 1;
    if (typeof pdb.maxUnavailable === "number") expect(pdb.maxUnavailable).toBeLessThan(minReplicas);
    else expect(pdb.minAvailable).toBeGreaterThanOrEqual(1);
  });

  it("spreads its replicas across nodes", () => {
    const constraints = predict.pod.topologySpreadConstraints ?? [];
    const byHost = constraints.find((c) => c.topologyKey === "kubernetes.io/hostname");
    expect(byHost).toBeDefined();
    expect(selectorMatches(byHost?.labelSelector ?? { matchLabels: { none: "none" } }, predict.labels)).toBe(
      true,
    );
  });

  it("keeps the model cache (MODEL_CACHE_PATH) in an emptyDir", () => {
    const cachePath = envValue(container, "MODEL_CACHE_PATH");
    const mount = (container.volumeMounts ?? []).find((m) => m.mountPath === cachePath);
    const volume = (predict.pod.volumes ?? []).find((v) => v.name === mount?.name);
    expect(volume?.emptyDir).toBeDefined();
    expect(volume?.emptyDir?.sizeLimit).toBeTruthy();
  });

  it("dials Retrain through a Service that exists, on its gRPC port", () => {
    const address = envValue(container, "RETRAIN_ADDR") ?? "";
    const [host, port] = address.split(":");
    const service = one<ServiceSpec>("Service", (host ?? "").split(".")[0] ?? "");
    expect(service.name).toBe(RETRAIN.name);
    expect(service.spec.ports?.map((p) => p.port)).toContain(Number(port));
  });
});

// ---- probes -------------------------------------------------------------------------------------

describe("probes", () => {
  const services = [
    { ...PREDICT, portEnv: "PREDICT_PORT" },
    { ...RETRAIN, portEnv: "RETRAIN_PORT" },
  ];

  it.each(services)("$name: startup, readiness and liveness are native gRPC health checks", (svc) => {
    const container = mainContainer(workload(svc.name));
    expect(Number(envValue(container, svc.portEnv))).toBe(containerPort(container, "grpc"));
    // The gRPC port is TLS-only and the kubelet's gRPC probes speak plaintext: they use the
    // health-only port the service opens for them (HEALTH_PORT).
    const grpcPort = containerPort(container, "health");
    expect(Number(envValue(container, "HEALTH_PORT"))).toBe(grpcPort);
    const probes: [string, Probe | undefined][] = [
      ["startupProbe", container.startupProbe],
      ["readinessProbe", container.readinessProbe],
      ["livenessProbe", container.livenessProbe],
    ];
    for (const [kind, probe] of probes) {
      expect(probe, `${svc.name} ${kind}`).toBeDefined();
      expect(Object.keys(probe ?? {}).filter((k) => ["httpGet", "exec", "tcpSocket"].includes(k))).toEqual(
        [],
      );
      expect(probe?.grpc?.port, `${svc.name} ${kind} port`).toBe(grpcPort);
      // The services register health for "" (the whole server) and their own full name.
      expect(["", svc.grpcService], `${svc.name} ${kind} service`).toContain(probe?.grpc?.service ?? "");
    }
    // Readiness is about this service answering its RPCs, not just the process being up.
    expect(container.startupProbe?.grpc?.service).toBe(svc.grpcService);
    expect(container.readinessProbe?.grpc?.service).toBe(svc.grpcService);
  });

  it("every container of every pod has a readiness probe", () => {
    for (const w of everyWorkload()) {
      for (const c of w.pod.containers ?? []) expect(c.readinessProbe, `${w.where} ${c.name}`).toBeDefined();
    }
  });
});

// ---- TLS ------------------------------------------------------------------------------------

/** The public CA bundle of the Envoy image: what the identity provider's certificate is checked with. */
const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** Secrets cert-manager writes from the Certificates in certificates.yaml. */
const issuedSecrets = new Set(ofKind<{ secretName: string }>("Certificate").map((c) => c.spec.secretName));

describe("TLS", () => {
  const certificates = ofKind<{ secretName: string; dnsNames?: string[] }>("Certificate");
  const issued = new Set(certificates.map((c) => c.spec.secretName));

  /** The Secret mounted read-only at the folder of `file`, if any. */
  function mountedSecret(w: Workload, container: Container, file: string): string | undefined {
    const mount = (container.volumeMounts ?? []).find((m) => path.posix.dirname(file) === m.mountPath);
    const volume = (w.pod.volumes ?? []).find((v) => v.name === mount?.name);
    return mount?.readOnly === true ? volume?.secret?.secretName : undefined;
  }

  it.each([
    { name: PREDICT.name, env: ["TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CLIENT_CA_FILE", "TLS_CA_FILE"] },
    { name: RETRAIN.name, env: ["TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CLIENT_CA_FILE"] },
  ])("$name serves TLS requiring client certificates, from a cert-manager Secret", ({ name, env }) => {
    const w = workload(name);
    const container = mainContainer(w);
    for (const variable of env) {
      const file = envValue(container, variable);
      expect(file, `${name} ${variable}`).toBeDefined();
      const secret = mountedSecret(w, container, file ?? "");
      expect(secret, `${name} ${variable} is in a mounted Secret`).toBe(`${name}-tls`);
      expect(issued.has(secret ?? ""), `${secret ?? ""} is issued by a Certificate`).toBe(true);
    }
  });

  it("each service's certificate names the host its callers dial", () => {
    const dns = (secret: string): string[] =>
      certificates.find((c) => c.spec.secretName === secret)?.spec.dnsNames ?? [];
    const retrainAddr = envValue(mainContainer(workload(PREDICT.name)), "RETRAIN_ADDR") ?? "";
    expect(dns("liver-retrain-tls")).toContain(retrainAddr.split(":")[0]);
    for (const host of socketAddresses(envoy.static_resources).map((a) => a.address)) {
      if (host.startsWith("liver-")) expect(dns(`${host.split(".")[0] ?? ""}-tls`)).toContain(host);
    }
  });

  it("Envoy reads its certificate, key and CA from the mounted gateway Secret", () => {
    const w = workload(GATEWAY.name);
    const container = mainContainer(w);
    const files = allMappings(envoy)
      .flatMap((m) => (typeof m.filename === "string" ? [m.filename] : []))
      .filter((f) => /\.(crt|key)$/.test(f))
      // The identity provider is outside the mesh: Envoy verifies it with the image's public CAs.
      .filter((f) => f !== SYSTEM_CA_BUNDLE);
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) expect(mountedSecret(w, container, file), file).toBe("liver-gateway-tls");
  });
});

// ---- environment and secrets ------------------------------------------------------------------

describe("environment", () => {
  it("uses only the binding names (README.md, Configuration) and their documented companions", () => {
    for (const w of everyWorkload()) {
      for (const c of allContainers(w.pod)) {
        expect(c.envFrom, `${w.where}: envFrom would inject unreviewed names`).toBeUndefined();
        for (const variable of c.env ?? []) {
          expect(ENV_NAMES.has(variable.name), `${w.where} env ${variable.name}`).toBe(true);
        }
      }
    }
  });

  it("takes the admin token and the signing key from the Secret only, never as a literal", () => {
    let references = 0;
    for (const w of everyWorkload()) {
      for (const c of allContainers(w.pod)) {
        for (const variable of c.env ?? []) {
          if (!SECRET_ENV.has(variable.name)) continue;
          expect(variable.value, `${w.where} ${variable.name} literal value`).toBeUndefined();
          expect(variable.valueFrom?.secretKeyRef?.key).toBe(variable.name);
          references++;
        }
      }
    }
    expect(references).toBeGreaterThanOrEqual(3);
  });

  it("references only Secret keys that the secretGenerator provides, and uses them all", () => {
    const used = new Map<string, Set<string>>();
    for (const w of everyWorkload()) {
      for (const c of allContainers(w.pod)) {
        for (const variable of c.env ?? []) {
          const ref = variable.valueFrom?.secretKeyRef;
          if (ref === undefined) continue;
          const secret = bundle.secrets.get(ref.name);
          expect(secret, `${w.where}: secret ${ref.name} is generated`).toBeDefined();
          expect([...(secret?.keys ?? [])], `${w.where}: key ${ref.key} of ${ref.name}`).toContain(ref.key);
          used.set(ref.name, (used.get(ref.name) ?? new Set()).add(ref.key));
        }
      }
      for (const volume of w.pod.volumes ?? []) {
        const source = volume.secret;
        if (source === undefined) continue;
        // TLS Secrets are written by cert-manager from certificates.yaml (checked under "TLS").
        if (issuedSecrets.has(source.secretName)) continue;
        const secret = bundle.secrets.get(source.secretName);
        expect(secret, `${w.where}: secret ${source.secretName} is generated`).toBeDefined();
        for (const { key } of source.items ?? []) {
          expect([...(secret?.keys ?? [])], `${w.where}: key ${key} of ${source.secretName}`).toContain(key);
          used.set(source.secretName, (used.get(source.secretName) ?? new Set()).add(key));
        }
      }
    }
    for (const [name, secret] of bundle.secrets) {
      expect([...(used.get(name) ?? [])].sort(), `keys of ${name} (${secret.source})`).toEqual(
        [...secret.keys].sort(),
      );
    }
  });

  it("gives Predict the signing key but not the admin token (it has no admin RPCs)", () => {
    const names = (mainContainer(workload(PREDICT.name)).env ?? []).map((e) => e.name);
    expect(names).toContain("FEEDBACK_SIGNING_KEY");
    expect(names).not.toContain("ADMIN_TOKEN");
    const retrainNames = (mainContainer(workload(RETRAIN.name)).env ?? []).map((e) => e.name);
    expect(retrainNames).toEqual(expect.arrayContaining(["FEEDBACK_SIGNING_KEY", "ADMIN_TOKEN"]));
  });

  it("sets ports and the heartbeat to the design's values", () => {
    const predict = mainContainer(workload(PREDICT.name));
    const retrain = mainContainer(workload(RETRAIN.name));
    expect(envValue(predict, "PREDICT_PORT")).toBe("8000");
    expect(envValue(retrain, "RETRAIN_PORT")).toBe("8080");
    expect(envValue(predict, "PREDICT_METRICS_PORT")).toBe(String(containerPort(predict, "metrics")));
    expect(envValue(retrain, "RETRAIN_METRICS_PORT")).toBe(String(containerPort(retrain, "metrics")));
    expect(envValue(predict, "PREDICT_METRICS_PORT")).toBe("9100");
    expect(envValue(retrain, "RETRAIN_METRICS_PORT")).toBe("9101");
    expect(envValue(retrain, "HEARTBEAT_INTERVAL_MS")).toBe("10000");
  });

  // A variable the code never reads is a setting that silently does nothing.
  for (const svc of [PREDICT, RETRAIN]) {
    const folder = path.join(repoRoot, "services", svc.name.replace(/^liver-/, ""));
    it.skipIf(!existsSync(folder))(
      `${svc.name}: every variable the manifest sets is read by the service's code (checked once ${path.relative(repoRoot, folder)}/ exists)`,
      () => {
        const code = [folder, path.join(repoRoot, "services", "shared")]
          .flatMap((dir) => sourceFiles(dir))
          .map((file) => readFileSync(file, "utf8"))
          .join("\n");
        for (const variable of mainContainer(workload(svc.name)).env ?? []) {
          const read = new RegExp(`["'.]${variable.name}\\b`).test(code);
          expect(read, `${variable.name} is set for ${svc.name} but no code of it reads it`).toBe(true);
        }
      },
    );
  }
});

describe("secrets files", () => {
  it("commits only the example, with every value empty", () => {
    const example = readFileSync(path.join(root, "secrets.env.example"), "utf8");
    const keys = parseEnvFileKeys(example, "secrets.env.example");
    expect([...keys].sort()).toEqual([...SECRET_ENV, ...SECRET_FILES].sort());
    const assignments = example.split(/\r?\n/).filter((line) => /^[A-Z_]+=/.test(line.trim()));
    for (const line of assignments) expect(line.trim(), "no real value in the example").toMatch(/^[A-Z_]+=$/);
    expect(example).toContain("openssl rand -hex 32");
  });

  it("keeps secrets.env out of git", () => {
    // --no-index: the answer depends on the ignore rules alone, not on what is tracked.
    const ignored = (file: string): boolean => {
      try {
        execFileSync("git", ["check-ignore", "-q", "--no-index", file], { cwd: repoRoot });
        return true;
      } catch {
        return false;
      }
    };
    expect(ignored("k8s-manifests/secrets.env")).toBe(true);
    expect(ignored("k8s-manifests/secrets.env.example")).toBe(false);
  });
});

// ---- security -------------------------------------------------------------------------------------

describe("security", () => {
  it("every pod and container is non-root, read-only, capability-free and seccomp-confined", () => {
    for (const w of everyWorkload()) {
      const pod = w.pod.securityContext ?? {};
      expect(w.pod.automountServiceAccountToken, `${w.where} service account token`).toBe(false);
      expect(w.pod.hostNetwork ?? false, `${w.where} hostNetwork`).toBe(false);
      expect(w.pod.hostPID ?? false, `${w.where} hostPID`).toBe(false);
      expect(w.pod.hostIPC ?? false, `${w.where} hostIPC`).toBe(false);
      expect(
        (w.pod.volumes ?? []).filter((v) => v.hostPath !== undefined),
        `${w.where} hostPath`,
      ).toEqual([]);
      for (const c of allContainers(w.pod)) {
        const where = `${w.where} container ${c.name}`;
        const own = c.securityContext ?? {};
        expect(own.runAsNonRoot ?? pod.runAsNonRoot, `${where} runAsNonRoot`).toBe(true);
        const uid = own.runAsUser ?? pod.runAsUser;
        expect(uid, `${where} runAsUser`).toBeGreaterThan(0);
        expect(own.readOnlyRootFilesystem, `${where} readOnlyRootFilesystem`).toBe(true);
        expect(own.allowPrivilegeEscalation, `${where} allowPrivilegeEscalation`).toBe(false);
        expect(own.privileged ?? false, `${where} privileged`).toBe(false);
        expect(own.capabilities?.drop, `${where} capabilities.drop`).toEqual(["ALL"]);
        expect(own.capabilities?.add ?? [], `${where} capabilities.add`).toEqual([]);
        expect((own.seccompProfile ?? pod.seccompProfile)?.type, `${where} seccomp`).toBe("RuntimeDefault");
      }
    }
  });

  it("the namespace enforces the restricted Pod Security Standard", () => {
    const namespace = one<unknown>("Namespace", NAMESPACE);
    expect(namespace.object.metadata?.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
  });

  it("every container requests CPU and memory and has a memory limit", () => {
    for (const w of everyWorkload()) {
      for (const c of allContainers(w.pod)) {
        expect(c.resources?.requests?.cpu, `${w.where} ${c.name} cpu request`).toBeTruthy();
        expect(c.resources?.requests?.memory, `${w.where} ${c.name} memory request`).toBeTruthy();
        expect(c.resources?.limits?.memory, `${w.where} ${c.name} memory limit`).toBeTruthy();
      }
    }
  });
});

describe("shutdown", () => {
  /** Seconds a preStop hook spends sleeping (sum of every `sleep N` in it). */
  function preStopSeconds(c: Container): number {
    const hook = c.lifecycle?.preStop;
    if (hook?.sleep !== undefined) return hook.sleep.seconds;
    const script = (hook?.exec?.command ?? []).join(" ");
    return [...script.matchAll(/\bsleep\s+(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  }

  it("every pod has a 30 s grace period and a preStop that leaves time to drain", () => {
    for (const w of everyWorkload()) {
      expect(w.pod.terminationGracePeriodSeconds, w.where).toBe(30);
      for (const c of w.pod.containers ?? []) {
        const seconds = preStopSeconds(c);
        expect(seconds, `${w.where} ${c.name}: preStop waits for endpoint removal`).toBeGreaterThan(0);
        expect(seconds, `${w.where} ${c.name}: preStop leaves at least 10 s to drain`).toBeLessThanOrEqual(
          20,
        );
      }
    }
  });

  it.each([PREDICT.name, RETRAIN.name])(
    "%s: preStop plus SHUTDOWN_GRACE_MS ends 5 s before the kubelet's SIGKILL",
    (name) => {
      const w = workload(name);
      const container = mainContainer(w);
      const drainSeconds = Number(envValue(container, "SHUTDOWN_GRACE_MS")) / 1000;
      expect(drainSeconds).toBeGreaterThan(0);
      expect(preStopSeconds(container) + drainSeconds).toBeLessThanOrEqual(
        (w.pod.terminationGracePeriodSeconds ?? 30) - 5,
      );
    },
  );
});

// ---- metrics --------------------------------------------------------------------------------------

describe("Prometheus scraping", () => {
  it.each([
    [PREDICT.name, "PREDICT_METRICS_PORT"],
    [RETRAIN.name, "RETRAIN_METRICS_PORT"],
  ])("%s is annotated for scraping on its metrics port", (name, portEnv) => {
    const w = workload(name);
    const container = mainContainer(w);
    expect(w.annotations["prometheus.io/scrape"]).toBe("true");
    expect(w.annotations["prometheus.io/path"]).toBe("/metrics");
    expect(w.annotations["prometheus.io/port"]).toBe(String(containerPort(container, "metrics")));
    expect(w.annotations["prometheus.io/port"]).toBe(envValue(container, portEnv));
  });
});

// ---- NetworkPolicy ----------------------------------------------------------------------------------

interface Source {
  readonly what: string;
  readonly namespace: StringMap;
  readonly pod: StringMap;
}

const namespaceLabels = (name: string, extra: StringMap = {}): StringMap => ({
  "kubernetes.io/metadata.name": name,
  ...extra,
});
const liverNamespace = namespaceLabels(
  NAMESPACE,
  one<unknown>("Namespace", NAMESPACE).object.metadata?.labels,
);
const inLiver = (what: string, pod: StringMap): Source => ({ what, namespace: liverNamespace, pod });

const sources = {
  gateway: inLiver("gateway pod", workload(GATEWAY.name).labels),
  predict: inLiver("predict pod", workload(PREDICT.name).labels),
  retrain: inLiver("retrain pod", workload(RETRAIN.name).labels),
  stranger: inLiver("unlabelled pod in liver", { "app.kubernetes.io/name": "debug-shell" }),
  predictClient: inLiver("labelled Predict client", { "liver.io/predict-client": "true" }),
  monitoring: { what: "Prometheus", namespace: namespaceLabels("monitoring"), pod: { app: "prometheus" } },
  otherNamespace: { what: "pod in default", namespace: namespaceLabels("default"), pod: { app: "x" } },
} satisfies Record<string, Source>;

function peerAdmits(peer: NetworkPolicyPeer, source: Source): boolean {
  if (peer.ipBlock !== undefined) return false; // pod traffic is judged by selectors here
  const namespaceOk =
    peer.namespaceSelector === undefined
      ? source.namespace["kubernetes.io/metadata.name"] === NAMESPACE
      : selectorMatches(peer.namespaceSelector, source.namespace);
  const podOk = peer.podSelector === undefined || selectorMatches(peer.podSelector, source.pod);
  return namespaceOk && podOk;
}

/** Whether `source` may open `port` on pods of `target`, under every policy of the bundle. */
function canReach(source: Source, target: Workload, port: number): boolean {
  const policies = ofKind<NetworkPolicySpec>("NetworkPolicy").filter(
    (p) =>
      (p.spec.policyTypes ?? ["Ingress"]).includes("Ingress") &&
      selectorMatches(p.spec.podSelector ?? {}, target.labels),
  );
  if (policies.length === 0) return true; // not isolated
  const named = new Map(
    allContainers(target.pod).flatMap((c) => (c.ports ?? []).map((p) => [p.name, p.containerPort])),
  );
  return policies.some((policy) =>
    (policy.spec.ingress ?? []).some((rule) => {
      const portOk =
        rule.ports === undefined ||
        rule.ports.some(
          (p) => p.port === undefined || (typeof p.port === "number" ? p.port : named.get(p.port)) === port,
        );
      const fromOk = rule.from === undefined || rule.from.some((peer) => peerAdmits(peer, source));
      return portOk && fromOk;
    }),
  );
}

describe("NetworkPolicy", () => {
  it("denies all ingress in the namespace by default", () => {
    const denyAll = ofKind<NetworkPolicySpec>("NetworkPolicy").filter(
      (p) => Object.keys(p.spec.podSelector ?? {}).length === 0,
    );
    expect(denyAll).toHaveLength(1);
    const spec = (denyAll[0] as Found<NetworkPolicySpec>).spec;
    expect(spec.policyTypes).toEqual(["Ingress"]);
    expect(spec.ingress ?? []).toEqual([]);
  });

  it("every allow rule names its ports", () => {
    for (const policy of ofKind<NetworkPolicySpec>("NetworkPolicy")) {
      for (const rule of policy.spec.ingress ?? [])
        expect(rule.ports?.length, policy.where).toBeGreaterThan(0);
    }
  });

  it("lets only the gateway and Predict reach Retrain's gRPC port", () => {
    const retrain = workload(RETRAIN.name);
    const allowed = Object.values(sources)
      .filter((s) => canReach(s, retrain, RETRAIN.port))
      .map((s) => s.what);
    expect(allowed.sort()).toEqual([sources.gateway.what, sources.predict.what].sort());
    // Every rule that opens 8080 names pods of this namespace only (no namespace-wide or IP peers).
    const policies = ofKind<NetworkPolicySpec>("NetworkPolicy").filter(
      (p) => (p.spec.ingress ?? []).length > 0 && selectorMatches(p.spec.podSelector ?? {}, retrain.labels),
    );
    expect(policies.map((p) => p.name)).toEqual(["liver-retrain-ingress"]);
    for (const rule of policies.flatMap((p) => p.spec.ingress ?? [])) {
      if (!(rule.ports ?? []).some((p) => p.port === RETRAIN.port)) continue;
      for (const peer of rule.from ?? []) {
        expect(peer.namespaceSelector).toBeUndefined();
        expect(peer.ipBlock).toBeUndefined();
        const names = selectedWorkloads(peer.podSelector?.matchLabels).map((w) => w.name);
        expect([GATEWAY.name, PREDICT.name]).toEqual(expect.arrayContaining(names));
        expect(names).toHaveLength(1);
      }
    }
  });

  it("lets the gateway and labelled clients reach Predict, nobody else", () => {
    const predict = workload(PREDICT.name);
    const allowed = Object.values(sources)
      .filter((s) => canReach(s, predict, PREDICT.port))
      .map((s) => s.what);
    expect(allowed.sort()).toEqual([sources.gateway.what, sources.predictClient.what].sort());
  });

  it("opens the gateway's grpc-web port to everyone and nothing else on it", () => {
    const gateway = workload(GATEWAY.name);
    for (const source of Object.values(sources)) {
      expect(canReach(source, gateway, GATEWAY.port), source.what).toBe(true);
      expect(canReach(source, gateway, 9901), `${source.what} to Envoy admin`).toBe(false);
    }
  });

  it.each([
    [PREDICT.name, 9100],
    [RETRAIN.name, 9101],
  ])("lets only the monitoring namespace scrape %s on %i", (name, port) => {
    const target = workload(name);
    const allowed = Object.values(sources)
      .filter((s) => canReach(s, target, port))
      .map((s) => s.what);
    expect(allowed).toEqual([sources.monitoring.what]);
  });
});

// ---- the gateway (Envoy) -------------------------------------------------------------------------

type Mapping = Record<string, unknown>;

// The one Envoy config: the Dockerfile's envoy target copies it into the gateway's image.
const envoy = parse(readFileSync(path.join(repoRoot, "gateway", "envoy.yaml"), "utf8")) as Mapping;
const dockerfile = parseDockerfile(readFileSync(path.join(repoRoot, "Dockerfile"), "utf8"));

function socketAddresses(value: unknown): { address: string; port: number }[] {
  return allMappings(value)
    .map((m) => m.socket_address)
    .filter((s): s is Mapping => typeof s === "object" && s !== null)
    .map((s) => ({ address: String(s.address), port: Number(s.port_value) }));
}

describe("gateway (Envoy)", () => {
  const gateway = workload(GATEWAY.name);
  const container = mainContainer(gateway);

  it("runs the liver-mesh/envoy image, built on a version-pinned envoyproxy/envoy", () => {
    expect(container.image?.split(":")[0]).toBe("liver-mesh/envoy");
    expect(stageChain(dockerfile, "envoy").at(-1)?.base).toMatch(/^envoyproxy\/envoy:v\d+\.\d+\.\d+$/);
  });

  it("finds gateway/envoy.yaml at --config-path and the page where its routes read it, in the image", () => {
    const args = container.args ?? [];
    const configPath = args[args.indexOf("--config-path") + 1] ?? args[args.indexOf("-c") + 1];
    const copies = stageChain(dockerfile, "envoy")
      .flatMap((stage) => stage.instructions)
      .filter((i) => i.keyword === "COPY")
      .map((i) => i.args.split(/\s+/));
    expect(copies).toContainEqual(["gateway/envoy.yaml", configPath]);
    // The web stage writes the page under the names the routes read (gateway/envoy-config.test.ts).
    const webBuild = stageChain(dockerfile, "web")
      .flatMap((stage) => stage.instructions)
      .find((i) => i.keyword === "RUN" && i.args.includes("npm run build:web"));
    const envoyDir = /--envoy-dir\s+(\S+)/.exec(webBuild?.args ?? "")?.[1];
    const pageFiles = allMappings(envoy)
      .flatMap((m) => (typeof m.filename === "string" ? [m.filename] : []))
      .filter((f) => /\.(html|js|css)$/.test(f));
    expect(pageFiles.length).toBeGreaterThanOrEqual(3);
    const pageDir = path.posix.dirname(pageFiles[0] ?? "");
    for (const file of pageFiles) expect(path.posix.dirname(file)).toBe(pageDir);
    expect(copies).toContainEqual(["--from=web", envoyDir, pageDir]);
    // Nothing is mounted over the image's config or page.
    for (const mount of container.volumeMounts ?? []) {
      expect([configPath, pageFiles[0]].some((f) => f?.startsWith(`${mount.mountPath}/`))).toBe(false);
    }
  });

  it("listens on GATEWAY_PORT 5000, the port its Service and container expose", () => {
    const listeners = (envoy.static_resources as Mapping).listeners;
    expect(socketAddresses(listeners).map((s) => s.port)).toEqual([GATEWAY.port]);
    expect(containerPort(container, "http")).toBe(GATEWAY.port);
    const service = one<ServiceSpec>("Service", GATEWAY.name);
    expect(service.spec.ports?.map((p) => p.port)).toEqual([GATEWAY.port]);
  });

  it("binds the admin interface to localhost, where the preStop drain reaches it", () => {
    const [admin] = socketAddresses(envoy.admin);
    expect(["127.0.0.1", "::1"]).toContain(admin?.address);
    const preStop = (container.lifecycle?.preStop?.exec?.command ?? []).join(" ");
    expect(preStop).toContain(`/dev/tcp/127.0.0.1/${String(admin?.port)}`);
    expect(preStop).toContain("drain_listeners?graceful");
  });

  it("sends each upstream cluster to a Service of this bundle; headless ones with STRICT_DNS", () => {
    const clusters = ((envoy.static_resources as Mapping).clusters ?? []) as Mapping[];
    expect(clusters.length).toBeGreaterThan(0);
    const reached = new Set<string>();
    // The identity provider (sign-in, JWKS) is outside the cluster, reached over TLS.
    for (const cluster of clusters.filter((c) => c.name !== "liver_idp")) {
      for (const { address, port } of socketAddresses(cluster.load_assignment)) {
        const [serviceName, namespace] = address.split(".");
        if (namespace !== undefined) expect(namespace, address).toBe(NAMESPACE);
        const service = one<ServiceSpec>("Service", serviceName ?? "");
        expect(
          service.spec.ports?.map((p) => p.port),
          address,
        ).toContain(port);
        // LOGICAL_DNS would keep one pod per connection; a headless Service needs every IP.
        if (service.spec.clusterIP === "None") expect(cluster.type, String(cluster.name)).toBe("STRICT_DNS");
        const [target] = selectedWorkloads(service.spec.selector);
        expect(
          target && canReach(sources.gateway, target, port),
          `NetworkPolicy lets Envoy reach ${address}`,
        ).toBe(true);
        reached.add(service.name);
      }
    }
    expect([...reached].sort()).toEqual([PREDICT.name, RETRAIN.name]);
  });
});
