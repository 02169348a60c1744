/**
 * A control-plane-only guest for P3 (100 claws): each VM's public IP gets a loopback address with an
 * ssh2 server (one port for all) that answers claw-boot's status and `/opt/claw/verify` with a healthy
 * report, but only while the VM behind the address exists and runs. P3 measures ARM and Compute
 * throttling; the real guest's boot and verify costs are measured by P1 and P2 (sandbox guest).
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { Server, type Connection } from 'ssh2';
import type { ArmResource, GuestBackend } from '@openclawps/emulator';

type GuestWorld = Parameters<NonNullable<GuestBackend['attach']>>[0];
import { generateEd25519KeyPair } from '@openclawps/guest';

export class ControlPlaneGuest implements GuestBackend {
  private world?: GuestWorld;
  private port = 0;
  private readonly listeners = new Map<string, net.Server>();
  private readonly conns = new Set<Connection>();
  private readonly hostKey = generateEd25519KeyPair({ comment: 'bench-host' }).privateKey;
  private next = 1;
  private server: Server;

  constructor() {
    this.server = new Server({ hostKeys: [this.hostKey] }, (c) => this.onConnection(c));
  }

  get sshPort(): number {
    return this.port;
  }

  async attach(world: GuestWorld): Promise<void> {
    this.world = world;
    // one port for every address: take a free one on the first address
    await this.listen('127.0.2.254');
    for (const pip of world.list('Microsoft.Network/publicIPAddresses')) {
      const ip = pip.body.properties?.ipAddress as string | undefined;
      if (ip?.startsWith('127.0.2.')) {
        this.next = Math.max(this.next, Number(ip.split('.')[3]) + 1);
        await this.listen(ip);
      }
    }
  }

  allocatePublicIp(): string {
    const n = this.next++;
    const ip = `127.0.${2 + Math.floor(n / 250)}.${(n % 250) + 1}`;
    void this.listen(ip);
    return ip;
  }

  private listen(address: string): Promise<void> {
    if (this.listeners.has(address)) return Promise.resolve();
    const srv = net.createServer((socket) => {
      if (!this.vmRunning(address)) {
        socket.destroy();
        return;
      }
      this.server.injectSocket(socket);
    });
    this.listeners.set(address, srv);
    return new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(this.port, address, () => {
        if (!this.port) this.port = (srv.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  private clawOf(address: string): { claw: string; vm?: ArmResource } | undefined {
    const pip = this.world
      ?.list('Microsoft.Network/publicIPAddresses')
      .find((p: ArmResource) => p.body.properties?.ipAddress === address);
    if (!pip) return undefined;
    const claw = String(pip.body.name ?? pip.id.split('/').pop()).replace(/-pip$/, '');
    const rg = pip.id.split('/').slice(0, 5).join('/').toLowerCase();
    const vm = this.world
      ?.list('Microsoft.Compute/virtualMachines')
      .find(
        (v: ArmResource) =>
          v.id.toLowerCase() === `${rg}/providers/microsoft.compute/virtualmachines/${claw.toLowerCase()}`,
      );
    return { claw, vm };
  }

  private vmRunning(address: string): boolean {
    const vm = this.clawOf(address)?.vm;
    return (
      !!vm &&
      (vm.meta?.power ?? 'running') === 'running' &&
      vm.body.properties?.provisioningState === 'Succeeded'
    );
  }

  private onConnection(c: Connection): void {
    this.conns.add(c);
    c.on('close', () => this.conns.delete(c));
    c.on('error', () => undefined);
    const address = (c as unknown as { _sock?: net.Socket })._sock?.localAddress ?? '';
    c.on('authentication', (ctx) => ctx.accept());
    c.on('ready', () => {
      c.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acceptExec, _reject, info) => {
          const ch = acceptExec();
          const claw = this.clawOf(address)?.claw ?? 'unknown';
          if (info.command.includes('last-boot')) {
            ch.write('unit=unknown result=ok\n');
            ch.exit(0);
          } else if (info.command.includes('/opt/claw/verify')) {
            ch.write(`${JSON.stringify(healthyReport(claw))}\n`);
            ch.exit(0);
          } else {
            ch.exit(0);
          }
          ch.end();
        });
      });
    });
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.end();
    await Promise.all([...this.listeners.values()].map((l) => new Promise<void>((r) => l.close(() => r()))));
  }
}

function healthyReport(claw: string) {
  return {
    version: 1,
    claw,
    healthy: true,
    checks: [
      {
        id: 'boot.last-run',
        group: 'boot',
        title: 'claw-boot last run succeeded (control-plane guest)',
        status: 'pass',
        detail: `nonce ${randomBytes(4).toString('hex')}`,
        required: true,
      },
    ],
    summary: { pass: 1, fail: 0, warn: 0, skip: 0 },
  };
}
