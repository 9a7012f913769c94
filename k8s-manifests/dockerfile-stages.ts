/**
 * A small Dockerfile reader (the subset BuildKit's frontend defines for line continuations,
 * comments, global ARGs and `FROM image AS name`), so the images can be checked with no
 * Docker engine: which targets exist, what each inherits, how it is built and run.
 */

/** One instruction, continuations joined; `keyword` upper-cased. */
export interface DockerInstruction {
  readonly keyword: string;
  readonly args: string;
  /** 1-based line where the instruction starts. */
  readonly line: number;
}

/** One build stage. */
export interface DockerStage {
  /** The `AS` name, lower-cased; undefined for an unnamed stage. */
  readonly name: string | undefined;
  /** The FROM image or stage, with global ARG defaults substituted. */
  readonly base: string;
  readonly instructions: readonly DockerInstruction[];
}

export interface ParsedDockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  readonly globalArgs: ReadonlyMap<string, string | undefined>;
  readonly stages: readonly DockerStage[];
}

/** Splits a Dockerfile into instructions, joining `\` continuations and dropping comments. */
export function readInstructions(text: string): DockerInstruction[] {
  const instructions: DockerInstruction[] = [];
  let pending: { parts: string[]; line: number } | undefined;
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const trimmed = rawLine.trim();
    // Comment lines are removed even inside a continuation, as BuildKit does.
    if (trimmed.startsWith("#")) return;
    if (pending === undefined && trimmed === "") return;
    const continues = trimmed.endsWith("\\");
    const content = continues ? trimmed.slice(0, -1).trim() : trimmed;
    pending ??= { parts: [], line: index + 1 };
    if (content !== "") pending.parts.push(content);
    if (continues) return;
    const joined = pending.parts.join(" ");
    const match = /^(\S+)\s*(.*)$/.exec(joined);
    if (match?.[1] !== undefined) {
      instructions.push({ keyword: match[1].toUpperCase(), args: match[2] ?? "", line: pending.line });
    }
    pending = undefined;
  });
  if (pending !== undefined)
    throw new Error(`Dockerfile ends inside a continuation from line ${pending.line}`);
  return instructions;
}

function substitute(value: string, args: ReadonlyMap<string, string | undefined>): string {
  return value.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, braced, bare) => {
      const name = (braced ?? bare) as string;
      const replacement = args.get(name);
      if (replacement === undefined) throw new Error(`FROM uses ${whole}, but ARG ${name} has no default`);
      return replacement;
    },
  );
}

/** Parses a Dockerfile into global ARGs and stages. */
export function parseDockerfile(text: string): ParsedDockerfile {
  const globalArgs = new Map<string, string | undefined>();
  const stages: { name: string | undefined; base: string; instructions: DockerInstruction[] }[] = [];
  for (const instruction of readInstructions(text)) {
    if (instruction.keyword === "FROM") {
      const words = instruction.args.split(/\s+/).filter((word) => !word.startsWith("--"));
      const [image, as, name] = words;
      if (image === undefined) throw new Error(`line ${instruction.line}: FROM without an image`);
      if (as !== undefined && (as.toUpperCase() !== "AS" || name === undefined)) {
        throw new Error(`line ${instruction.line}: expected "FROM image [AS name]"`);
      }
      stages.push({ name: name?.toLowerCase(), base: substitute(image, globalArgs), instructions: [] });
      continue;
    }
    const current = stages.at(-1);
    if (current === undefined) {
      if (instruction.keyword !== "ARG") {
        throw new Error(`line ${instruction.line}: only ARG may come before the first FROM`);
      }
      const [name, value] = instruction.args.split("=", 2);
      if (name !== undefined) globalArgs.set(name.trim(), value?.trim());
      continue;
    }
    current.instructions.push(instruction);
  }
  return { globalArgs, stages };
}

/**
 * The stage named `name` and every stage it is built FROM, nearest first; the last entry's
 * `base` is the external image the target starts from.
 */
export function stageChain(dockerfile: ParsedDockerfile, name: string): DockerStage[] {
  const chain: DockerStage[] = [];
  let current = dockerfile.stages.find((stage) => stage.name === name);
  if (current === undefined) throw new Error(`no stage named "${name}" in the Dockerfile`);
  while (current !== undefined) {
    if (chain.includes(current)) throw new Error(`stage "${name}" inherits from itself`);
    chain.push(current);
    const base: string = current.base;
    current = dockerfile.stages.find((stage) => stage.name === base.toLowerCase());
  }
  return chain;
}

/**
 * The last value of `keyword` a target's image ends up with (USER, STOPSIGNAL, CMD,
 * ENTRYPOINT, WORKDIR: the nearest stage that sets it wins).
 */
export function effectiveInstruction(
  chain: readonly DockerStage[],
  keyword: string,
): DockerInstruction | undefined {
  for (const stage of chain) {
    const found = stage.instructions.filter((instruction) => instruction.keyword === keyword).at(-1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The argv of an exec-form (JSON array) CMD/ENTRYPOINT; undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.trim().startsWith("[")) return undefined;
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === "string")) {
    throw new Error(`exec form must be a JSON array of strings: ${args}`);
  }
  return parsed;
}

/** `KEY=value` pairs of an ENV instruction (the `ENV a=1 b=2` form; quotes removed). */
export function envAssignments(args: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const match of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|'([^']*)'|\S*)/g)) {
    const [, key, raw, doubleQuoted, singleQuoted] = match;
    if (key !== undefined) result.set(key, doubleQuoted ?? singleQuoted ?? raw ?? "");
  }
  return result;
}
