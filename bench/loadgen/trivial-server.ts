/**
 * The simplest keep-alive HTTP server node:http can be: the target for measuring the generator's own ceiling.
 * Listens on 127.0.0.1 and port argv[2] (0 = any), prints `listening <port>` on stdout once ready.
 */
import http from 'node:http';

const body = Buffer.from('{"ok":true}');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const addr = server.address();
  console.log(`listening ${typeof addr === 'object' && addr ? addr.port : ''}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
