/**
 * Reading settings from the environment with errors that name the variable and what it
 * accepts, so a typo in a manifest fails at start, not at the first request.
 */
export type Env = Readonly<Record<string, string | undefined>>;

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

/** A TCP port, 0 to 65535 (0 picks a free one). */
export function readPort(env: Env, name: string, fallback: number): number {
  return readInteger(env, name, fallback, 0, 65_535);
}

/** A TCP port from 1 to 65535, or undefined when unset. */
export function readOptionalPort(env: Env, name: string): number | undefined {
  return raw(env, name) === undefined ? undefined : readInteger(env, name, 0, 1, 65_535);
}

/** A whole number within [min, max]. */
export function readInteger(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new Error(`${name}=${value} is not valid: expected a whole number from ${min} to ${max}`);
  }
  return parsed;
}

/** A finite number within [min, max]. */
export function readNumber(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
    throw new Error(`${name}=${value} is not valid: expected a number from ${min} to ${max}`);
  }
  return parsed;
}

/** A switch: true/false, on/off, 1/0 or yes/no (any case), or the fallback when unset. */
export function readBoolean(env: Env, name: string, fallback: boolean): boolean {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const lower = value.toLowerCase();
  if (["true", "on", "1", "yes"].includes(lower)) return true;
  if (["false", "off", "0", "no"].includes(lower)) return false;
  throw new Error(`${name}=${value} is not valid: expected true or false (on/off, yes/no and 1/0 work too)`);
}

/** A string, or the fallback when unset or blank. */
export function readString(env: Env, name: string, fallback: string): string {
  return raw(env, name) ?? fallback;
}

/** A string, or undefined when unset or blank. */
export function readOptionalString(env: Env, name: string): string | undefined {
  return raw(env, name);
}
