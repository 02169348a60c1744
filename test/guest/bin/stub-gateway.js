// Stand-in for a listener verify inspects (the real OpenClaw gateway needs Node 24 and 650 MB;
// the booted-container system test runs the real one). Usage: node stub-gateway.js HOST PORT ready|notready|tcp
'use strict';
const [host, port, mode] = process.argv.slice(2);
const net = require('node:net');
const http = require('node:http');
const server =
  mode === 'tcp'
    ? net.createServer((s) => s.end())
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
