/**
 * Decides whether a path is left out of the Docker build context by a .dockerignore, with
 * Docker's rules: patterns are read in order and the last one that matches wins, `!`
 * re-includes, a pattern matching a folder covers everything under it, `**` spans folders.
 */

/** One pattern of a .dockerignore. */
export interface IgnorePattern {
  readonly pattern: string;
  readonly negated: boolean;
  readonly regexp: RegExp;
}

function toRegExp(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern.charAt(i);
    if (char === "*" && pattern.charAt(i + 1) === "*") {
      i++;
      if (pattern.charAt(i + 1) === "/") {
        i++;
        source += "(?:.*/)?";
      } else {
        source += ".*";
      }
    } else if (char === "*") {
      source += "[^/]*";
    } else if (char === "?") {
      source += "[^/]";
    } else {
      source += char.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${source}$`);
}

/** Reads a .dockerignore: comments and blank lines dropped, leading/trailing slashes removed. */
export function parseDockerignore(text: string): IgnorePattern[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const negated = line.startsWith("!");
      const pattern = (negated ? line.slice(1) : line).trim().replace(/^\/+|\/+$/g, "");
      return { pattern, negated, regexp: toRegExp(pattern) };
    });
}

/** True when `file` (relative to the context root, "/"-separated) is excluded from the context. */
export function isExcluded(patterns: readonly IgnorePattern[], file: string): boolean {
  const parts = file.split("/");
  // The path itself and each of its parent folders.
  const candidates = parts.map((_, index) => parts.slice(0, index + 1).join("/"));
  let excluded = false;
  for (const { negated, regexp } of patterns) {
    if (candidates.some((candidate) => regexp.test(candidate))) excluded = !negated;
  }
  return excluded;
}
