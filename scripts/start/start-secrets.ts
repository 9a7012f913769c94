/**
 * Every key `npm start` keeps in the data folder, made in one place so the test that checks
 * they never reach git (start-secrets.test.ts) runs exactly what a start runs: the feedback
 * signing key (always, unless FEEDBACK_SIGNING_KEY is set), the development issuer's signing
 * key with `--auth dev`, and the throwaway CA and service keys with `--tls`.
 */
import { DevIssuer } from "../../services/shared/auth/dev-issuer.js";
import { loadOrCreateSigningKey } from "../../services/shared/feedback/signing-key.js";
import { makeThrowawayTls, throwawayTlsDir, type ThrowawayTls } from "./throwaway-tls.js";

/** Which of the optional keys a start makes. */
export interface StartSecretOptions {
  /** `--auth dev`. */
  readonly authDev: boolean;
  /** `--tls`. */
  readonly tls: boolean;
  /** FEEDBACK_SIGNING_KEY from the environment, if set (then no key file is written). */
  readonly signingKeyEnv: string | undefined;
}

/** The keys (loaded, or created on first use). */
export interface StartSecrets {
  readonly signingKey: Buffer;
  readonly issuer: DevIssuer | undefined;
  readonly tls: ThrowawayTls | undefined;
}

/** Loads or creates every key a start needs under `dataPath`. */
export async function prepareStartSecrets(
  dataPath: string,
  options: StartSecretOptions,
): Promise<StartSecrets> {
  const signingKey = loadOrCreateSigningKey(dataPath, options.signingKeyEnv);
  const issuer = options.authDev ? await DevIssuer.loadOrCreate(dataPath) : undefined;
  const tls = options.tls ? await makeThrowawayTls(throwawayTlsDir(dataPath)) : undefined;
  return { signingKey, issuer, tls };
}
