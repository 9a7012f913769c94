import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import {
  FeedbackVerdict,
  ModelVersionEventKind,
  type RetrainServiceClient,
} from "../gen/liver/v1/retrain_service.js";
import type { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import { testTlsEnv } from "../shared/testing/test-tls.js";
import { waitUntil } from "../predict/testing/wait-until.js";
import { STORE_FILE_NAME } from "./retrain-config.js";
import { ModelRegistry } from "./store/model-registry.js";
import { SampleStore } from "./store/sample-store.js";
import { integrityCheck, openSqliteStore } from "./store/sqlite-store.js";
import { expectStatus, retrainClient, unary, watch } from "./testing/retrain-clients.js";
import { prediction, seededRandom, smallDataset, tempDir, testSigner } from "./testing/retrain-fixtures.js";

/** SIGKILLs in this suite; the issue asks for at least 30. */
const KILLS = 30;
/** Concurrent callers per child: enough that group commits hold several feedbacks. */
const CALLERS = 8;
const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

const VERDICTS = [
  FeedbackVerdict.FEEDBACK_VERDICT_CORRECT,
  FeedbackVerdict.FEEDBACK_VERDICT_WRONG,
  FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN,
] as const;

/** A child RetrainService process and the port it announces in its JSON log once listening. */
interface Child {
  readonly process: ChildProcess;
  readonly listening: Promise<number>;
  readonly exited: Promise<void>;
}

/** Starts `tsx services/retrain/main.ts` the way `npm start` does. */
function spawnChild(env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const listening = new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const entry = JSON.parse(line) as { msg?: string; port?: number };
      if (entry.msg?.startsWith("RetrainService listening") === true && typeof entry.port === "number") {
        resolve(entry.port);
      }
    });
    void exited.then(() => reject(new Error(`the child exited before listening: ${stderr}`)));
  });
  listening.catch(() => undefined);
  return { process: child, listening, exited };
}

describe("acknowledged feedback survives SIGKILL", () => {
  let tmp: ReturnType<typeof tempDir>;
  let env: NodeJS.ProcessEnv;
  let signer: FeedbackTokenSigner;
  let storeFile: string;

  beforeAll(() => {
    tmp = tempDir("retrain-kill-");
    const keys = testSigner();
    signer = keys.signer;
    const dataPath = `${tmp.dir}/data`;
    storeFile = `${dataPath}/${STORE_FILE_NAME}`;
    // A store that already has its original data and a serving version, so each start only
    // opens the store and listens (no training: the minimum batch is never reached).
    const db = openSqliteStore(storeFile);
    new SampleStore(db).importDataset(smallDataset(200), "kill-test rows");
    new ModelRegistry(db).add(
      {
        seq: 1,
        modelVersion: "v1",
        metrics: {
          rows: 40,
          positives: 24,
          rocAuc: 0.8,
          accuracy: 0.75,
          logLoss: 0.5,
          brier: 0.18,
          threshold: 0.5,
          confusion: { truePositives: 20, falsePositives: 6, trueNegatives: 10, falseNegatives: 4 },
        },
        originalRows: 160,
        feedbackRows: 0,
        holdoutRows: 40,
        parentVersion: undefined,
        reason: "fixture",
        createdAtMs: Date.now(),
        sha256: "f".repeat(64),
        synthetic: true,
        runId: "fixture",
        holdoutScheme: "lab-profile-v1",
        holdoutFingerprint: "f".repeat(64),
        gateChecks: [],
        calibration: undefined,
      },
      true,
    );
    db.close();
    env = {
      ...process.env,
      // mTLS in the "tls" vitest project (services/shared/testing/test-tls.ts).
      ...testTlsEnv(),
      DATA_PATH: dataPath,
      MODEL_PATH: `${tmp.dir}/models`,
      RETRAIN_HOST: "127.0.0.1",
      RETRAIN_PORT: "0",
      RETRAIN_METRICS_PORT: "0",
      RETRAIN_MIN_BATCH: "1000000000",
      // One sender on 127.0.0.1: the per-source hourly limit would measure itself.
      FEEDBACK_PER_SOURCE_PER_HOUR: "0",
      FEEDBACK_SIGNING_KEY: keys.key.toString("hex"),
      LOG_LEVEL: "info",
    };
  });

  afterAll(() => {
    tmp.remove();
  });

  it(`keeps every acknowledged feedback through ${KILLS} kill -9s at random moments`, async () => {
    const random = seededRandom(20240601);
    /** Every feedback the server acknowledged: prediction id -> its token and verdict. */
    const acknowledged = new Map<string, { token: string; verdict: FeedbackVerdict }>();
    let duplicatesSeen = 0;
    let killedDuringStartup = 0;
    for (let kill = 0; kill < KILLS; kill++) {
      const child = spawnChild(env);
      if (kill % 6 === 5) {
        // Now and then die while starting: opening, migrating, recovering the store.
        await new Promise((resolve) => setTimeout(resolve, random() * 300));
        child.process.kill("SIGKILL");
        await child.exited;
        killedDuringStartup++;
        continue;
      }
      const client: RetrainServiceClient = retrainClient(await child.listening);
      let killed = false;
      const caller = async (): Promise<void> => {
        while (!killed) {
          // Now and then repeat an acknowledged prediction: it must come back as a duplicate.
          const repeat =
            acknowledged.size > 0 && random() < 0.05 ? acknowledged.entries().next().value : undefined;
          const record = prediction({ diagnosis: random() < 0.5 ? 1 : 2 });
          const predictionId = repeat?.[0] ?? record.predictionId;
          const token = repeat?.[1].token ?? signer.sign(record);
          const verdict =
            VERDICTS[Math.floor(random() * VERDICTS.length)] ?? FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN;
          let duplicate: boolean;
          try {
            ({ duplicate } = await unary(client.submitFeedback.bind(client), {
              feedbackToken: token,
              verdict,
            }));
          } catch {
            // Not acknowledged (the process died during the call): nothing was promised.
            return;
          }
          expect(duplicate).toBe(repeat !== undefined);
          if (repeat === undefined) acknowledged.set(predictionId, { token, verdict });
          else duplicatesSeen++;
        }
      };
      const before = acknowledged.size;
      const callers = Array.from({ length: CALLERS }, caller);
      // Every round has acknowledged feedback to lose (on a busy machine a fixed window may
      // close before the first answer); then a random moment: the kill is the event under
      // test, not a synchronisation.
      await waitUntil("a first acknowledgement in this round", () => acknowledged.size > before, 120_000);
      await new Promise((resolve) => setTimeout(resolve, random() * 200));
      killed = true;
      child.process.kill("SIGKILL");
      await child.exited;
      await Promise.all(callers);
      client.close();
    }
    expect(killedDuringStartup).toBeGreaterThan(0);

    const db = new Database(storeFile, { readonly: true });
    try {
      expect(integrityCheck(db)).toEqual(["ok"]);
      const stored = new Map(
        db
          .prepare<[], { prediction_id: string; verdict: number }>(
            "SELECT prediction_id, verdict FROM feedback",
          )
          .all()
          .map((row) => [row.prediction_id, row.verdict]),
      );
      const missing = [...acknowledged].filter(([id, { verdict }]) => stored.get(id) !== verdict);
      expect(missing).toEqual([]);
      // Each round that got past start-up had acknowledged feedback when it was killed.
      expect(acknowledged.size).toBeGreaterThanOrEqual(KILLS - killedDuringStartup);
      expect(duplicatesSeen).toBeGreaterThan(0);
    } finally {
      db.close();
    }
  }, 600_000);

  it("stops on SIGTERM: version streams end UNAVAILABLE, acknowledged feedback is kept, the exit code is 0", async () => {
    const child = spawnChild(env);
    const exitCode = new Promise<number | null>((resolve) =>
      child.process.once("exit", (code) => resolve(code)),
    );
    const client = retrainClient(await child.listening);
    try {
      const stream = watch(client);
      await stream.next((e) => e.kind === ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_CURRENT);
      const record = prediction();
      const ack = await unary(client.submitFeedback.bind(client), {
        feedbackToken: signer.sign(record),
        verdict: FeedbackVerdict.FEEDBACK_VERDICT_CORRECT,
      });
      child.process.kill("SIGTERM");
      expectStatus(await stream.ended, status.UNAVAILABLE, /shutting down; reconnect with after_version/);
      expect(await exitCode).toBe(0);
      const db = new Database(storeFile, { readonly: true });
      try {
        expect(
          db
            .prepare<[string], string>("SELECT feedback_id FROM feedback WHERE prediction_id = ?")
            .pluck()
            .get(record.predictionId),
        ).toBe(ack.feedbackId);
      } finally {
        db.close();
      }
    } finally {
      client.close();
    }
  });
});
