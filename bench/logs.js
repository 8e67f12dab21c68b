'use strict';
// The Node half of bench/logs.sh (run by it, not by hand): per transport, one deployment whose build writes LINES lines
// as fast as it can, each "L <n> <epoch ms when written>", followed by SUBSCRIBERS clients spread over CLIENT_PROCS
// processes. Every client checks that seqs arrive contiguous and once, and that build lines come 1..LINES in order, and
// records write -> receive latency. The parent polls the API for the last build line to be stored (ingest rate) and
// reads the server's peak RSS (VmHWM, reset through /proc/PID/clear_refs before each run).
//
// env: BASE TOKEN PROJECT WORK SERVER_PID LINES SUBSCRIBERS CLIENT_PROCS TRANSPORTS WARMUP_LINES RUN_TIMEOUT
const { fork } = require('child_process');
const lean = require('./logs-lean');
const MESSAGE = Buffer.from('"message":"');
const { readInt, readDecimal } = lean;
const TIMESTAMP = Buffer.from('"timestamp":"');
/** Milliseconds since the epoch of "yyyy-MM-ddTHH:mm:ss.fffZ" at buffer[p..]. */
function isoMs(buffer, p) {
  const d = (i, n) => { let v = 0; for (let k = 0; k < n; k++) v = v * 10 + buffer[p + i + k] - 48; return v; };
  return Date.UTC(d(0, 4), d(5, 2) - 1, d(8, 2), d(11, 2), d(14, 2), d(17, 2), d(20, 3));
}
const TRACE = !!process.env.TRACE_LATENCY; // prints the first subscriber's latency every 20,000 lines
const fs = require('fs');
const http = require('http');

const now = () => performance.timeOrigin + performance.now();
const BUCKETS = 22001; // 0.1 ms steps below 1 s, 10 ms steps up to 121 s, then one overflow bucket
const bucketOf = (ms) => (ms < 0 ? 0 : ms < 1000 ? Math.floor(ms * 10) : ms < 121000 ? 10000 + Math.floor((ms - 1000) / 10) : BUCKETS - 1);
const bucketMs = (b) => (b < 10000 ? (b + 1) / 10 : b < BUCKETS - 1 ? 1000 + (b - 9999) * 10 : Infinity);

// ---- a process holding some of the subscribers ------------------------------------------------------------------

function worker() {
  process.once('message', (cfg) => {
    const subs = [];
    const hist = new Uint32Array(BUCKETS);
    const ingestHist = new Uint32Array(BUCKETS);
    const deliveryHist = new Uint32Array(BUCKETS);
    let reportedFirst = false;
    const finish = () => {
      if (!subs.every((s) => s.done)) return;
      clearTimeout(timer);
      const cpu = process.cpuUsage();
      process.send({ kind: 'result', subs: subs.map((s) => s.summary()), hist: Array.from(hist), ingestHist: Array.from(ingestHist), deliveryHist: Array.from(deliveryHist), cpu: (cpu.user + cpu.system) / 1e6 }, () => process.exit(0));
    };
    const timer = setTimeout(() => {
      for (const s of subs) if (!s.done) { s.error(`timed out after ${cfg.timeoutMs} ms`); s.done = true; }
      finish();
    }, cfg.timeoutMs);

    class Sub {
      constructor(i) {
        Object.assign(this, { i, lastSeq: 0, next: 1, errors: 0, firstErrors: [], gaps: 0, live: false, done: false, end: null, max: 0 });
        this.lat = new Float64Array(cfg.lines);
        this.n = 0;
      }
      error(text) { this.errors++; if (this.firstErrors.length < 5) this.firstErrors.push(text); }
      onLog(seq, message, t) {
        if (this.lastSeq !== 0 && seq !== this.lastSeq + 1) this.error(`seq ${seq} after ${this.lastSeq}`);
        if (seq > this.lastSeq) this.lastSeq = seq;
        this.markLive();
        if (message.charCodeAt(0) !== 76 || message.charCodeAt(1) !== 32) return; // "L "
        const sp = message.indexOf(' ', 2);
        this.line(+message.slice(2, sp), parseFloat(message.slice(sp + 1, message.indexOf(' ', sp + 1))), seq, t);
      }
      line(n, written, seq, t) {
        if (n !== this.next) this.error(`line ${n} where ${this.next} was due`);
        this.next = n + 1;
        const ms = t - written;
        if (this.n < this.lat.length) this.lat[this.n++] = ms;
        if (ms > this.max) this.max = ms;
        hist[bucketOf(ms)]++;
        if (TRACE && this.i === 0 && n % 20000 === 0) console.error(`  [trace] line ${n}: ${ms.toFixed(1)} ms`);
        if (n === 1 && !reportedFirst) { reportedFirst = true; process.send({ kind: 'first', seq, written }); }
        if (n === cfg.lines) process.send({ kind: 'last', written, received: t });
      }
      markLive() { if (!this.live) { this.live = true; process.send({ kind: 'live' }); } }
      onJson(text, t) {
        if (text.startsWith('{"type":"log","seq":')) {
          // Cheaper than JSON.parse at a million messages a second; the bench's own lines hold no quotes.
          const s = 20;
          const seq = +text.slice(s, text.indexOf(',', s));
          const m = text.indexOf('"message":"') + 11;
          this.onLog(seq, text.slice(m, text.indexOf('"', m)), t);
          return;
        }
        this.onOther(JSON.parse(text), t);
      }
      onOther(msg, t) {
        if (msg.type === 'log') this.onLog(msg.seq, msg.message, t);
        else if (msg.type === 'gap') this.gaps++;
        else if (msg.type === 'end') this.finish(msg.status);
      }
      // Lean clients: a message as bytes (buffer[start..end)); a log line is read in place, anything else parsed.
      onBytes(buffer, start, end, t) {
        // {"type":"log","seq":N,... (WebSocket, SSE) or ["log",{"seq":N,... (socket.io): checked byte by byte, the seq read
        // at its fixed place, then one search for the message (few native calls: each costs more than the JS around it).
        const sio = buffer[start] === 91;
        const at = start + (sio ? 1 : 8);
        if (buffer[at] === 34 && buffer[at + 1] === 108 && buffer[at + 2] === 111 && buffer[at + 3] === 103 && buffer[at + 4] === 34) {
          const s = start + (sio ? 14 : 20);
          const seq = readInt(buffer, s);
          const m = buffer[s - 1] === 58 && buffer[s - 2] === 34 ? buffer.indexOf(MESSAGE, readInt.end) : -1;
          if (m < 0 || m >= end) { this.error(`unreadable log message ${buffer.toString('utf8', start, end)}`); return; }
          this.onLogBytes(seq, buffer, m + MESSAGE.length, t);
          return;
        }
        const text = buffer.toString('utf8', start, end);
        if (text.startsWith('[')) { // socket.io: ["status", {...}] / ["end", {...}]
          const [name, payload] = JSON.parse(text);
          if (name === 'end') this.finish(payload && payload.status);
          else if (name === 'gap') this.gaps++;
          return;
        }
        this.onOther(JSON.parse(text), t);
      }
      onLogBytes(seq, buffer, m, t) {
        if (this.lastSeq !== 0 && seq !== this.lastSeq + 1) this.error(`seq ${seq} after ${this.lastSeq}`);
        if (seq > this.lastSeq) this.lastSeq = seq;
        this.markLive();
        if (buffer[m] !== 76 || buffer[m + 1] !== 32) return; // "L "
        const n = readInt(buffer, m + 2);
        const written = readDecimal(buffer, readInt.end + 1);
        this.line(n, written, seq, t);
        // Every 50th line: split the latency at the server's own timestamp (when it took the line in: ms precision)
        // into write -> taken in (the pipe and the reader) and taken in -> received (fan-out, sockets, this client).
        if (n % 50 === 0) {
          const at = buffer.lastIndexOf(TIMESTAMP, m);
          if (at >= 0) {
            const appended = isoMs(buffer, at + TIMESTAMP.length);
            ingestHist[bucketOf(appended - written)]++;
            deliveryHist[bucketOf(t - appended)]++;
          }
        }
      }
      finish(status) {
        if (this.done) return;
        this.end = status;
        this.done = true;
        finish();
      }
      summary() {
        const lat = this.lat.subarray(0, this.n).sort();
        const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN);
        if (this.next !== cfg.lines + 1) this.error(`received build lines up to ${this.next - 1} of ${cfg.lines}`);
        if (this.end !== 'ready') this.error(`ended with ${this.end}`);
        return { lines: this.n, errors: this.errors, firstErrors: this.firstErrors, gaps: this.gaps, p50: q(0.5), p99: q(0.99), max: this.max };
      }
    }

    const auth = { Authorization: `Bearer ${cfg.token}` };
    if (cfg.client === 'lean') {
      // Each run starts fresh client processes: let V8 optimize the message path on made-up messages first (a
      // throwaway subscriber, nothing recorded), so the first real lines do not measure the client's own JIT.
      const warm = new Sub(-1);
      warm.line = () => {};
      warm.markLive = () => {};
      const frames = [];
      for (let n = 1; n <= 30000; n++) {
        const text = cfg.transport === 'socketio'
          ? `["log",{"seq":${n},"deployment_id":"warm","timestamp":"2026-01-01T00:00:00.000Z","level":"info","stream":"build","message":"L ${n} 1795344951112.224 pad"}]`
          : `{"type":"log","seq":${n},"deployment_id":"warm","timestamp":"2026-01-01T00:00:00.000Z","level":"info","stream":"build","message":"L ${n} 1795344951112.224 pad"}`;
        frames.push(Buffer.from(text));
      }
      for (const f of frames) warm.onBytes(f, 0, f.length, 0);
      lean.warmFrames(frames);
    }
    for (let i = 0; i < cfg.count; i++) {
      const sub = new Sub(i);
      subs.push(sub);
      const url = (path) => `${cfg.base}${path}`;
      if (cfg.client === 'lean') {
        const onClose = (reason) => { if (!sub.done && reason !== 'closed') sub.error(reason); sub.finish(sub.end ?? `closed early (${reason})`); };
        const onBytes = (buffer, start, end, t) => sub.onBytes(buffer, start, end, t);
        if (cfg.transport === 'ws') lean.webSocket(url(`/api/v1/logs/${cfg.id}/stream`).replace(/^http/, 'ws'), auth, onBytes, onClose);
        else if (cfg.transport === 'sse') lean.serverSentEvents(url(`/api/v1/logs/${cfg.id}/events`), auth, onBytes, onClose);
        else {
          const socket = lean.socketIo(cfg.base, cfg.token, { deployment_id: cfg.id }, (ack) => {
            if (ack && (ack.error || ack.ok === false)) { sub.error(`subscribe: ${JSON.stringify(ack)}`); sub.finish('error'); return; }
            sub.markLive();
          }, (buffer, start, end, t) => {
            sub.onBytes(buffer, start, end, t);
            if (sub.done) socket.close();
          }, onClose);
        }
      } else if (cfg.transport === 'ws') {
        const WebSocket = require('ws');
        const ws = new WebSocket(`${cfg.base.replace(/^http/, 'ws')}/api/v1/logs/${cfg.id}/stream`, { headers: auth, perMessageDeflate: false });
        ws.on('message', (data) => sub.onJson(data.toString(), now()));
        ws.on('close', () => sub.finish(sub.end ?? 'closed early'));
        ws.on('error', (e) => { sub.error(`websocket: ${e.message}`); sub.finish('error'); });
      } else if (cfg.transport === 'sse') {
        const req = http.get(`${cfg.base}/api/v1/logs/${cfg.id}/events`, { headers: { ...auth, Accept: 'text/event-stream' } }, (res) => {
          if (res.statusCode !== 200) { sub.error(`SSE status ${res.statusCode}`); sub.finish('error'); res.resume(); return; }
          res.setEncoding('utf8');
          let buffer = '';
          res.on('data', (chunk) => {
            const t = now();
            buffer += chunk;
            let start = 0;
            for (let end; (end = buffer.indexOf('\n\n', start)) >= 0; start = end + 2) {
              const d = buffer.indexOf('data: ', start);
              if (d >= 0 && d < end) sub.onJson(buffer.slice(d + 6, buffer.indexOf('\n', d)), t);
            }
            buffer = buffer.slice(start);
          });
          res.on('end', () => sub.finish(sub.end ?? 'closed early'));
        });
        req.on('error', (e) => { sub.error(`SSE: ${e.message}`); sub.finish('error'); });
      } else {
        const { io } = require('socket.io-client');
        const socket = io(cfg.base, { auth: { token: cfg.token }, transports: ['websocket'], reconnection: false });
        socket.on('connect', () => socket.emit('subscribe', { deployment_id: cfg.id }, (ack) => {
          if (ack && (ack.error || ack.ok === false)) { sub.error(`subscribe: ${JSON.stringify(ack)}`); sub.finish('error'); return; }
          sub.markLive(); // acknowledged: following, whether or not a backlog comes first
        }));
        socket.on('log', (line) => sub.onLog(line.seq, line.message, now()));
        socket.on('end', (e) => { sub.finish(e && e.status); socket.close(); });
        socket.on('connect_error', (e) => { sub.error(`socket.io: ${e.message}`); sub.finish('error'); });
        socket.on('disconnect', () => sub.finish(sub.end ?? 'disconnected early'));
      }
    }
  });
}

// ---- the parent: one run per transport ------------------------------------------------------------------------------

async function api(method, path, body) {
  const res = await fetch(`${process.env.BASE}${path}`, {
    method,
    headers: { Authorization: `Bearer ${process.env.TOKEN}`, 'Content-Type': 'application/json' },
    body: body && JSON.stringify(body),
    signal: AbortSignal.timeout(30000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const serverPid = process.env.SERVER_PID;
function peakRssMb() {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${serverPid}/status`, 'utf8'));
  return m ? Math.round(+m[1] / 1024) : NaN;
}
function cpuSeconds() { // utime + stime of the server, in seconds
  const stat = fs.readFileSync(`/proc/${serverPid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (+f[11] + +f[12]) / 100;
}

// Garbage collections and the time paused for them, from the server's /metrics.
async function gcFigures() {
  const res = await fetch(`${process.env.BASE}/metrics`, { signal: AbortSignal.timeout(30000) });
  const text = await res.text();
  const sample = (re) => [...text.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
  return { pause: sample(/^dotnet_gc_pause_seconds_total (\S+)$/gm), gen0: sample(/^dotnet_gc_collections_total\{generation="0"\} (\S+)$/gm),
    gen1: sample(/^dotnet_gc_collections_total\{generation="1"\} (\S+)$/gm), gen2: sample(/^dotnet_gc_collections_total\{generation="2"\} (\S+)$/gm) };
}

async function run(transport, lines, subscribers, procs) {
  const timeoutMs = +(process.env.RUN_TIMEOUT || 180) * 1000;
  const deadline = Date.now() + timeoutMs;
  try { fs.writeFileSync(`/proc/${serverPid}/clear_refs`, '5'); } catch { /* peak then covers the whole process */ }
  const cpu0 = cpuSeconds();
  const gc0 = await gcFigures();
  const { id } = await api('POST', '/api/v1/deployments', { project_id: process.env.PROJECT });

  const children = [];
  const results = [];
  let live = 0;
  let exited = 0;
  let first = null;
  let last = null;
  const done = new Promise((resolve) => {
    for (let p = 0; p < procs; p++) {
      const count = Math.floor(subscribers / procs) + (p < subscribers % procs ? 1 : 0);
      if (count === 0) continue;
      const child = fork(__filename, ['worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      child.on('message', (m) => {
        if (m.kind === 'live') live++;
        else if (m.kind === 'first' && !first) first = m;
        else if (m.kind === 'last' && !last) last = m;
        else if (m.kind === 'result') { results.push(m); if (results.length === children.length) resolve(); }
      });
      child.on('exit', () => { if (++exited === children.length) resolve(); });
      child.send({ client: process.env.CLIENT || 'lean', transport, base: process.env.BASE, token: process.env.TOKEN, id, count, lines, timeoutMs });
    }
  });

  // Every subscriber is following (it has seen the deployment's first lines) before the build writes a line.
  while (live < subscribers && Date.now() < deadline && results.length === 0) await sleep(10);
  const ready = live >= subscribers;
  // Written whole, then renamed: the build polls for the name and reads the count at once.
  fs.writeFileSync(`${process.env.WORK}/go-${id}.tmp`, String(ready ? lines : 0));
  fs.renameSync(`${process.env.WORK}/go-${id}.tmp`, `${process.env.WORK}/go-${id}`);
  if (!ready) console.error(`  only ${live} of ${subscribers} subscribers were following; the build was told to write nothing`);

  // The last build line is stored when GET ?after=<its seq - 1> returns it; polled every 20 ms.
  let stored = null;
  while (ready && Date.now() < deadline) {
    if (first) {
      const page = await api('GET', `/api/v1/logs/${id}?after=${first.seq + lines - 2}&limit=1`);
      if (page.data.length && page.data[0].message.startsWith(`L ${lines} `)) { stored = now(); break; }
    }
    await sleep(20);
  }
  await Promise.race([done, sleep(Math.max(0, deadline - Date.now()))]);
  for (const c of children) c.kill();
  let status;
  let deployment;
  for (let i = 0; i < 100; i++) {
    deployment = await api('GET', `/api/v1/deployments/${id}`);
    status = deployment.status;
    if (['ready', 'failed', 'canceled'].includes(status)) break;
    await sleep(100);
  }
  // The worker flushes every line to storage before the terminal state, so finished_at also bounds the last store
  // (useful when a loaded server answers the poll late).
  const finished = deployment.finished_at ? Date.parse(deployment.finished_at) : NaN;
  if (Number.isFinite(finished) && (!stored || finished < stored)) stored = finished;
  const peak = peakRssMb();
  const cpu = cpuSeconds() - cpu0;
  const gc1 = await gcFigures();
  const gc = { pauseMs: (gc1.pause - gc0.pause) * 1000, gen0: gc1.gen0 - gc0.gen0, gen1: gc1.gen1 - gc0.gen1, gen2: gc1.gen2 - gc0.gen2 };

  const merge = (key) => { const h = new Uint32Array(BUCKETS); for (const r of results) r[key].forEach((v, i) => { h[i] += v; }); return h; };
  const quantile = (h, p) => { const total = h.reduce((a, b) => a + b, 0); let acc = 0; for (let b = 0; b < BUCKETS; b++) { acc += h[b]; if (acc >= p * total) return bucketMs(b); } return NaN; };
  const hist = merge('hist');
  const ingestHist = merge('ingestHist');
  const deliveryHist = merge('deliveryHist');
  const subs = [];
  for (const r of results) subs.push(...r.subs);
  const pct = (p) => quantile(hist, p);
  const complete = subs.length === subscribers && subs.every((s) => s.errors === 0 && s.lines === lines);
  const ingest = stored && first ? lines / ((stored - first.written) / 1000) : 0;
  const writer = last && first ? lines / ((last.written - first.written) / 1000) : 0;
  return {
    transport, id, status, lines, subscribers, complete, ingest, writer, p50: pct(0.5), p99: pct(0.99), max: Math.max(...subs.map((s) => s.max)),
    worstP99: Math.max(...subs.map((s) => s.p99)), gc,
    split: { ingestP50: quantile(ingestHist, 0.5), ingestP99: quantile(ingestHist, 0.99), deliveryP50: quantile(deliveryHist, 0.5), deliveryP99: quantile(deliveryHist, 0.99) }, gaps: subs.reduce((a, s) => a + s.gaps, 0), peak, cpu,
    clientCpu: results.reduce((a, r) => a + r.cpu, 0), storedAfterMs: stored && last ? stored - last.written : NaN, errors: subs.flatMap((s) => s.firstErrors).slice(0, 5),
  };
}

async function main() {
  const lines = +process.env.LINES;
  const subscribers = +process.env.SUBSCRIBERS;
  const procs = Math.max(1, Math.min(subscribers, +process.env.CLIENT_PROCS));
  const warmup = +process.env.WARMUP_LINES;
  const warmupRuns = Math.max(1, +(process.env.WARMUP_RUNS || 1));
  const f = (n, d = 1) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d }) : String(n));
  let result = 'PASS';
  for (const transport of process.env.TRANSPORTS.split(/\s+/).filter(Boolean)) {
    const name = { ws: 'WebSocket', sse: 'SSE', socketio: 'socket.io' }[transport];
    for (let w = 1; warmup > 0 && w <= warmupRuns; w++) {
      const r = await run(transport, warmup, subscribers, procs);
      console.log(`${name} warm-up ${w}/${warmupRuns} (${f(warmup, 0)} lines, not counted): ingest ${f(r.ingest, 0)} lines/s, p99 ${f(r.p99)} ms, all received: ${r.complete ? 'yes' : 'no'}; server CPU ${f(r.cpu)} s, GC paused ${f(r.gc.pauseMs, 0)} ms`);
    }
    const r = await run(transport, lines, subscribers, procs);
    const pass = r.complete && r.status === 'ready' && r.ingest >= 100000 && r.p99 <= 100;
    if (!pass) result = 'FAIL';
    console.log(`${name}: ${f(lines, 0)} lines, ${subscribers} subscribers (deployment ${r.id}, ${r.status})`);
    console.log(`  ingest (first line written -> last line stored, polled or finished_at, whichever is earlier): ${f(r.ingest, 0)} lines/s (bar >= 100,000); the build wrote at ${f(r.writer, 0)} lines/s; last line stored ${f(r.storedAfterMs, 0)} ms after it was written`);
    console.log(`  write -> receive latency over all subscribers: p50 ${f(r.p50)} ms, p99 ${f(r.p99)} ms (bar <= 100), max ${f(r.max)} ms; worst subscriber p99 ${f(r.worstP99)} ms`);
    console.log(`  split at the server's timestamp (every 50th line, ms precision): written -> taken in p50 ${f(r.split.ingestP50)} / p99 ${f(r.split.ingestP99)} ms; taken in -> received p50 ${f(r.split.deliveryP50)} / p99 ${f(r.split.deliveryP99)} ms`);
    console.log(`  every subscriber got every line once, in order: ${r.complete ? 'yes' : 'no'}${r.gaps ? ` (${r.gaps} gap notices: fell behind and caught up from storage)` : ''}`);
    for (const e of r.errors) console.log(`    ${e}`);
    console.log(`  server: peak RSS ${f(r.peak, 0)} MB, CPU ${f(r.cpu)} s during the run; subscriber processes: CPU ${f(r.clientCpu)} s`);
    console.log(`  server GC during the run: ${r.gc.gen0} collections (gen1 ${r.gc.gen1}, gen2 ${r.gc.gen2}), paused ${f(r.gc.pauseMs, 0)} ms in all`);
    console.log(`  ${name}: ${pass ? 'PASS' : 'FAIL'}`);
  }
  console.log(`RESULT: ${result}`);
  process.exit(result === 'PASS' ? 0 : 1);
}

if (process.argv[2] === 'worker') worker();
else main().catch((e) => { console.error(e); process.exit(1); });
