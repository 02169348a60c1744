/**
 * The verify report: what `/opt/claw/verify` prints (one JSON document), parsed strictly, summarized,
 * rendered as a job-summary table and as one annotation per failed group.
 */

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';
export const CHECK_STATUSES: readonly CheckStatus[] = ['pass', 'fail', 'warn', 'skip'];

export interface VerifyCheck {
  /** Dotted id, unique in the report: `disk.mounted`. */
  id: string;
  /** Group the check belongs to: `disk`, `gateway`, … */
  group: string;
  title: string;
  status: CheckStatus;
  /** What was seen (or, for `skip`, why it was skipped). */
  detail: string;
  /** A failing required check makes the claw unhealthy; a failing optional one is reported only. */
  required: boolean;
}

export interface VerifySummaryCounts {
  pass: number;
  fail: number;
  warn: number;
  skip: number;
}

export interface VerifyReport {
  version: 1;
  claw: string;
  healthy: boolean;
  checks: VerifyCheck[];
  summary: VerifySummaryCounts;
  /** Any further top-level fields the guest adds (image version, timestamps), kept as they came. */
  [extra: string]: unknown;
}

export class VerifyReportError extends Error {
  override readonly name = 'VerifyReportError';
  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(message);
  }
}

function preview(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 120 ? `${oneLine.slice(0, 117)}...` : oneLine;
}

/**
 * Parses verify's stdout. Strict: the whole output (surrounding whitespace aside) must be one JSON
 * object following the contract; every problem is listed in the one error thrown.
 */
export function parseVerifyReport(stdout: string): VerifyReport {
  const text = stdout.replace(/^\uFEFF/, '').trim();
  if (!text)
    throw new VerifyReportError('verify printed nothing (expected one JSON document on stdout)', [
      'empty output',
    ]);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new VerifyReportError(
      `verify output is not JSON (${(e as Error).message}); it starts with: "${preview(text)}"`,
      ['not JSON'],
    );
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new VerifyReportError(`verify output is JSON but not an object: "${preview(text)}"`, [
      'not an object',
    ]);
  }
  const d = doc as Record<string, unknown>;
  const problems: string[] = [];
  if (d.version !== 1) problems.push(`version: expected 1, got ${JSON.stringify(d.version)}`);
  // "" is allowed: verify still reports (e.g. binaries.jq failing) when it cannot read claw.json.
  if (typeof d.claw !== 'string')
    problems.push(`claw: expected the claw name (a string), got ${JSON.stringify(d.claw)}`);
  if (typeof d.healthy !== 'boolean')
    problems.push(`healthy: expected true or false, got ${JSON.stringify(d.healthy)}`);
  const checks: VerifyCheck[] = [];
  if (!Array.isArray(d.checks)) problems.push('checks: expected an array of checks');
  else if (d.checks.length === 0) problems.push('checks: empty (verify ran no checks)');
  else {
    const seen = new Set<string>();
    d.checks.forEach((c: unknown, i: number) => {
      const at = `checks[${i}]`;
      if (typeof c !== 'object' || c === null || Array.isArray(c))
        return void problems.push(`${at}: expected an object`);
      const r = c as Record<string, unknown>;
      const before = problems.length;
      const name = typeof r.id === 'string' && r.id ? `${at} (${r.id})` : at;
      if (typeof r.id !== 'string' || !r.id.trim()) problems.push(`${at}.id: expected a non-empty string`);
      else if (seen.has(r.id)) problems.push(`${name}.id: duplicate id`);
      else seen.add(r.id);
      if (typeof r.group !== 'string' || !r.group.trim())
        problems.push(`${name}.group: expected a non-empty string`);
      if (typeof r.title !== 'string') problems.push(`${name}.title: expected a string`);
      if (typeof r.status !== 'string' || !CHECK_STATUSES.includes(r.status as CheckStatus))
        problems.push(
          `${name}.status: expected one of ${CHECK_STATUSES.join('|')}, got ${JSON.stringify(r.status)}`,
        );
      if (r.detail !== undefined && r.detail !== null && typeof r.detail !== 'string')
        problems.push(`${name}.detail: expected a string`);
      if (typeof r.required !== 'boolean')
        problems.push(`${name}.required: expected true or false, got ${JSON.stringify(r.required)}`);
      if (problems.length === before) {
        checks.push({
          id: r.id as string,
          group: r.group as string,
          title: r.title as string,
          status: r.status as CheckStatus,
          detail: typeof r.detail === 'string' ? r.detail : '',
          required: r.required as boolean,
        });
      }
    });
  }
  const counts: VerifySummaryCounts = { pass: 0, fail: 0, warn: 0, skip: 0 };
  for (const c of checks) counts[c.status]++;
  if (typeof d.summary !== 'object' || d.summary === null || Array.isArray(d.summary)) {
    problems.push('summary: expected {"pass":n,"fail":n,"warn":n,"skip":n}');
  } else if (Array.isArray(d.checks) && checks.length === d.checks.length) {
    const s = d.summary as Record<string, unknown>;
    for (const k of CHECK_STATUSES) {
      if (s[k] !== counts[k])
        problems.push(`summary.${k}: says ${JSON.stringify(s[k])} but the checks have ${counts[k]}`);
    }
  }
  if (!problems.length) {
    const requiredFail = checks.some((c) => c.required && c.status === 'fail');
    if (d.healthy !== !requiredFail) {
      problems.push(
        `healthy: says ${String(d.healthy)} but ${requiredFail ? 'a required check fails' : 'no required check fails'} (healthy means no required check fails)`,
      );
    }
  }
  if (problems.length) {
    throw new VerifyReportError(
      `verify output does not follow the report contract:\n  - ${problems.join('\n  - ')}`,
      problems,
    );
  }
  return { ...d, version: 1, claw: d.claw as string, healthy: d.healthy as boolean, checks, summary: counts };
}

export interface VerifyGroupSummary {
  group: string;
  /** Worst status in the group: fail > warn > pass > skip. */
  status: CheckStatus;
  /** A required check in this group fails. */
  requiredFailed: boolean;
  counts: VerifySummaryCounts;
  checks: VerifyCheck[];
}

export interface VerifySummary {
  claw: string;
  healthy: boolean;
  /** Ids of every failing check (required first). */
  failedChecks: string[];
  /** Ids of failing required checks (these make the claw unhealthy). */
  failedRequired: string[];
  warnings: string[];
  counts: VerifySummaryCounts;
  /** In first-seen order of the report. */
  groups: VerifyGroupSummary[];
}

const RANK: Record<CheckStatus, number> = { fail: 3, warn: 2, pass: 1, skip: 0 };

export function summarizeVerify(report: VerifyReport): VerifySummary {
  const groups = new Map<string, VerifyGroupSummary>();
  const counts: VerifySummaryCounts = { pass: 0, fail: 0, warn: 0, skip: 0 };
  for (const c of report.checks) {
    counts[c.status]++;
    let g = groups.get(c.group);
    if (!g) {
      g = {
        group: c.group,
        status: 'skip',
        requiredFailed: false,
        counts: { pass: 0, fail: 0, warn: 0, skip: 0 },
        checks: [],
      };
      groups.set(c.group, g);
    }
    g.checks.push(c);
    g.counts[c.status]++;
    if (RANK[c.status] > RANK[g.status]) g.status = c.status;
    if (c.status === 'fail' && c.required) g.requiredFailed = true;
  }
  const failed = report.checks.filter((c) => c.status === 'fail');
  const failedRequired = failed.filter((c) => c.required).map((c) => c.id);
  return {
    claw: report.claw,
    healthy: failedRequired.length === 0,
    failedChecks: [...failedRequired, ...failed.filter((c) => !c.required).map((c) => c.id)],
    failedRequired,
    warnings: report.checks.filter((c) => c.status === 'warn').map((c) => c.id),
    counts,
    groups: [...groups.values()],
  };
}

/** Markdown-table-safe text: no pipes, newlines or HTML. */
function cell(text: string, max = 300): string {
  let t = text.replace(/\r?\n/g, ' ').replace(/\s+/g, ' ').trim();
  if (t.length > max) t = `${t.slice(0, max - 3)}...`;
  return t
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/`/g, "'");
}

export interface RenderOptions {
  /** Values to mask as `***` wherever they appear (defence in depth: the guest should never print secrets). */
  secrets?: string[];
  /** Heading level for the title (default 3: `###`). */
  headingLevel?: number;
}

function masker(secrets: string[] | undefined): (s: string) => string {
  const list = (secrets ?? []).filter((s) => s && s.length >= 4).sort((a, b) => b.length - a.length);
  return (s) => list.reduce((acc, secret) => acc.split(secret).join('***'), s);
}

const LABEL: Record<CheckStatus, string> = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP' };

/** The job-summary section: verdict, per-group overview, then every check grouped by group. */
export function renderVerifyMarkdown(report: VerifyReport, options: RenderOptions = {}): string {
  const mask = masker(options.secrets);
  const s = summarizeVerify(report);
  const h = '#'.repeat(Math.min(6, Math.max(1, options.headingLevel ?? 3)));
  const lines: string[] = [];
  const name = report.claw ? `\`${cell(report.claw, 64)}\`` : '(claw name unknown)';
  lines.push(`${h} Verify ${name}: ${s.healthy ? 'HEALTHY' : 'UNHEALTHY'}`);
  lines.push('');
  lines.push(
    `${s.counts.pass} passed, ${s.counts.fail} failed, ${s.counts.warn} warnings, ${s.counts.skip} skipped.`,
  );
  if (s.failedRequired.length)
    lines.push(`Required checks failing: ${s.failedRequired.map((id) => `\`${cell(id, 80)}\``).join(', ')}.`);
  lines.push('');
  lines.push('| Group | Status | Pass | Fail | Warn | Skip |');
  lines.push('|---|---|---:|---:|---:|---:|');
  for (const g of s.groups) {
    lines.push(
      `| ${cell(g.group, 64)} | ${LABEL[g.status]} | ${g.counts.pass} | ${g.counts.fail} | ${g.counts.warn} | ${g.counts.skip} |`,
    );
  }
  lines.push('');
  lines.push('| Group | Check | Status | Required | Detail |');
  lines.push('|---|---|---|---|---|');
  for (const g of s.groups) {
    for (const c of g.checks) {
      lines.push(
        `| ${cell(g.group, 64)} | ${cell(mask(c.title || c.id), 120)} (\`${cell(c.id, 80)}\`) | ${LABEL[c.status]} | ${c.required ? 'yes' : 'no'} | ${cell(mask(c.detail))} |`,
      );
    }
  }
  lines.push('');
  return lines.join('\n');
}

export interface VerifyAnnotation {
  /** `error` when a required check in the group fails, `warning` when only optional ones do. */
  level: 'error' | 'warning';
  title: string;
  message: string;
}

/** One annotation per group with a failing check. */
export function verifyAnnotations(
  report: VerifyReport,
  options: Pick<RenderOptions, 'secrets'> = {},
): VerifyAnnotation[] {
  const mask = masker(options.secrets);
  const s = summarizeVerify(report);
  return s.groups
    .filter((g) => g.counts.fail > 0)
    .map((g) => {
      const failing = g.checks.filter((c) => c.status === 'fail');
      return {
        level: g.requiredFailed ? ('error' as const) : ('warning' as const),
        title: `verify ${report.claw || '(unknown claw)'}: ${g.group} failed (${failing.length} of ${g.checks.length} checks)`,
        message: mask(
          failing
            .map(
              (c) =>
                `${c.id}${c.required ? '' : ' (optional)'}: ${c.title}${c.detail ? ` - ${c.detail}` : ''}`,
            )
            .join('\n'),
        ),
      };
    });
}
