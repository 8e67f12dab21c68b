// A loopback webhook receiver for bench/webhooks.sh: answers 200, or 503 for a FAIL_RATE share of requests, and prints one
// line per request: "<webhook-id> <receive time, epoch ms> <status>".
import http from 'node:http';

const failRate = Number(process.env.FAIL_RATE || '0');
const out = [];
const flush = () => { if (out.length) { process.stdout.write(out.join('')); out.length = 0; } };
setInterval(flush, 100).unref();
const server = http.createServer((req, res) => {
  const at = performance.timeOrigin + performance.now();
  req.on('data', () => {});
  req.on('end', () => {
    const status = Math.random() < failRate ? 503 : 200;
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(status === 200 ? 'ok' : 'try later');
    out.push(`${req.headers['webhook-id']} ${at.toFixed(3)} ${status}\n`);
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log(`port ${server.address().port}`));
process.on('SIGTERM', () => { flush(); process.exit(0); });
