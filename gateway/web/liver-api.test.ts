import { describe, expect, it } from "vitest";
import { PUBLIC_METHODS } from "../public-methods.js";
import { LIVER_METHODS } from "./src/liver-api.js";

describe("LIVER_METHODS", () => {
  it("uses only methods the gateways route, with their deadlines", () => {
    for (const method of Object.values(LIVER_METHODS)) {
      const entry = PUBLIC_METHODS.find((m) => m.path === method.path);
      expect(entry, method.path).toBeDefined();
      expect(method.timeoutMs).toBe((entry?.timeoutSeconds ?? Number.NaN) * 1000);
    }
  });

  it("gives the version stream no deadline", () => {
    expect(LIVER_METHODS.watchModelVersions.timeoutMs).toBe(0);
  });
});
