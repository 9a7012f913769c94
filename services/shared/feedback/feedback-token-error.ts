/** Why a token was refused; services map kinds to gRPC status codes. */
export type TokenProblem = "malformed" | "bad-signature" | "expired";

/**
 * A refused feedback token, with a message a person can act on. Its own module because both
 * the record reader (malformed bodies) and the signer (signature, age) refuse tokens.
 */
export class FeedbackTokenError extends Error {
  constructor(
    readonly problem: TokenProblem,
    message: string,
  ) {
    super(message);
    this.name = "FeedbackTokenError";
  }
}
