import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { readRetrainConfig } from "./retrain-config.js";
import { tempDir } from "./testing/retrain-fixtures.js";

describe("readRetrainConfig: attribution and per-source settings", () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  function env(extra: Record<string, string>): Record<string, string> {
    const tmp = tempDir();
    cleanups.push(tmp.remove);
    return { DATA_PATH: tmp.dir, FEEDBACK_SIGNING_KEY: randomBytes(32).toString("hex"), ...extra };
  }

  it("trusts loopback gateways and allows 200 labelled feedbacks per source per hour by default", () => {
    const config = readRetrainConfig(env({}));
    expect(config.feedbackPerSourcePerHour).toBe(200);
    expect(config.trustedGateways.check("127.0.0.1", "ipv4")).toBe(true);
    expect(config.trustedGateways.check("::1", "ipv6")).toBe(true);
    expect(config.trustedGateways.check("10.0.0.1", "ipv4")).toBe(false);
  });

  it("reads both settings", () => {
    const config = readRetrainConfig(
      env({ TRUSTED_GATEWAY_ADDRESSES: "10.1.0.0/16", FEEDBACK_PER_SOURCE_PER_HOUR: "0" }),
    );
    expect(config.feedbackPerSourcePerHour).toBe(0);
    expect(config.trustedGateways.check("10.1.2.3", "ipv4")).toBe(true);
    expect(config.trustedGateways.check("127.0.0.1", "ipv4")).toBe(false);
  });

  it("refuses a bad entry or count at start, naming the setting", () => {
    expect(() => readRetrainConfig(env({ TRUSTED_GATEWAY_ADDRESSES: "127.0.0.1/8,gateway.local" }))).toThrow(
      /TRUSTED_GATEWAY_ADDRESSES entry "gateway.local" is not an IP address or CIDR block/,
    );
    expect(() => readRetrainConfig(env({ FEEDBACK_PER_SOURCE_PER_HOUR: "-5" }))).toThrow(
      /FEEDBACK_PER_SOURCE_PER_HOUR/,
    );
  });
});
