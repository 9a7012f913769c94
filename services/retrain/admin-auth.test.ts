import { Metadata, status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { AdminAuth } from "./admin-auth.js";

function metadata(authorization?: string | string[]): Metadata {
  const md = new Metadata();
  for (const value of [authorization ?? []].flat()) md.add("authorization", value);
  return md;
}

describe("AdminAuth", () => {
  const token = "0123456789abcdef0123456789abcdef";

  it("lets a caller with the right bearer token through", () => {
    const auth = new AdminAuth(token);
    expect(auth.check(metadata(`Bearer ${token}`), "TriggerRetrain")).toBeUndefined();
    expect(auth.check(metadata(`bearer ${token}`), "TriggerRetrain")).toBeUndefined();
  });

  it("refuses everything when no ADMIN_TOKEN is configured, saying how to set one", () => {
    const refusal = new AdminAuth(undefined).check(metadata(`Bearer ${token}`), "RollbackModel");
    expect(refusal?.code).toBe(status.FAILED_PRECONDITION);
    expect(refusal?.details).toMatch(/RollbackModel is an admin RPC/);
    expect(refusal?.details).toMatch(/Set ADMIN_TOKEN/);
  });

  it("answers UNAUTHENTICATED without a usable header and PERMISSION_DENIED for a wrong token", () => {
    const auth = new AdminAuth(token);
    expect(auth.check(metadata(), "TriggerRetrain")?.code).toBe(status.UNAUTHENTICATED);
    expect(auth.check(metadata(token), "TriggerRetrain")?.details).toMatch(
      /malformed: expected 'Bearer <ADMIN_TOKEN>'/,
    );
    expect(auth.check(metadata([`Bearer ${token}`, `Bearer ${token}`]), "TriggerRetrain")?.code).toBe(
      status.UNAUTHENTICATED,
    );
    const wrong = auth.check(metadata(`Bearer ${token}x`), "TriggerRetrain");
    expect(wrong?.code).toBe(status.PERMISSION_DENIED);
    expect(wrong?.details).not.toContain(token);
  });
});
