/**
 * How lifecycle code talks to its host (GitHub Actions runner, CLI terminal, tests).
 * Implementations must mask every value passed to setSecret() in everything they print afterwards.
 */
export interface Reporter {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
  setSecret(value: string): void;
  startGroup?(name: string): void;
  endGroup?(): void;
}

/** Replaces each registered secret with `***` (longest first, so overlapping secrets are fully hidden). */
export class SecretMasker {
  private readonly secrets = new Set<string>();

  add(value: string): void {
    if (value && value.length >= 1) this.secrets.add(value);
  }

  mask(text: string): string {
    let out = text;
    for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join('***');
    return out;
  }
}

/** A Reporter that writes to a stream-like sink (console by default) and masks secrets. */
export function createConsoleReporter(
  opts: { debug?: boolean; write?: (line: string) => void; writeErr?: (line: string) => void } = {},
): Reporter & { masker: SecretMasker } {
  const masker = new SecretMasker();
  const out = opts.write ?? ((l: string) => process.stdout.write(`${l}\n`));
  const err = opts.writeErr ?? ((l: string) => process.stderr.write(`${l}\n`));
  let depth = 0;
  const pad = () => '  '.repeat(depth);
  return {
    masker,
    info: (m) => out(pad() + masker.mask(m)),
    warn: (m) => err(`${pad()}warning: ${masker.mask(m)}`),
    error: (m) => err(`${pad()}error: ${masker.mask(m)}`),
    debug: (m) => {
      if (opts.debug) err(`${pad()}debug: ${masker.mask(m)}`);
    },
    setSecret: (v) => masker.add(v),
    startGroup: (name) => {
      out(pad() + masker.mask(name));
      depth++;
    },
    endGroup: () => {
      depth = Math.max(0, depth - 1);
    },
  };
}

/** Records everything (masked) in memory; for tests. */
export function createMemoryReporter(): Reporter & { lines: string[]; masker: SecretMasker } {
  const lines: string[] = [];
  const r = createConsoleReporter({
    debug: true,
    write: (l) => lines.push(l),
    writeErr: (l) => lines.push(l),
  });
  return Object.assign(r, { lines });
}

export const nullReporter: Reporter = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
  setSecret: () => undefined,
};
