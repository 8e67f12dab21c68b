'use strict';
// Lean subscribers for bench/logs.js (CLIENT=lean, the default). On a 2-core machine ten `ws` / `socket.io-client`
// subscribers cost more CPU (about 1.5 us a message, 1.5 cores at a million messages a second) than the server they
// measure, and the run then measures them. These clients speak the same protocols (RFC 6455 framing over a TCP socket;
// Engine.IO 4 / Socket.IO 5 over that WebSocket; SSE over Node's http), and hand each message to the caller as a byte
// range of the received buffer, without a string or JSON.parse per message. CLIENT=npm runs the npm clients instead.
const crypto = require('crypto');
const http = require('http');
const net = require('net');

/**
 * A WebSocket client: connects, upgrades, then calls onMessage(buffer, start, end, receivedAt) for each text message (the range
 * is valid only during the call), answers pings, and calls onClose(reason) once.
 */
function webSocket(url, headers, onMessage, onClose) {
  const u = new URL(url);
  const socket = net.connect(+u.port, u.hostname);
  socket.setNoDelay(true);
  let closed = false;
  const close = (reason) => { if (!closed) { closed = true; socket.destroy(); onClose(reason); } };
  const key = crypto.randomBytes(16).toString('base64');
  socket.on('connect', () => {
    const lines = [`GET ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`, 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    socket.write(lines.join('\r\n') + '\r\n\r\n');
  });
  let buffer = Buffer.alloc(0);
  let upgraded = false;
  const frameState = {};
  const send = (opcode, payload) => { // client frames are masked (RFC 6455 5.3)
    const mask = crypto.randomBytes(4);
    let head;
    if (payload.length < 126) head = Buffer.from([0x80 | opcode, 0x80 | payload.length]);
    else if (payload.length < 65536) head = Buffer.from([0x80 | opcode, 0xfe, payload.length >> 8, payload.length & 255]);
    else { head = Buffer.alloc(10); head[0] = 0x80 | opcode; head[1] = 0xff; head.writeBigUInt64BE(BigInt(payload.length), 2); }
    const body = Buffer.from(payload);
    for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
    socket.write(Buffer.concat([head, mask, body]));
  };
  socket.on('data', (chunk) => {
    const t = performance.timeOrigin + performance.now();
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    let p = 0;
    if (!upgraded) {
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffer.toString('latin1', 0, end);
      const expected = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
      if (!/^HTTP\/1\.1 101 /.test(head) || !head.toLowerCase().includes(`sec-websocket-accept: ${expected.toLowerCase()}`)) {
        close(`upgrade refused: ${head.split('\r\n')[0]}`);
        return;
      }
      upgraded = true;
      p = end + 4;
    }
    p = parseFrames(buffer, p, (b, start, end) => onMessage(b, start, end, t), (payload) => send(10, payload), (payload) => { send(8, payload); close('closed'); }, frameState);
    if (p < 0) { close('masked server frame'); return; }
    buffer = p === buffer.length ? Buffer.alloc(0) : buffer.subarray(p);
  });
  socket.on('error', (e) => close(`socket: ${e.message}`));
  socket.on('close', () => close('closed'));
  return { sendText: (text) => send(1, Buffer.from(text)), close: () => { send(8, Buffer.alloc(0)); socket.end(); } };
}

/**
 * Parses the server frames in buffer from p on: text messages to onText(buffer, start, end), pings to onPing(payload),
 * a close to onClose(payload) (then stops). Returns where the first incomplete frame starts, or -1 on a masked frame.
 */
function parseFrames(buffer, p, onText, onPing, onClose, state = {}) {
  // state.fragments: a fragmented message's parts so far, across calls (the server does not fragment; the protocol allows it)
  while (buffer.length - p >= 2) {
    const b0 = buffer[p];
    const b1 = buffer[p + 1];
    if (b1 & 0x80) return -1;
    let len = b1 & 0x7f;
    let h = 2;
    if (len === 126) { if (buffer.length - p < 4) break; len = buffer.readUInt16BE(p + 2); h = 4; }
    else if (len === 127) { if (buffer.length - p < 10) break; len = Number(buffer.readBigUInt64BE(p + 2)); h = 10; }
    if (buffer.length - p < h + len) break;
    const start = p + h;
    const end = start + len;
    const opcode = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    if (opcode === 1 && fin) onText(buffer, start, end);
    else if (opcode === 1 || opcode === 0) {
      state.fragments = opcode === 1 ? [Buffer.from(buffer.subarray(start, end))] : [...(state.fragments || []), Buffer.from(buffer.subarray(start, end))];
      if (fin) { const whole = Buffer.concat(state.fragments); state.fragments = null; onText(whole, 0, whole.length); }
    } else if (opcode === 9) onPing(buffer.subarray(start, end));
    else if (opcode === 8) { onClose(buffer.subarray(start, Math.min(end, start + 2))); return buffer.length; }
    p = end;
  }
  return p;
}

/**
 * A Socket.IO client (Engine.IO 4 over the WebSocket transport): CONNECT with auth.token, emits `subscribe` with an
 * ack, answers pings, and calls onEvent(buffer, start, end) with each `42[...]` event packet (`log`, `status`, `end`).
 */
function socketIo(base, token, subscription, onSubscribed, onEvent, onClose) {
  const url = `${base.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
  const ws = webSocket(url, {}, (buffer, start, end, t) => {
    const type = buffer[start];
    if (type === 0x34 /* 4: message */ && buffer[start + 1] === 0x32 /* 2: EVENT */) onEvent(buffer, start + 2, end, t);
    else if (type === 0x32 /* 2: ping */) ws.sendText('3');
    else if (type === 0x30 /* 0: open */) ws.sendText(`40${JSON.stringify({ token })}`);
    else if (type === 0x34) {
      const text = buffer.toString('utf8', start + 1, end);
      if (text.startsWith('0')) ws.sendText(`420${JSON.stringify(['subscribe', subscription])}`); // connected
      else if (text.startsWith('30')) onSubscribed(JSON.parse(text.slice(2))[0]); // ack 0
      else if (text.startsWith('4')) onClose(`connect refused: ${text.slice(1)}`);
    } else if (type === 0x31 /* 1: close */) onClose('engine.io close');
  }, onClose);
  return ws;
}

const DATA = Buffer.from('data: ');

/** An SSE reader: calls onData(buffer, start, end, receivedAt) with each event's `data:` line. */
function serverSentEvents(url, headers, onData, onClose) {
  const req = http.get(url, { headers: { ...headers, Accept: 'text/event-stream' } }, (res) => {
    if (res.statusCode !== 200) { res.resume(); onClose(`SSE status ${res.statusCode}`); return; }
    let carry = null;
    res.on('data', (chunk) => {
      const t = performance.timeOrigin + performance.now();
      const buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
      // Each event is "id: N", "event: log", "data: {...}" and an empty line (comments such as ": keep-alive" are
      // skipped over): two native searches per event, the data field and its end.
      let p = 0;
      for (;;) {
        const d = buffer.indexOf(DATA, p);
        if (d < 0) break;
        const nl = buffer.indexOf(10, d);
        if (nl < 0 || nl + 1 >= buffer.length) break; // the event is not complete yet
        onData(buffer, d + DATA.length, nl, t);
        p = nl + 2;
      }
      carry = p === buffer.length ? null : buffer.subarray(p);
    });
    res.on('end', () => onClose('closed'));
  });
  req.on('error', (e) => onClose(`SSE: ${e.message}`));
}

/** The decimal integer at buffer[p..] (digits only); where it stops is left in readInt.end (no array per call). */
function readInt(buffer, p) {
  let n = 0;
  for (let c; (c = buffer[p]) >= 48 && c <= 57; p++) n = n * 10 + (c - 48);
  readInt.end = p;
  return n;
}
readInt.end = 0;

/** A decimal number with an optional fraction ("1795344951112.224") at buffer[p..]. */
function readDecimal(buffer, p) {
  let n = readInt(buffer, p);
  let q = readInt.end;
  if (buffer[q] === 46) {
    let scale = 1;
    for (let c; (c = buffer[++q]) >= 48 && c <= 57;) { scale /= 10; n += (c - 48) * scale; }
  }
  return n;
}

/** Runs the frame parser over made-up text frames (JIT warm-up for a fresh client process). */
function warmFrames(payloads) {
  const frames = Buffer.concat(payloads.map((p) => Buffer.concat([p.length < 126 ? Buffer.from([0x81, p.length]) : Buffer.from([0x81, 126, p.length >> 8, p.length & 255]), p])));
  let count = 0;
  parseFrames(frames, 0, () => { count++; }, () => {}, () => {});
  if (count !== payloads.length) throw new Error(`warm-up parsed ${count} of ${payloads.length} frames`);
}

module.exports = { warmFrames, webSocket, socketIo, serverSentEvents, readInt, readDecimal };
