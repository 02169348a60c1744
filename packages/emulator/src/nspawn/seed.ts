/**
 * The NoCloud seed directory: what Azure hands a VM (instance id, host name, admin user + SSH key
 * from osProfile, custom data) expressed for cloud-init's NoCloud datasource. An ISO seed cannot be
 * used here (no ISO9660 in the kernel); the seed directory inside the root does the same job.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface NoCloudSeed {
  instanceId: string;
  hostname?: string;
  /** Custom data (any cloud-init user-data format; usually `#cloud-config`). Empty: an empty cloud-config. */
  userData?: string;
  /** The admin account Azure creates from osProfile.adminUsername (cloud-init's default user). */
  adminUser?: string;
  sshAuthorizedKeys?: string[];
  /** Extra meta-data keys. */
  metaData?: Record<string, unknown>;
}

export const SEED_DIR = 'var/lib/cloud/seed/nocloud';

/** Writes meta-data and user-data into `root`, and the admin user as cloud-init's default_user. */
export function writeNoCloudSeed(root: string, seed: NoCloudSeed): void {
  const dir = join(root, SEED_DIR);
  mkdirSync(dir, { recursive: true });
  const meta: Record<string, unknown> = { 'instance-id': seed.instanceId, ...seed.metaData };
  if (seed.hostname) meta['local-hostname'] = seed.hostname;
  if (seed.sshAuthorizedKeys?.length) meta['public-keys'] = seed.sshAuthorizedKeys;
  writeFileSync(join(dir, 'meta-data'), stringify(meta));
  writeFileSync(join(dir, 'user-data'), seed.userData ?? '#cloud-config\n{}\n', { mode: 0o600 });
  if (seed.adminUser) {
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(seed.adminUser))
      throw new Error(`adminUser ${JSON.stringify(seed.adminUser)} is not a valid Linux user name`);
    const cfg = {
      system_info: {
        default_user: {
          name: seed.adminUser,
          lock_passwd: true,
          gecos: 'Azure admin user (OpenClawps nspawn guest)',
          groups: ['adm', 'sudo'],
          sudo: ['ALL=(ALL) NOPASSWD:ALL'],
          shell: '/bin/bash',
        },
      },
    };
    mkdirSync(join(root, 'etc/cloud/cloud.cfg.d'), { recursive: true });
    writeFileSync(
      join(root, 'etc/cloud/cloud.cfg.d/91-openclawps-admin.cfg'),
      `# written by the OpenClawps nspawn backend (stands in for Azure's osProfile)\n${stringify(cfg)}`,
    );
  }
}
