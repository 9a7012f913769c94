import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Metadata, Server } from "@grpc/grpc-js";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Diagnosis } from "../../services/gen/liver/v1/patient.js";
import {
  PredictRequest,
  PredictServiceService,
  type PredictServiceServer,
} from "../../services/gen/liver/v1/predict_service.js";
import { RetrainServiceService } from "../../services/gen/liver/v1/retrain_service.js";
import { CallerAuthenticator } from "../../services/shared/auth/caller-authenticator.js";
import { mintTestToken, newTestKey, type TestKey } from "../../services/shared/auth/testing/test-issuer.js";
import { testServerCredentials } from "../../services/shared/testing/test-tls.js";
import { grpcWebCall } from "./testing/grpc-web-fetch-client.js";
import { bearerFromCookie } from "./session-cookie.js";
import { TestGrpcWebBridge } from "./testing/test-bridge.js";

const ISSUER = "https://idp.test";
const AUDIENCE = "liver-mesh";

describe("bearerFromCookie", () => {
  it("finds the BearerToken cookie among others and refuses values that are not tokens", () => {
    expect(bearerFromCookie(undefined)).toBeUndefined();
    expect(bearerFromCookie("a=1; BearerToken=eyJ.abc.def; b=2")).toBe("eyJ.abc.def");
    expect(bearerFromCookie("BearerTokenX=eyJ.a.b")).toBeUndefined();
    expect(bearerFromCookie("XBearerToken=eyJ.a.b")).toBeUndefined();
    expect(bearerFromCookie("BearerToken=")).toBeUndefined();
    expect(bearerFromCookie("BearerToken=a b")).toBeUndefined();
    expect(bearerFromCookie("BearerToken=a\r\nx: y")).toBeUndefined();
    expect(bearerFromCookie(`BearerToken=${"a".repeat(20_000)}`)).toBeUndefined();
  });

  it("takes a stranger's odd Cookie headers without decoding, crashing or taking the wrong cookie", () => {
    // Percent-encoding is not decoded into a token: "%2E" stays three characters and is refused.
    expect(bearerFromCookie("BearerToken=eyJ%2Ea.b")).toBeUndefined();
    expect(bearerFromCookie('BearerToken="eyJ.a.b"')).toBeUndefined();
    // The first of two wins, as browsers send the most specific path first.
    expect(bearerFromCookie("BearerToken=eyJ.first; BearerToken=eyJ.second")).toBe("eyJ.first");
    expect(bearerFromCookie(" BearerToken = eyJ.spaced ;")).toBe("eyJ.spaced");
    for (const header of ["", ";;;", "=", "BearerToken", "=BearerToken=x", "__proto__=x; constructor=y"]) {
      expect(bearerFromCookie(header), header).toBeUndefined();
    }
    // Far more cookies than a browser sends (Node caps a request's headers at 16 KiB anyway).
    const crowd = Array.from({ length: 50_000 }, (_, i) => `c${i}=v${i}`).join("; ");
    expect(bearerFromCookie(`${crowd}; BearerToken=eyJ.last`)).toBe("eyJ.last");
    expect(bearerFromCookie(`${"BearerToken=; ".repeat(10_000)}BearerToken=eyJ.late`)).toBeUndefined();
  });
});

describe("the bridge's session cookie", () => {
  const seen: Metadata[] = [];
  let server: Server;
  let bridge: TestGrpcWebBridge;
  let base: string;
  let key: TestKey;

  beforeAll(async () => {
    key = await newTestKey("k");
    const dir = await mkdtemp(path.join(tmpdir(), "bridge-session-"));
    const jwksFile = path.join(dir, "jwks.json");
    await writeFile(jwksFile, JSON.stringify({ keys: [key.publicJwk] }));
    server = new Server();
    const predict: Pick<PredictServiceServer, "predict"> = {
      predict(call, callback) {
        seen.push(call.metadata);
        callback(null, {
          probability: 0.5,
          diagnosis: Diagnosis.DIAGNOSIS_LIVER_DISEASE,
          modelVersion: "v1",
          predictionId: "",
          feedbackToken: "",
          threshold: 0.5,
          explanation: undefined,
          warnings: [],
        });
      },
    };
    server.addService(PredictServiceService, { predict: predict.predict });
    server.addService(RetrainServiceService, {});
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", testServerCredentials(), (error, bound) =>
        error === null ? resolve(bound) : reject(error),
      ),
    );
    bridge = new TestGrpcWebBridge({
      predictAddresses: [`127.0.0.1:${port}`],
      retrainAddress: `127.0.0.1:${port}`,
      logger: pino({ level: "silent" }),
      auth: new CallerAuthenticator({
        issuer: ISSUER,
        audience: AUDIENCE,
        jwks: { kind: "file", file: jwksFile },
        rolesClaim: "roles",
        clinicianRole: "liver-clinician",
        adminRole: "liver-admin",
      }),
    });
    base = TestGrpcWebBridge.url((await bridge.listen(0)).port);
  });

  afterAll(async () => {
    await bridge.close();
    server.forceShutdown();
  });

  const predict = (headers: Record<string, string>) =>
    grpcWebCall(
      base,
      "/liver.v1.PredictService/Predict",
      PredictRequest.encode({ patient: undefined }).finish(),
      { headers },
    );

  it("forwards the BearerToken cookie as the bearer token; an explicit authorization header wins", async () => {
    seen.length = 0;
    await predict({ cookie: "theme=dark; BearerToken=eyJ.from.cookie" });
    await predict({ cookie: "BearerToken=eyJ.from.cookie", authorization: "Bearer eyJ.from.header" });
    await predict({});
    expect(seen.map((m) => m.get("authorization")[0] ?? null)).toEqual([
      "Bearer eyJ.from.cookie",
      "Bearer eyJ.from.header",
      null,
    ]);
    expect(seen[0]?.get("cookie")).toEqual([]);
  });

  it("answers /auth/whoami from the verified cookie, and says why a bad one signs nobody in", async () => {
    const token = await mintTestToken(key, {
      issuer: ISSUER,
      audience: AUDIENCE,
      subject: "alice",
      roles: ["liver-clinician"],
    });
    const whoami = async (cookie?: string) =>
      (
        await fetch(`${base}/auth/whoami`, { headers: cookie === undefined ? {} : { cookie } })
      ).json() as Promise<unknown>;
    expect(await whoami(`BearerToken=${token}`)).toEqual({
      signedIn: true,
      subject: "alice",
      issuer: ISSUER,
      principal: `${ISSUER}|alice`,
      admin: false,
    });
    // The admin role shows the page's approval buttons (the gateway and the service still check it).
    const adminToken = await mintTestToken(key, {
      issuer: ISSUER,
      audience: AUDIENCE,
      subject: "root",
      roles: ["liver-admin"],
    });
    expect(await whoami(`BearerToken=${adminToken}`)).toMatchObject({ signedIn: true, admin: true });
    // Authentication is on here: signed out, the page is told that sign-in is required.
    expect(await whoami()).toEqual({ signedIn: false, signInRequired: true });
    const expired = await mintTestToken(key, {
      issuer: ISSUER,
      audience: AUDIENCE,
      subject: "alice",
      expiresInS: -600,
    });
    expect(await whoami(`BearerToken=${expired}`)).toMatchObject({ signedIn: false });
    expect(JSON.stringify(await whoami(`BearerToken=${expired}`))).toMatch(
      /"problem":"access token refused: it expired/,
    );
    const other = await newTestKey("other");
    const forged = await mintTestToken(other, { issuer: ISSUER, audience: AUDIENCE, subject: "mallory" });
    expect(JSON.stringify(await whoami(`BearerToken=${forged}`))).toMatch(
      /"signedIn":false,"signInRequired":true,"problem":".*unknown signing key/,
    );
  });

  it("signs out: /signout clears the cookie (HTTP-only) and returns to the page", async () => {
    const response = await fetch(`${base}/signout`, { redirect: "manual" });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/");
    expect(response.headers.get("set-cookie")).toMatch(/^BearerToken=deleted; Path=\/; Max-Age=0; HttpOnly/);
  });
});
