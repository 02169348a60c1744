/** verify (lifecycle): resolve the host (given, or the claw's public IP in Azure) and run the guest's checks. */
import { getPublicIp, getVm, findVmPublicIp, names } from '@openclawps/azure';
import { isClawName, isLinuxUserName, isResourceGroupName } from '@openclawps/config';
import { verifyClaw } from '@openclawps/guest';
import { azureContextFor } from './shared';
import type { VerifyOptions, VerifyResult } from './types';

/** Every problem with verify's inputs, before any connection or Azure call. */
export function verifyProblems(o: VerifyOptions): string[] {
  const problems: string[] = [];
  // a DNS name, an IPv4 address or a bracket-less IPv6 address; never shell or URL syntax
  if (
    o.host !== undefined &&
    !/^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^[0-9A-Fa-f:.]{2,45}$/.test(
      o.host,
    )
  )
    problems.push(`host: ${JSON.stringify(o.host)} is not a host name or IP address`);
  if (o.clawName !== undefined && !isClawName(o.clawName))
    problems.push(
      `claw-name: ${JSON.stringify(o.clawName)} is not a claw name (lowercase letters, digits, hyphens)`,
    );
  if (o.resourceGroup !== undefined && !isResourceGroupName(o.resourceGroup))
    problems.push(`resource-group: ${JSON.stringify(o.resourceGroup)} is not a resource group name`);
  if (!isLinuxUserName(o.username))
    problems.push(`username: ${JSON.stringify(o.username)} is not a Linux user name`);
  return problems;
}

export async function resolveVerifyHost(o: VerifyOptions): Promise<string> {
  const problems = verifyProblems(o);
  if (problems.length)
    throw Object.assign(new Error(`verify: invalid inputs\n${problems.map((p) => `  - ${p}`).join('\n')}`), {
      name: 'InputError',
      problems,
    });
  if (o.host) return o.host;
  if (!o.clawName || !o.azure)
    throw new Error(
      'verify: give host, or claw-name with the Azure inputs (subscription-id, auth) to look it up',
    );
  const rg = o.resourceGroup ?? 'rg-linux-desktop';
  const ctx = azureContextFor(o.azure);
  const vm = await getVm(ctx, rg, o.clawName, { signal: o.signal });
  const viaVm = vm ? await findVmPublicIp(ctx, vm, rg, { signal: o.signal }) : undefined;
  const address =
    viaVm?.address ??
    (await getPublicIp(ctx, rg, names.publicIp(o.clawName), { signal: o.signal }))?.ipAddress;
  if (!address)
    throw new Error(
      `verify: claw '${o.clawName}' has no public IP in resource group ${rg}${vm ? '' : ' (and no VM)'}; is it stamped?`,
    );
  o.reporter.info(`verify: ${o.clawName} is at ${address}`);
  return address;
}

export async function verify(
  o: VerifyOptions,
): Promise<VerifyResult & { hostKeyFingerprint: string; host: string }> {
  const secrets = [o.password, o.privateKey].filter((s): s is string => !!s);
  for (const s of secrets) o.reporter.setSecret(s);
  const host = await resolveVerifyHost(o);
  const r = await verifyClaw({
    host,
    port: o.port,
    username: o.username,
    privateKey: o.privateKey,
    password: o.password,
    hostKeySha256: o.hostKeyFingerprint,
    timeoutMs: o.timeoutMs,
    reporter: {
      info: (m) => o.reporter.info(m),
      warn: (m) => o.reporter.warn(m),
      setSecret: (v) => o.reporter.setSecret(v),
    },
    signal: o.signal,
    secrets,
  });
  return {
    healthy: r.summary.healthy,
    failedChecks: r.summary.failedChecks,
    report: {
      version: r.report.version,
      claw: r.report.claw,
      healthy: r.report.healthy,
      checks: r.report.checks.map((c) => ({
        id: c.id,
        group: c.group,
        title: c.title,
        status: c.status,
        detail: c.detail,
        required: c.required,
      })),
    },
    markdown: r.markdown,
    annotations: r.annotations.map((a) => ({ title: a.title, message: a.message })),
    hostKeyFingerprint: r.hostKeyFingerprint,
    host,
  };
}
