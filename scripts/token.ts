/**
 * `npm run token`: mints a short-lived access token from the local development issuer that
 * `npm start -- --auth dev` created in DATA_PATH, for grpcurl and for the browser's cookie.
 * Only that issuer: it cannot mint tokens for a real identity provider.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_CLINICIAN_ROLE } from "../services/shared/auth/auth-config.js";
import { DevIssuer, MAX_DEV_TOKEN_TTL_S } from "../services/shared/auth/dev-issuer.js";
import { readString } from "../services/shared/ops/env-config.js";

const HELP = `Usage: npm run -s token -- --sub NAME [--role ROLE]... [--ttl SECONDS]

Prints an access token (a JWT signed by the development issuer of 'npm start -- --auth dev')
for the subject NAME with the given roles. Start the system once with --auth dev first: that
creates the issuer's key in DATA_PATH/dev-auth/.

Options:
  --sub NAME       the subject (sub claim); the principal is "urn:liver-mesh:dev-issuer|NAME"
  --role ROLE      a role (repeatable; default ${DEFAULT_CLINICIAN_ROLE}); liver-admin for the admin RPCs
  --ttl SECONDS    lifetime (default 3600, at most ${MAX_DEV_TOKEN_TTL_S})
  -h, --help       show this help

Environment: DATA_PATH [data/] (the same as npm start's)

Examples:
  TOKEN=$(npm run -s token -- --sub alice --role liver-clinician)
  grpcurl -plaintext -H "authorization: Bearer $TOKEN" \\
    -d '{"patient":{"age":45,"gender":"GENDER_MALE","total_bilirubin":0.9,"direct_bilirubin":0.2,
         "alkaline_phosphatase":187,"alanine_aminotransferase":16,"aspartate_aminotransferase":18,
         "total_proteins":6.8,"albumin":3.3,"albumin_globulin_ratio":0.9}}' \\
    localhost:8000 liver.v1.PredictService/Predict
  In the browser (http://localhost:5000/), in the developer console:
    document.cookie = "BearerToken=<token>; path=/; SameSite=Strict"
  then reload: the gateway sends the cookie on as 'authorization: Bearer <token>'.`;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      sub: { type: "string" },
      role: { type: "string", multiple: true },
      ttl: { type: "string", default: "3600" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.sub === undefined || values.sub.trim() === "") {
    console.error("token: --sub NAME is required (see npm run token -- --help)");
    return 2;
  }
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_DEV_TOKEN_TTL_S) {
    console.error(
      `token: --ttl ${values.ttl} is not valid: expected a whole number of seconds from 1 to ${MAX_DEV_TOKEN_TTL_S}`,
    );
    return 2;
  }
  const dataPath = path.resolve(root, readString(process.env, "DATA_PATH", "data/"));
  const issuer = await DevIssuer.load(dataPath);
  const roles = values.role ?? [DEFAULT_CLINICIAN_ROLE];
  console.log(await issuer.mint(values.sub.trim(), roles, ttl));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`token: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
