/**
 * Terminal output for the CLI: progress lines with elapsed time (a spinner on a TTY, plain lines
 * when piped or under CI), secrets masked, and --json mode where only the final document goes to stdout.
 */
import { createConsoleReporter, type Reporter } from '@openclawps/config';

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  unhealthy: 3,
  interrupted: 130,
} as const;

export interface CliReporter extends Reporter {
  /** Marks the start of a long step; the next step or done() prints its elapsed time. */
  step(title: string): void;
  done(): void;
}

export function createCliReporter(opts: { json: boolean; debug?: boolean }): CliReporter {
  // In --json mode every human line goes to stderr so stdout stays one JSON document.
  const write = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
  const base = createConsoleReporter({ debug: opts.debug, write });
  const tty = Boolean(process.stderr.isTTY) && !process.env.CI && !opts.json;
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let current: { title: string; started: number; timer?: NodeJS.Timeout } | undefined;

  const finish = () => {
    if (!current) return;
    if (current.timer) clearInterval(current.timer);
    const secs = ((Date.now() - current.started) / 1000).toFixed(1);
    if (tty) process.stderr.write('\r\x1b[K');
    write(`✓ ${base.masker.mask(current.title)} (${secs} s)`);
    current = undefined;
  };

  return {
    ...base,
    step(title: string) {
      finish();
      current = { title, started: Date.now() };
      if (tty) {
        let i = 0;
        current.timer = setInterval(() => {
          const c = current;
          if (!c) return;
          const secs = ((Date.now() - c.started) / 1000).toFixed(0);
          process.stderr.write(
            `\r\x1b[K${frames[i++ % frames.length]} ${base.masker.mask(c.title)} ${secs} s`,
          );
        }, 100);
        current.timer.unref();
      } else {
        write(`… ${base.masker.mask(title)}`);
      }
    },
    done: finish,
  };
}

/** Prints the command's result: JSON on stdout in --json mode, else the human lines. */
export function printResult(json: boolean, value: unknown, human: () => string[]): void {
  if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else for (const line of human()) process.stdout.write(`${line}\n`);
}
