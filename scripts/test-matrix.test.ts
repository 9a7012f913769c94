import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { LEFT_OUT_OF_TLS, TLS_ONLY_FILES, TLS_PROJECT_FILES } from "./test-matrix.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** This file names the markers below; it starts nothing. */
const THIS_FILE = "scripts/test-matrix.test.ts";

/** What a test file does when it starts a server or connects a client to one. */
const STARTS_SERVERS = new RegExp(
  [
    // The fixtures and services.
    String.raw`\b(startRetrainServer|startPredictServer|ReplicaFixture|FakeRetrainServer|GrpcServerHost|startRetrainProcess|startPredictProcess|ChildService|GrpcWebBridge|TestGrpcWebBridge|GrpcUpstream|retrainClient|startConstantPredictServer|PredictTestClient|openStalledWatch|launchHeadlessChromium)\b`,
    // The primitives underneath, so a test that starts a server by hand is seen too.
    String.raw`\bbindAsync\b|\bcreate(Secure)?Server\(|\bnew Server\(|\.connect\(|ServiceClient\(|createInsecure\(`,
  ].join("|"),
);

function testFiles(): string[] {
  return ["services", "gateway", "scripts", "k8s-manifests", "data"]
    .flatMap((dir) =>
      readdirSync(path.join(ROOT, dir), { recursive: true, encoding: "utf8" }).map((file) =>
        path.posix.join(dir, file.split(path.sep).join("/")),
      ),
    )
    .filter((file) => file.endsWith(".test.ts") && !file.includes("node_modules/") && file !== THIS_FILE)
    .sort();
}

describe("the test matrix (scripts/test-matrix.ts)", () => {
  it("puts every test file that starts a server in the tls project, or says why not", () => {
    const placed = new Set([...TLS_PROJECT_FILES, ...TLS_ONLY_FILES, ...Object.keys(LEFT_OUT_OF_TLS)]);
    const unplaced = testFiles().filter(
      (file) => STARTS_SERVERS.test(readFileSync(path.join(ROOT, file), "utf8")) && !placed.has(file),
    );
    expect(unplaced, "add these to TLS_PROJECT_FILES, or to LEFT_OUT_OF_TLS with the reason").toEqual([]);
  });

  it("names only files that exist, each in one list", () => {
    const named = [...TLS_PROJECT_FILES, ...TLS_ONLY_FILES, ...Object.keys(LEFT_OUT_OF_TLS)];
    expect(named.filter((file) => !existsSync(path.join(ROOT, file)))).toEqual([]);
    expect(new Set(named).size).toBe(named.length);
  });

  it("sees a server or a client started by hand, not only through the fixtures", () => {
    const started = [
      "const server = https.createServer(options, handler);",
      "server.bindAsync(address, credentials, done);",
      "const server = new Server();",
      "const session = http2.connect(url);",
      "const baseline = await startConstantPredictServer();",
      "const client = new PredictTestClient(address);",
      "browser = await launchHeadlessChromium();",
      "const client = new PredictServiceClient(address, credentials.createInsecure());",
    ];
    expect(started.filter((line) => !STARTS_SERVERS.test(line))).toEqual([]);
    expect(STARTS_SERVERS.test("const rows = parseCsv(text); expect(rows).toHaveLength(3);")).toBe(false);
  });
});
