import type { Logger } from "pino";
import type { AuthConfig } from "./auth-config.js";

/**
 * Says once at start whether `methods` require an access token, so an operator reading
 * the log knows whether a deployment is open (AUTH_ISSUER unset) or which issuer it trusts.
 */
export function logAuthMode(logger: Logger, config: AuthConfig | undefined, methods: string): void {
  if (config === undefined) {
    logger.warn(
      { auth: "off" },
      `authentication is off (AUTH_ISSUER unset): anyone who reaches this service may call ${methods}`,
    );
    return;
  }
  logger.info(
    {
      auth: "jwt",
      issuer: config.issuer,
      audience: config.audience,
      jwks: config.jwks.kind === "url" ? config.jwks.url.href : config.jwks.file,
      rolesClaim: config.rolesClaim,
      clinicianRole: config.clinicianRole,
      adminRole: config.adminRole,
    },
    `${methods}: a JWT from ${config.issuer} with role ${config.clinicianRole} or ${config.adminRole} is required`,
  );
}
