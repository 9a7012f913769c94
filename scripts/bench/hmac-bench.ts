/**
 * Feedback-token MAC: the HMAC-SHA256 of one prediction record (what Predict signs per
 * answer, PredictBatch once per patient), by node:crypto createHmac and by HmacSha256
 * (@noble/hashes with the key's pads computed once). hmac-sha256.ts records the figures
 * that chose it.
 */
import { createHmac, randomBytes } from "node:crypto";
import { recordLength } from "../../services/shared/feedback/prediction-record.js";
import { HmacSha256 } from "../../services/shared/feedback/hmac-sha256.js";
import type { BenchContext, BenchSection } from "./bench-harness.js";

export const order = 26;

/** MACs per timed sample: enough that one sample takes tens of milliseconds. */
const MACS = 50_000;

async function run(context: BenchContext): Promise<void> {
  const key = randomBytes(32);
  // A record as Predict signs it: model version "v12", no principal.
  const record = randomBytes(recordLength(3, 0));
  const out = new Uint8Array(32);
  const macs = context.quick ? MACS / 10 : MACS;
  const perMac = async (name: string, mac: () => void): Promise<number> => {
    const figure = await context.time(`${name}: ${macs} MACs of ${record.length} bytes`, () => {
      for (let i = 0; i < macs; i++) mac();
    });
    const microseconds = (figure.median * 1000) / macs;
    context.note(`${name}: ${microseconds.toFixed(2)} µs per MAC`);
    return figure.median;
  };
  const nodeMs = await perMac("node:crypto createHmac", () => {
    createHmac("sha256", key).update(record).digest();
  });
  const project = new HmacSha256(key);
  const projectMs = await perMac("HmacSha256 (@noble/hashes, pads precomputed)", () => {
    project.digestInto(record, record.length, out, 0);
  });
  context.note(`createHmac / HmacSha256 = ${(nodeMs / projectMs).toFixed(2)}`);
}

export const section: BenchSection = { title: "Feedback-token MAC (HMAC-SHA256)", run };
