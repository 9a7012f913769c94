import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  SignJWT,
  type CryptoKey,
  type JWK,
} from "jose";

/** Issuer (`iss`) of the local development tokens; no real identity provider uses it. */
export const DEV_ISSUER = "urn:liver-mesh:dev-issuer";
/** Audience (`aud`) of the local development tokens. */
export const DEV_AUDIENCE = "liver-mesh";
/** Folder under DATA_PATH holding the development signing key and its JWKS. */
export const DEV_AUTH_DIR = "dev-auth";
/** Longest lifetime `npm run token` mints: development tokens are short-lived. */
export const MAX_DEV_TOKEN_TTL_S = 24 * 3600;

const ALG = "ES256";

/**
 * The local development issuer of `npm start -- --auth dev`: an ES256 key made once per data
 * folder (private JWK, mode 0600) and its public JWKS file, which every service is pointed
 * at with AUTH_JWKS_FILE. It exists only when `--auth dev` created it; the services have no
 * other knowledge of it.
 */
export class DevIssuer {
  private constructor(
    private readonly privateKey: CryptoKey,
    private readonly kid: string,
    /** The public JWKS file the services read. */
    readonly jwksFile: string,
  ) {}

  /** The folder of a data path's development issuer. */
  static folder(dataPath: string): string {
    return path.join(dataPath, DEV_AUTH_DIR);
  }

  /** The issuer of `dataPath`, creating its key and JWKS on first use. */
  static async loadOrCreate(dataPath: string): Promise<DevIssuer> {
    const dir = DevIssuer.folder(dataPath);
    const keyFile = path.join(dir, "signing-key.jwk.json");
    const jwksFile = path.join(dir, "jwks.json");
    if (!existsSync(keyFile)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
      const publicJwk = await exportJWK(publicKey);
      const kid = await calculateJwkThumbprint(publicJwk);
      const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: ALG };
      writeFileSync(keyFile, `${JSON.stringify(privateJwk)}\n`, { mode: 0o600, flag: "wx" });
      writeFileSync(
        jwksFile,
        `${JSON.stringify({ keys: [{ ...publicJwk, kid, alg: ALG, use: "sig" }] }, null, 2)}\n`,
      );
    }
    return DevIssuer.load(dataPath);
  }

  /** The existing issuer of `dataPath`; fails, saying how to create one, when there is none. */
  static async load(dataPath: string): Promise<DevIssuer> {
    const dir = DevIssuer.folder(dataPath);
    const keyFile = path.join(dir, "signing-key.jwk.json");
    if (!existsSync(keyFile)) {
      throw new Error(
        `no development issuer in ${dir}: start the system once with 'npm start -- --auth dev' (same DATA_PATH) to create it`,
      );
    }
    const jwk = JSON.parse(readFileSync(keyFile, "utf8")) as JWK;
    const key = await importJWK(jwk, ALG);
    if (key instanceof Uint8Array) throw new Error(`${keyFile} is not an ${ALG} private key`);
    return new DevIssuer(key, jwk.kid ?? "", path.join(dir, "jwks.json"));
  }

  /** The settings that make a service trust this issuer. */
  serviceEnv(): Record<string, string> {
    return { AUTH_ISSUER: DEV_ISSUER, AUTH_AUDIENCE: DEV_AUDIENCE, AUTH_JWKS_FILE: this.jwksFile };
  }

  /** A signed access token for `subject` with `roles`, valid for `ttlSeconds`. */
  async mint(
    subject: string,
    roles: readonly string[],
    ttlSeconds: number,
    rolesClaim = "roles",
  ): Promise<string> {
    if (subject === "") throw new Error("the subject must not be empty");
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_DEV_TOKEN_TTL_S) {
      throw new Error(`the lifetime must be a whole number of seconds from 1 to ${MAX_DEV_TOKEN_TTL_S}`);
    }
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ [rolesClaim]: [...roles] })
      .setProtectedHeader({ alg: ALG, kid: this.kid, typ: "JWT" })
      .setIssuer(DEV_ISSUER)
      .setAudience(DEV_AUDIENCE)
      .setSubject(subject)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + ttlSeconds)
      .sign(this.privateKey);
  }
}
