/**
 * Site names: where a prediction is asked for and its feedback comes from. They become
 * metric labels, registry keys and parts of signed feedback tokens, so they are short
 * lowercase DNS-label-like words, checked wherever one enters (JWT claim, gateway header).
 */

/** The site of callers that name none. */
export const DEFAULT_SITE = "default";

/** The header a trusted gateway sets to the caller's site. */
export const SITE_HEADER = "x-liver-site";

/** Longest site name in characters (a DNS label's limit). */
export const MAX_SITE_NAME_LENGTH = 63;

const SITE_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/** Why `name` is no valid site name, or undefined when it is one. */
export function siteNameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (name.length > MAX_SITE_NAME_LENGTH)
    return `is ${name.length} characters long; at most ${MAX_SITE_NAME_LENGTH} are allowed`;
  if (!SITE_NAME.test(name))
    return `"${name.slice(0, MAX_SITE_NAME_LENGTH)}" has characters other than a-z, 0-9 and inner hyphens`;
  return undefined;
}
