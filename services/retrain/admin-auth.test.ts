import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { Metadata, status } from "@grpc/grpc-js";
import { pino } from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { CallerAuthenticator } from "../shared/auth/caller-authenticator.js";
import { mintTestToken, newTestKey, type TestKey } from "../shared/auth/testing/test-issuer.js";
import { AdminAuth, type AdminIdentity } from "./admin-auth.js";
import { RpcFailure } from "../shared/grpc/rpc-failure.js";

const ISSUER = "https://idp.test";
const AUDIENCE = "liver-mesh";
const token = "0123456789abcdef0123456789abcdef";

function metadata(authorization?: string | string[]): Metadata {
  const md = new Metadata();
  for (const value of [authorization ?? []].flat()) md.add("authorization", value);
  return md;
}

/** A logger whose JSON lines land in `lines`. */
function capturingLogger(lines: string[]) {
  return pino(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString("utf8"));
        done();
      },
    }),
  );
}

/** "ok <principal>" or "<code name>: <details>". */
async function outcome(pending: Promise<AdminIdentity>): Promise<string> {
  try {
    const admin = await pending;
    return `ok ${admin.principal}${admin.breakGlass ? " (break-glass)" : ""}`;
  } catch (error) {
    if (error instanceof RpcFailure) return `${status[error.status.code]}: ${error.status.details}`;
    throw error;
  }
}

let key: TestKey;
let callers: CallerAuthenticator;

beforeAll(async () => {
  key = await newTestKey("admin-key");
  const file = path.join(mkdtempSync(path.join(tmpdir(), "admin-auth-")), "jwks.json");
  writeFileSync(file, JSON.stringify({ keys: [key.publicJwk] }));
  callers = new CallerAuthenticator({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { kind: "file", file },
    rolesClaim: "roles",
    clinicianRole: "liver-clinician",
    adminRole: "liver-admin",
  });
});

describe("AdminAuth with ADMIN_TOKEN only", () => {
  it("lets the break-glass token through and logs its use as such", async () => {
    const lines: string[] = [];
    const auth = new AdminAuth(token, undefined, capturingLogger(lines));
    expect(await outcome(auth.authorize(metadata(`Bearer ${token}`), "TriggerRetrain"))).toBe(
      "ok break-glass (break-glass)",
    );
    expect(await outcome(auth.authorize(metadata(`bearer ${token}`), "TriggerRetrain"))).toBe(
      "ok break-glass (break-glass)",
    );
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({
      level: 40,
      method: "TriggerRetrain",
      principal: "break-glass",
    });
    expect(lines[0]).toMatch(/break-glass: TriggerRetrain authorized by the static ADMIN_TOKEN/);
    expect(lines[0]).not.toContain(token);
  });

  it("refuses everything when nothing is configured, saying how to turn admin RPCs on", async () => {
    const auth = new AdminAuth(undefined, undefined, pino({ level: "silent" }));
    const refusal = await outcome(auth.authorize(metadata(`Bearer ${token}`), "RollbackModel"));
    expect(refusal).toMatch(/^FAILED_PRECONDITION: RollbackModel is an admin RPC/);
    expect(refusal).toMatch(
      /no ADMIN_TOKEN is configured and AUTH_ISSUER is unset.*Set ADMIN_TOKEN.*or AUTH_ISSUER/,
    );
  });

  it("answers UNAUTHENTICATED without a usable header and PERMISSION_DENIED for a wrong token", async () => {
    const auth = new AdminAuth(token, undefined, pino({ level: "silent" }));
    expect(await outcome(auth.authorize(metadata(), "TriggerRetrain"))).toMatch(
      /^UNAUTHENTICATED: TriggerRetrain is an admin RPC/,
    );
    expect(await outcome(auth.authorize(metadata(token), "TriggerRetrain"))).toMatch(
      /^UNAUTHENTICATED: .*malformed: expected 'Bearer <ADMIN_TOKEN>'/,
    );
    expect(
      await outcome(auth.authorize(metadata([`Bearer ${token}`, `Bearer ${token}`]), "TriggerRetrain")),
    ).toMatch(/^UNAUTHENTICATED/);
    const wrong = await outcome(auth.authorize(metadata(`Bearer ${token}x`), "TriggerRetrain"));
    expect(wrong).toMatch(/^PERMISSION_DENIED: the bearer token is not this RetrainService's ADMIN_TOKEN/);
    expect(wrong).not.toContain(token);
  });
});

describe("AdminAuth with AUTH_ISSUER", () => {
  const mint = (subject: string, roles: string[]) =>
    mintTestToken(key, { issuer: ISSUER, audience: AUDIENCE, subject, roles });

  it("accepts a JWT with the admin role and names its principal", async () => {
    const auth = new AdminAuth(undefined, callers, pino({ level: "silent" }));
    expect(
      await outcome(
        auth.authorize(metadata(`Bearer ${await mint("ops", ["liver-admin"])}`), "RollbackModel"),
      ),
    ).toBe(`ok ${ISSUER}|ops`);
  });

  it("refuses a clinician's JWT as PERMISSION_DENIED naming the admin role, and a bad JWT as UNAUTHENTICATED", async () => {
    const auth = new AdminAuth(token, callers, pino({ level: "silent" }));
    expect(
      await outcome(
        auth.authorize(metadata(`Bearer ${await mint("alice", ["liver-clinician"])}`), "TriggerRetrain"),
      ),
    ).toMatch(/^PERMISSION_DENIED: TriggerRetrain needs the liver-admin role/);
    const expired = await mintTestToken(key, {
      issuer: ISSUER,
      audience: AUDIENCE,
      subject: "ops",
      roles: ["liver-admin"],
      expiresInS: -600,
    });
    expect(await outcome(auth.authorize(metadata(`Bearer ${expired}`), "TriggerRetrain"))).toMatch(
      /^UNAUTHENTICATED: .*expired/,
    );
    expect(await outcome(auth.authorize(metadata("Bearer not-a-token"), "TriggerRetrain"))).toMatch(
      /^PERMISSION_DENIED: the bearer token is neither this RetrainService's ADMIN_TOKEN nor a JWT/,
    );
  });

  it("still takes the break-glass token alongside JWTs", async () => {
    const auth = new AdminAuth(token, callers, pino({ level: "silent" }));
    expect(await outcome(auth.authorize(metadata(`Bearer ${token}`), "TriggerRetrain"))).toBe(
      "ok break-glass (break-glass)",
    );
  });
});
