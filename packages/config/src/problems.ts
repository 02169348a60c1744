/** One thing wrong with a claw spec: which variable, what is wrong, how to fix it. */
export interface Problem {
  /** The `.env` variable (or `file:line` for a malformed line). */
  variable: string;
  message: string;
  fix: string;
  line?: number;
}

export function formatProblem(p: Problem): string {
  return `${p.variable}: ${p.message} (fix: ${p.fix})`;
}

/** Thrown before anything is written or any Azure call is made; carries every problem found. */
export class SpecError extends Error {
  readonly problems: Problem[];

  constructor(problems: Problem[], source?: string) {
    const head = `${source ? `${source}: ` : ''}${problems.length} problem${problems.length === 1 ? '' : 's'} in the claw spec`;
    super(`${head}\n${problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}`);
    this.name = 'SpecError';
    this.problems = problems;
  }
}
