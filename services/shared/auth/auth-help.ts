/** The authentication settings, as both services' `--help` lists them. */
export const AUTH_HELP = `  AUTH_ISSUER                     unset: no authentication. Set: the OIDC issuer whose JWTs are
                                  required ("authorization: Bearer <JWT>") on Predict, PredictBatch
                                  and SubmitFeedback, and accepted on the admin RPCs
  AUTH_AUDIENCE                   the audience (aud) the tokens must name
  AUTH_JWKS_URL | AUTH_JWKS_FILE  the issuer's public keys: its JWKS endpoint (cached, refetched on
                                  an unknown kid) or a JWKS file (re-read when it changes)
  AUTH_ROLES_CLAIM [roles]        claim with the caller's roles (dotted path for nested claims)
  AUTH_CLINICIAN_ROLE [liver-clinician]   may predict and send feedback
  AUTH_ADMIN_ROLE [liver-admin]   may also retrain, roll back and review feedback
  AUTH_SITE_CLAIM [site]          claim naming the caller's site (its calibration; feedback counts
                                  only for the site its prediction was made for)`;
