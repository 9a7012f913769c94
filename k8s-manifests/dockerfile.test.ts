import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isExcluded, parseDockerignore } from "./dockerignore-matcher.js";
import {
  effectiveInstruction,
  envAssignments,
  execForm,
  parseDockerfile,
  readInstructions,
  stageChain,
  type DockerStage,
} from "./dockerfile-stages.js";
import type { Container, WorkloadSpec } from "./k8s-objects.js";
import { loadKustomizeBundle } from "./kustomize-bundle.js";
import { PREDICT_NODE_FLAGS } from "../services/predict/predict-node-flags.js";

// No Docker engine here: the Dockerfile and .dockerignore are checked statically, against
// the manifests that run the images.

const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dockerfile = parseDockerfile(readFileSync(path.join(repoRoot, "Dockerfile"), "utf8"));
const ignore = parseDockerignore(readFileSync(path.join(repoRoot, ".dockerignore"), "utf8"));
const bundle = loadKustomizeBundle(path.join(repoRoot, "k8s-manifests"));

/** Image targets and the compiled entry point each runs (`npm run build` = `tsc -p .` into dist/). */
const TARGETS = [
  {
    target: "retrain",
    entry: "dist/services/retrain/main.js",
    source: "services/retrain/main.ts",
    flags: [],
  },
  {
    target: "predict",
    entry: "dist/services/predict/main.js",
    source: "services/predict/main.ts",
    // The same V8 flags as `npm start` and the benches.
    flags: PREDICT_NODE_FLAGS,
  },
] as const;

/** Names the images may set: the design's settings, none of them secret, plus Node's own. */
const IMAGE_ENV = new Set([
  "NODE_ENV",
  "NODE_OPTIONS",
  "PREDICT_PORT",
  "RETRAIN_PORT",
  "PREDICT_METRICS_PORT",
  "RETRAIN_METRICS_PORT",
  "DATA_PATH",
  "MODEL_PATH",
  "MODEL_CACHE_PATH",
  "RETRAIN_ADDR",
  "LOG_LEVEL",
  "HEARTBEAT_INTERVAL_MS",
  "GATEWAY_PORT",
  "GATEWAY_HOST",
  "WEB_ROOT",
]);

/** The container that runs the image built from `target` (images are named liver-mesh/<target>). */
function deployedContainer(target: string): Container {
  const containers = bundle.documents
    .flatMap((d) => (d.object.spec as WorkloadSpec | undefined)?.template?.spec?.containers ?? [])
    .filter((c) => c.image?.split(":")[0] === `liver-mesh/${target}`);
  expect(containers, `one container runs liver-mesh/${target}`).toHaveLength(1);
  return containers[0] as Container;
}

function podRunAsUser(target: string): number | undefined {
  const pod = bundle.documents
    .map((d) => (d.object.spec as WorkloadSpec | undefined)?.template?.spec)
    .find((spec) => spec?.containers?.some((c) => c.image?.startsWith(`liver-mesh/${target}:`)));
  return pod?.securityContext?.runAsUser;
}

/** Where `tsc -p .` (the root tsconfig's rootDir and outDir) puts the JavaScript of `source`. */
function compiledPath(source: string): string {
  const tsconfig = JSON.parse(readFileSync(path.join(repoRoot, "tsconfig.json"), "utf8")) as {
    compilerOptions?: { outDir?: string; rootDir?: string };
    include?: string[];
  };
  const { outDir = ".", rootDir = "." } = tsconfig.compilerOptions ?? {};
  expect(tsconfig.include ?? [], `tsconfig.json compiles ${source}`).toContain(source.split("/")[0]);
  return path.posix.join(outDir, path.posix.relative(rootDir, source)).replace(/\.ts$/, ".js");
}

function allInstructions(chain: readonly DockerStage[]): { keyword: string; args: string; stage: string }[] {
  return [...chain]
    .reverse()
    .flatMap((stage) =>
      stage.instructions.map((i) => ({ keyword: i.keyword, args: i.args, stage: stage.name ?? "?" })),
    );
}

describe("the Dockerfile reader", () => {
  it("joins continuations, drops comments (also inside continuations) and keeps line numbers", () => {
    const instructions = readInstructions(
      [
        "# syntax=docker/dockerfile:1",
        "",
        "run apt-get update \\",
        "  # inside",
        " && echo hi",
        "USER 1000",
      ].join("\n"),
    );
    expect(instructions).toEqual([
      { keyword: "RUN", args: "apt-get update && echo hi", line: 3 },
      { keyword: "USER", args: "1000", line: 6 },
    ]);
  });

  it("substitutes global ARGs in FROM, names stages and follows inheritance", () => {
    const parsed = parseDockerfile(
      'ARG BASE=node:20-slim\nFROM ${BASE} AS one\nUSER 1\nFROM --platform=linux/amd64 one AS Two\nCMD ["x"]\n',
    );
    expect(parsed.stages.map((s) => [s.name, s.base])).toEqual([
      ["one", "node:20-slim"],
      ["two", "one"],
    ]);
    const chain = stageChain(parsed, "two");
    expect(chain.map((s) => s.name)).toEqual(["two", "one"]);
    expect(effectiveInstruction(chain, "USER")?.args).toBe("1");
    expect(() => parseDockerfile("FROM ${MISSING}\n")).toThrow(/ARG MISSING has no default/);
    expect(() => stageChain(parsed, "three")).toThrow(/no stage named "three"/);
  });

  it("reads exec-form arrays and ENV assignments", () => {
    expect(execForm('["node", "main.js"]')).toEqual(["node", "main.js"]);
    expect(execForm("node main.js")).toBeUndefined();
    expect(envAssignments('A=1 B="two words" C=')).toEqual(
      new Map([
        ["A", "1"],
        ["B", "two words"],
        ["C", ""],
      ]),
    );
  });
});

describe("the .dockerignore matcher", () => {
  it("applies the last matching pattern, re-includes with !, and covers folders' contents", () => {
    const patterns = parseDockerignore("*\n!src/\n**/*.test.ts\n!keep.md\n");
    expect(isExcluded(patterns, "README.md")).toBe(true);
    expect(isExcluded(patterns, "keep.md")).toBe(false);
    expect(isExcluded(patterns, "src/a/b.ts")).toBe(false);
    expect(isExcluded(patterns, "src/a/b.test.ts")).toBe(true);
    expect(isExcluded(patterns, "node_modules/x/index.js")).toBe(true);
  });
});

describe("Dockerfile", () => {
  it.each(TARGETS)("has a $target target built on node:20-bookworm-slim", ({ target }) => {
    const chain = stageChain(dockerfile, target);
    expect(chain.at(-1)?.base).toBe("node:20-bookworm-slim");
  });

  it.each(TARGETS)("$target runs as a numeric non-root user, the one its pod declares", ({ target }) => {
    const user = effectiveInstruction(stageChain(dockerfile, target), "USER")?.args ?? "";
    // Numeric, or Kubernetes' runAsNonRoot cannot verify it.
    const match = /^(\d+)(?::(\d+))?$/.exec(user);
    expect(match, `USER "${user}" must be uid[:gid]`).not.toBeNull();
    const uid = Number(match?.[1]);
    expect(uid).toBeGreaterThan(0);
    expect(podRunAsUser(target)).toBe(uid);
  });

  it.each(TARGETS)("$target stops on SIGTERM under tini and runs $entry", ({ target, entry, flags }) => {
    const chain = stageChain(dockerfile, target);
    expect(effectiveInstruction(chain, "STOPSIGNAL")?.args).toBe("SIGTERM");
    expect(execForm(effectiveInstruction(chain, "ENTRYPOINT")?.args ?? "")).toEqual(["/usr/bin/tini", "--"]);
    expect(execForm(effectiveInstruction(chain, "CMD")?.args ?? "")).toEqual(["node", ...flags, entry]);
    const installsTini = allInstructions(chain).some(
      (i) => i.keyword === "RUN" && /apt-get install[^&]*\btini\b/.test(i.args),
    );
    expect(installsTini).toBe(true);
  });

  for (const { target, source } of TARGETS) {
    // The services are written in parallel: until the source exists there is nothing to compile.
    it.skipIf(!existsSync(path.join(repoRoot, source)))(
      `${target}'s CMD runs what tsc makes of ${source} (skipped while ${source} does not exist)`,
      () => {
        const compiled = compiledPath(source);
        const cmd = execForm(effectiveInstruction(stageChain(dockerfile, target), "CMD")?.args ?? "");
        expect(cmd?.at(-1)).toBe(compiled);
      },
    );
  }

  it.each(TARGETS)("$target exposes the ports its manifest uses and sets the same defaults", ({ target }) => {
    const chain = stageChain(dockerfile, target);
    const exposed = allInstructions(chain)
      .filter((i) => i.keyword === "EXPOSE")
      .flatMap((i) => i.args.split(/\s+/).map((p) => Number(p.split("/")[0])));
    const container = deployedContainer(target);
    expect(exposed.sort()).toEqual((container.ports ?? []).map((p) => p.containerPort).sort());
    const env = new Map(
      allInstructions(chain)
        .filter((i) => i.keyword === "ENV")
        .flatMap((i) => [...envAssignments(i.args)]),
    );
    for (const variable of container.env ?? []) {
      const value = env.get(variable.name);
      if (value !== undefined && variable.value !== undefined) {
        expect(value, `ENV ${variable.name} in the image vs the manifest`).toBe(variable.value);
      }
    }
  });

  it("installs from the lockfile with npm ci, builds, then prunes dev dependencies", () => {
    const chain = stageChain(dockerfile, "build");
    const steps = allInstructions(chain);
    const copyLock = steps.findIndex(
      (i) =>
        i.keyword === "COPY" && /\bpackage\.json\b/.test(i.args) && /\bpackage-lock\.json\b/.test(i.args),
    );
    const ci = steps.findIndex((i) => i.keyword === "RUN" && /\bnpm ci\b/.test(i.args));
    const build = steps.findIndex((i) => i.keyword === "RUN" && /\bnpm run build\b/.test(i.args));
    const prune = steps.findIndex((i) => i.keyword === "RUN" && /\bnpm prune --omit=dev\b/.test(i.args));
    expect(copyLock).toBeGreaterThanOrEqual(0);
    expect(ci).toBeGreaterThan(copyLock);
    expect(build).toBeGreaterThan(ci);
    expect(prune).toBeGreaterThanOrEqual(build);
    const everyRun = dockerfile.stages.flatMap((s) => s.instructions).filter((i) => i.keyword === "RUN");
    expect(everyRun.filter((i) => /\bnpm (install|i)\b/.test(i.args)).map((i) => i.line)).toEqual([]);
  });

  it("runtime images take node_modules from the pruned build, never the full install", () => {
    for (const { target } of TARGETS) {
      const copies = allInstructions(stageChain(dockerfile, target)).filter(
        (i) => i.keyword === "COPY" && /\bnode_modules\b/.test(i.args),
      );
      expect(copies.length, target).toBeGreaterThan(0);
      for (const copy of copies) expect(copy.args, target).toMatch(/--from=build\b/);
      // And the runtime chain does not start from the stage that holds the dev install.
      expect(stageChain(dockerfile, target).map((s) => s.name)).not.toContain("deps");
    }
  });

  it("ships the proto contract, which reflection reads at run time", () => {
    for (const { target } of TARGETS) {
      const copies = allInstructions(stageChain(dockerfile, target)).filter((i) => i.keyword === "COPY");
      expect(
        copies.some((i) => /\/app\/proto\b/.test(i.args)),
        target,
      ).toBe(true);
    }
  });

  it("puts no secret in any layer", () => {
    const everything = dockerfile.stages.flatMap((s) => s.instructions);
    for (const instruction of everything.filter((i) => i.keyword === "ENV")) {
      for (const name of envAssignments(instruction.args).keys()) {
        expect(IMAGE_ENV.has(name), `line ${instruction.line}: ENV ${name}`).toBe(true);
      }
    }
    const secretish = /SECRET|TOKEN|PASSWORD|SIGNING|_KEY\b/i;
    for (const instruction of everything.filter((i) => i.keyword === "ARG")) {
      expect(secretish.test(instruction.args), `line ${instruction.line}: ARG ${instruction.args}`).toBe(
        false,
      );
    }
    for (const name of dockerfile.globalArgs.keys()) expect(secretish.test(name), `ARG ${name}`).toBe(false);
    for (const instruction of everything.filter((i) => i.keyword === "COPY" || i.keyword === "ADD")) {
      expect(instruction.args, `line ${instruction.line}`).not.toMatch(/secrets\.env|\.env\b|\.key\b/);
    }
  });
});

describe("Dockerfile gateway target (local bridge + web UI)", () => {
  const chain = stageChain(dockerfile, "gateway");
  const env = new Map(
    allInstructions(chain)
      .filter((i) => i.keyword === "ENV")
      .flatMap((i) => [...envAssignments(i.args)]),
  );

  it("runs the compiled bridge as the same non-root user, under tini, stopping on SIGTERM", () => {
    expect(chain.at(-1)?.base).toBe("node:20-bookworm-slim");
    expect(execForm(effectiveInstruction(chain, "CMD")?.args ?? "")).toEqual([
      "node",
      "dist/gateway/bridge/main.js",
    ]);
    expect(effectiveInstruction(chain, "USER")?.args).toBe(
      effectiveInstruction(stageChain(dockerfile, "retrain"), "USER")?.args,
    );
    expect(effectiveInstruction(chain, "STOPSIGNAL")?.args).toBe("SIGTERM");
    expect(execForm(effectiveInstruction(chain, "ENTRYPOINT")?.args ?? "")).toEqual(["/usr/bin/tini", "--"]);
  });

  it.skipIf(!existsSync(path.join(repoRoot, "gateway/bridge/main.ts")))(
    "its CMD is what tsc makes of gateway/bridge/main.ts",
    () => {
      const cmd = execForm(effectiveInstruction(chain, "CMD")?.args ?? "");
      expect(cmd?.[1]).toBe(compiledPath("gateway/bridge/main.ts"));
    },
  );

  it("listens on all interfaces at GATEWAY_PORT, the port it exposes", () => {
    expect(env.get("GATEWAY_HOST")).toBe("0.0.0.0");
    const exposed = allInstructions(chain)
      .filter((i) => i.keyword === "EXPOSE")
      .map((i) => i.args);
    expect(exposed).toEqual([env.get("GATEWAY_PORT")]);
  });

  it("serves the UI from where the web stage's bundle is copied, built apart from the service images", () => {
    const copy = allInstructions(chain).find((i) => i.keyword === "COPY" && i.args.includes("--from=web"));
    const destination = copy?.args.split(/\s+/).at(-1) ?? "";
    const workdir = effectiveInstruction(chain, "WORKDIR")?.args ?? "/";
    expect(env.get("WEB_ROOT")).toBe(path.posix.resolve(workdir, destination));
    const webStage = allInstructions(stageChain(dockerfile, "web"));
    expect(webStage.some((i) => i.keyword === "RUN" && /\bnpm run build:web\b/.test(i.args))).toBe(true);
    for (const { target } of TARGETS) {
      expect(
        stageChain(dockerfile, target).map((s) => s.name),
        target,
      ).not.toContain("web");
      const fromWeb = allInstructions(stageChain(dockerfile, target)).filter((i) =>
        i.args.includes("--from=web"),
      );
      expect(fromWeb, target).toEqual([]);
    }
  });
});

describe(".dockerignore", () => {
  it.each([
    "node_modules/@grpc/grpc-js/package.json",
    ".git/HEAD",
    "dist/services/predict/main.js",
    "data/liver.db",
    "data/liver.db-wal",
    "data/raw/Liver Patient Dataset (LPD)_train.csv",
    "data/feedback-signing.key",
    "models/v1/model.json",
    "k8s-manifests/secrets.env",
    ".env",
    "test-artifacts/trace.zip",
    "coverage/index.html",
    "gateway/web/dist/app.js",
    "services/predict/predict-service.test.ts",
  ])("leaves %s out of the build context", (file) => {
    expect(isExcluded(ignore, file)).toBe(true);
  });

  it.each([
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "proto/liver/v1/patient.proto",
    "services/predict/main.ts",
    "services/retrain/main.ts",
    "services/shared/features/feature-schema.ts",
    "gateway/public-methods.ts",
    "scripts/train.ts",
    "gateway/web/index.html",
    "gateway/web/styles.css",
    "gateway/web/build.ts",
    "data/synthetic-params.json",
  ])("keeps the build input %s", (file) => {
    expect(isExcluded(ignore, file)).toBe(false);
  });
});
