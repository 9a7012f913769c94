/**
 * The manifests, run here: the Retrain StatefulSet's and the Predict Deployment's containers
 * are started as processes on this machine with their manifest settings (environment, ports,
 * the image's CMD, the mounted TLS Secrets), Retrain once and Predict twice, with the local
 * bridge standing in for Envoy. Health is checked as the kubelet's probes would, then a
 * prediction, a feedback and the switch to the version it trains go through the bridge. What
 * has to differ on one machine is remapped, and only that: each container port to a free port
 * (and the settings that name it), absolute paths under a volume mount to a temp folder, the
 * Service host in RETRAIN_ADDR to localhost, Secret values to fresh ones. A setting or port the
 * code does not understand fails here, not in a cluster.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PredictRequest, PredictResponse } from "../services/gen/liver/v1/predict_service.js";
import { FeedbackVerdict, SubmitFeedbackRequest } from "../services/gen/liver/v1/retrain_service.js";
import { validPatient } from "../services/predict/testing/patients.js";
import { ChildService } from "../services/predict/testing/child-service.js";
import { checkHealth } from "../services/shared/grpc/health-probe.js";
import { createThrowawayCa, type ThrowawayCa } from "../services/shared/tls/throwaway-ca.js";
import { PLAINTEXT } from "../services/shared/tls/tls-settings.js";
import { BridgeTls } from "../gateway/bridge/bridge-tls.js";
import { GrpcWebBridge } from "../gateway/bridge/grpc-web-bridge.js";
import { effectiveInstruction, execForm, parseDockerfile, stageChain } from "./dockerfile-stages.js";
import type { Container, Probe, Volume } from "./k8s-objects.js";
import { loadKustomizeBundle } from "./kustomize-bundle.js";

const root = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.dirname(root);
const bundle = loadKustomizeBundle(root);
const dockerfile = parseDockerfile(readFileSync(path.join(repoRoot, "Dockerfile"), "utf8"));

interface PodSpecLike {
  readonly containers: readonly Container[];
  readonly volumes?: readonly Volume[];
}

function podOf(kind: string, name: string): PodSpecLike {
  const found = bundle.documents.find((d) => d.object.kind === kind && d.object.metadata?.name === name);
  const spec = (found?.object as { spec?: { template?: { spec?: PodSpecLike } } } | undefined)?.spec;
  const pod = spec?.template?.spec;
  if (pod === undefined) throw new Error(`no ${kind}/${name} with a pod template in the bundle`);
  return pod;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}

/** The image's CMD for `target` as this repository's entry and node flags (dist/x.js -> x.ts). */
function entryOf(target: string): { entry: string; nodeFlags: string[] } {
  const cmd = execForm(effectiveInstruction(stageChain(dockerfile, target), "CMD")?.args ?? "") ?? [];
  const script = cmd.at(-1) ?? "";
  expect(cmd[0], `${target} CMD runs node`).toBe("node");
  expect(script, `${target} CMD runs a compiled file`).toMatch(/^dist\/.+\.js$/);
  return { entry: script.replace(/^dist\//, "").replace(/\.js$/, ".ts"), nodeFlags: cmd.slice(1, -1) };
}

/** One replica's process settings, derived from its container as described at the top. */
interface Translated {
  readonly env: Record<string, string>;
  /** Container port -> the local port standing in for it. */
  readonly ports: Map<number, number>;
}

const secrets = {
  FEEDBACK_SIGNING_KEY: randomBytes(32).toString("hex"),
  ADMIN_TOKEN: randomBytes(32).toString("hex"),
};

let work: string;
let ca: ThrowawayCa;
let retrainPort = 0;

async function translate(pod: PodSpecLike, replica: string): Promise<Translated> {
  const container = pod.containers[0];
  if (container === undefined) throw new Error("no container");
  const ports = new Map<number, number>();
  for (const p of container.ports ?? []) ports.set(p.containerPort, await freePort());
  const mountDir = new Map<string, string>();
  for (const mount of container.volumeMounts ?? []) {
    const local = path.join(work, replica, mount.name, mount.subPath ?? "");
    mkdirSync(local, { recursive: true });
    mountDir.set(mount.mountPath, local);
    const volume = (pod.volumes ?? []).find((v) => v.name === mount.name);
    if (volume?.secret !== undefined) {
      // The Secret cert-manager makes (kubernetes.io/tls): tls.crt, tls.key, ca.crt.
      const pair = await ca.issue({
        commonName: volume.secret.secretName,
        dnsNames: ["localhost"],
        ipAddresses: ["127.0.0.1"],
      });
      writeFileSync(path.join(local, "tls.crt"), pair.cert);
      writeFileSync(path.join(local, "tls.key"), pair.key);
      writeFileSync(path.join(local, "ca.crt"), ca.cert);
    }
  }
  const env: Record<string, string> = {};
  const secretValues: Readonly<Record<string, string | undefined>> = secrets;
  for (const variable of container.env ?? []) {
    // AUTH_* point at the hospital's identity provider, which nothing here can reach; the
    // processes run without sign-in, which has its own tests (services/shared/auth, e2e-auth).
    if (variable.valueFrom?.configMapKeyRef?.name === "liver-auth") continue;
    let value = variable.value;
    if (value === undefined) {
      const key = variable.valueFrom?.secretKeyRef?.key ?? "";
      value = secretValues[key];
      expect(value, `${replica} ${variable.name}: from a Secret key this test knows (${key})`).toBeDefined();
    }
    const text = value ?? "";
    if (/_PORT$/.test(variable.name)) {
      const local = ports.get(Number(text));
      expect(local, `${replica} ${variable.name}=${text} is one of the container's ports`).toBeDefined();
      env[variable.name] = String(local);
    } else if (variable.name === "RETRAIN_ADDR") {
      expect(text).toMatch(/^liver-retrain(\.[a-z.]+)?:8080$/);
      env[variable.name] = `localhost:${retrainPort}`;
    } else if (text.startsWith("/")) {
      const mount = [...mountDir.keys()].find((m) => text === m || text.startsWith(`${m}/`)) ?? "";
      expect(mount, `${replica} ${variable.name}=${text} is under a volume mount`).not.toBe("");
      env[variable.name] = path.join(mountDir.get(mount) ?? "", path.relative(mount, text));
    } else {
      env[variable.name] = text;
    }
  }
  return { env, ports };
}

/** Polls a probe as the kubelet would, until it passes (grpc health on its port and service). */
async function probeUntilServing(
  probe: Probe | undefined,
  ports: Map<number, number>,
  what: string,
): Promise<void> {
  const port = ports.get(probe?.grpc?.port ?? -1);
  expect(port, `${what}: the probe's port is a container port`).toBeDefined();
  const deadline = Date.now() + 120_000;
  let last = "";
  while (Date.now() < deadline) {
    last = await checkHealth(`127.0.0.1:${port ?? 0}`, probe?.grpc?.service ?? "", 2_000);
    if (last === "SERVING") return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what} never passed (last answer ${last})`);
}

const children: ChildService[] = [];
let bridge: GrpcWebBridge | undefined;
let bridgeTls: BridgeTls | undefined;
let bridgePort = 0;

function grpcWeb(method: string, message: Uint8Array): Promise<{ status: string; messages: Buffer[] }> {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: bridgePort,
        method: "POST",
        path: method,
        servername: "localhost",
        ca: ca.cert,
        headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          const messages: Buffer[] = [];
          let status = String(res.headers["grpc-status"] ?? "");
          for (let at = 0; at + 5 <= body.length;) {
            const length = body.readUInt32BE(at + 1);
            const frame = body.subarray(at + 5, at + 5 + length);
            if ((body[at] ?? 0) & 0x80)
              status = /grpc-status:\s*(\d+)/.exec(frame.toString("latin1"))?.[1] ?? status;
            else messages.push(frame);
            at += 5 + length;
          }
          resolve({ status, messages });
        });
      },
    );
    req.on("error", reject);
    req.end(Buffer.concat([header, message]));
  });
}

async function predictThroughBridge(): Promise<PredictResponse> {
  const answer = await grpcWeb(
    "/liver.v1.PredictService/Predict",
    PredictRequest.encode({ patient: validPatient() }).finish(),
  );
  expect(answer.status).toBe("0");
  const [message] = answer.messages;
  if (message === undefined) throw new Error("no Predict answer");
  return PredictResponse.decode(message);
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "manifests-run-"));
  ca = await createThrowawayCa("manifests-run CA");
  retrainPort = 0;

  const retrainPod = podOf("StatefulSet", "liver-retrain");
  const retrain = await translate(retrainPod, "retrain-0");
  retrainPort = retrain.ports.get(8080) ?? 0;
  const retrainEntry = entryOf("retrain");
  children.push(
    await ChildService.start({
      entry: retrainEntry.entry,
      nodeFlags: retrainEntry.nodeFlags,
      env: retrain.env,
      readyMessage: "RetrainService listening",
      timeoutMs: 120_000,
    }),
  );
  await probeUntilServing(retrainPod.containers[0]?.startupProbe, retrain.ports, "retrain startupProbe");

  const predictPod = podOf("Deployment", "liver-predict");
  const predictEntry = entryOf("predict");
  const predictPorts: number[] = [];
  for (const replica of ["predict-0", "predict-1"]) {
    const translated = await translate(predictPod, replica);
    children.push(
      await ChildService.start({
        entry: predictEntry.entry,
        nodeFlags: predictEntry.nodeFlags,
        env: translated.env,
        readyMessage: "PredictService listening",
        timeoutMs: 120_000,
      }),
    );
    await probeUntilServing(
      predictPod.containers[0]?.startupProbe,
      translated.ports,
      `${replica} startupProbe`,
    );
    await probeUntilServing(
      predictPod.containers[0]?.readinessProbe,
      translated.ports,
      `${replica} readinessProbe`,
    );
    await probeUntilServing(
      predictPod.containers[0]?.livenessProbe,
      translated.ports,
      `${replica} livenessProbe`,
    );
    predictPorts.push(translated.ports.get(8000) ?? 0);
  }

  // The bridge in Envoy's place, with the gateway's Secret layout: HTTPS, mTLS upstream.
  const gatewayDir = path.join(work, "gateway-tls");
  mkdirSync(gatewayDir, { recursive: true });
  const gatewayPair = await ca.issue({
    commonName: "liver-gateway",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
  });
  writeFileSync(path.join(gatewayDir, "tls.crt"), gatewayPair.cert);
  writeFileSync(path.join(gatewayDir, "tls.key"), gatewayPair.key);
  writeFileSync(path.join(gatewayDir, "ca.crt"), ca.cert);
  const silent = pino({ level: "silent" });
  bridgeTls = new BridgeTls(
    {
      ...PLAINTEXT,
      certFile: path.join(gatewayDir, "tls.crt"),
      keyFile: path.join(gatewayDir, "tls.key"),
      caFile: path.join(gatewayDir, "ca.crt"),
    },
    silent,
  );
  bridge = new GrpcWebBridge({
    predictAddresses: predictPorts.map((p) => `localhost:${p}`),
    retrainAddress: `localhost:${retrainPort}`,
    logger: silent,
    tls: bridgeTls,
  });
  bridgePort = (await bridge.listen(0, "127.0.0.1")).port;
}, 300_000);

afterAll(async () => {
  await bridge?.close();
  bridgeTls?.close();
  for (const child of children.reverse()) await child.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("the manifests' Retrain and two Predict replicas, run here behind the bridge", () => {
  it("predict, give feedback, and every replica switches to the version that feedback trained", async () => {
    const first = await predictThroughBridge();
    expect(first.modelVersion).toBe("v1");
    const ack = await grpcWeb(
      "/liver.v1.RetrainService/SubmitFeedback",
      SubmitFeedbackRequest.encode({
        feedbackToken: first.feedbackToken,
        verdict: FeedbackVerdict.FEEDBACK_VERDICT_WRONG,
      }).finish(),
    );
    expect(ack.status).toBe("0");
    // Round robin over the two replicas: two answers in a row on v2 means both switched.
    const deadline = Date.now() + 120_000;
    let streak = 0;
    while (streak < 4 && Date.now() < deadline) {
      streak = (await predictThroughBridge()).modelVersion === "v2" ? streak + 1 : 0;
    }
    expect(streak, "both replicas answer with v2").toBe(4);
  });
});
