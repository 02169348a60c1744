// Stand-in for a listener verify inspects (the real OpenClaw gateway needs Node 24 and 650 MB;
// the booted-container system test runs the real one). Usage: node stub-gateway.js HOST PORT MODE
// MODE: ready|notready (HTTP /readyz), tcp (accepts and closes), rfb-auth|rfb-none (an RFB 3.8
// server offering VNC authentication, or security type None, as x11vnc without -passwdfile)
'use strict';
const [host, port, mode] = process.argv.slice(2);
const net = require('node:net');
const http = require('node:http');
const rfb = (types) =>
  net.createServer((s) => {
    s.write('RFB 003.008\n');
    s.once('data', () => s.write(Buffer.from([types.length, ...types])));
    s.on('error', () => undefined);
  });
const server =
  mode === 'tcp'
    ? net.createServer((s) => s.end())
    : mode === 'rfb-auth'
      ? rfb([2])
      : mode === 'rfb-none'
        ? rfb([1])
        : http.createServer((req, res) => {
            const ok = mode === 'ready';
            if (req.url === '/readyz') {
              res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
              res.end(
                JSON.stringify(
                  ok ? { ready: true, failing: [] } : { ready: false, failing: ['channel:telegram'] },
                ),
              );
            } else {
              res.writeHead(404);
              res.end();
            }
          });
server.listen(Number(port), host, () => process.stdout.write('listening\n'));
