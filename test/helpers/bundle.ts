/** Runs a committed dist/<name>/index.js bundle the way the Actions runner does. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const repoRoot = join(__dirname, '../..');

export interface BundleRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Parsed GITHUB_OUTPUT (name -> value). */
  outputs: Record<string, string>;
  /** Raw GITHUB_OUTPUT file. */
  outputFile: string;
  summary: string;
}

/** Parses the GITHUB_OUTPUT file format (name=value lines and name<<DELIM heredocs). */
export function parseGithubOutput(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) body.push(lines[i]);
      out[heredoc[1]] = body.join('\n');
    } else if (line.includes('=')) {
      out[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return out;
}

export function runBundle(
  name: string,
  inputs: Record<string, string>,
  options: {
    env?: Record<string, string>;
    timeoutMs?: number;
    args?: string[];
    onStdout?: (chunk: string) => void;
  } = {},
): Promise<BundleRun> {
  const dir = mkdtempSync(join(tmpdir(), `openclawps-${name}-`));
  const outputPath = join(dir, 'output');
  const summaryPath = join(dir, 'summary.md');
  writeFileSync(outputPath, '');
  writeFileSync(summaryPath, '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    GITHUB_OUTPUT: outputPath,
    GITHUB_STEP_SUMMARY: summaryPath,
    GITHUB_ACTIONS: 'true',
    RUNNER_TEMP: dir,
    ...options.env,
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(repoRoot, 'dist', name, 'index.js'), ...(options.args ?? [])],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      options.onStdout?.(String(d));
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const outputFile = readFileSync(outputPath, 'utf8');
      resolve({
        code,
        signal,
        stdout,
        stderr,
        outputs: parseGithubOutput(outputFile),
        outputFile,
        summary: readFileSync(summaryPath, 'utf8'),
      });
    });
  });
}
