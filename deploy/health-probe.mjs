#!/usr/bin/env node
// The coordinator's readiness probe in Kubernetes: one grpc.health.v1 Check over mutual TLS,
// exit 0 if the answer is SERVING (the coordinator leads), 1 otherwise (a standby, no answer, a
// refused handshake). The kubelet's own gRPC probe dials without TLS, which the coordinator
// refuses once it has a TLS directory; there is no grpc_health_probe binary in the image.
//
//   node deploy/health-probe.mjs [HOST:]PORT [SERVICE]
//
// HOST defaults to 127.0.0.1 and SERVICE to '' (the server as a whole). The TLS directory is
// $HARMONIUM_TLS_DIR (ca.crt, tls.crt, tls.key, as the coordinator reads it); without it the probe
// dials plaintext, for a coordinator run with --insecure. The server is checked against the CA and
// the name `harmonium`, the name every Harmonium certificate carries (not the address dialled).
// Health needs no token; the cluster token ($HARMONIUM_TOKEN_FILE or $HARMONIUM_TOKEN) is sent
// anyway when there is one, as every other call carries it.
//
// Plain Node (node:http2 and node:tls, no dependency, no tsx), so that a probe every few seconds
// costs a Node start and one TLS handshake: about 50 ms of CPU.
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { connect } from 'node:http2';
import { join } from 'node:path';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';

const CLUSTER_NAME = 'harmonium';
const TIMEOUT_MS = Number(process.env['HARMONIUM_PROBE_TIMEOUT_MS'] || 1500);
/** grpc.health.v1.HealthCheckResponse.ServingStatus */
const STATUS_NAMES = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

function fail(why) {
  process.stderr.write(`health-probe: ${why}\n`);
  process.exit(1);
}

const [target = '7070', service = ''] = process.argv.slice(2);
const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d+)$/.exec(target);
if (!m) fail(`expected [HOST:]PORT, got ${JSON.stringify(target)}`);
const host = m[1] ?? '127.0.0.1';
const port = Number(m[2]);

const tlsDir = process.env['HARMONIUM_TLS_DIR'] || undefined;
let token = process.env['HARMONIUM_TOKEN'] || undefined;
let tls = undefined;
try {
  const tokenFile = process.env['HARMONIUM_TOKEN_FILE'] || undefined;
  if (tokenFile) token = readFileSync(tokenFile, 'utf8').trim();
  if (tlsDir) {
    tls = {
      ca: readFileSync(join(tlsDir, 'ca.crt')),
      cert: readFileSync(join(tlsDir, 'tls.crt')),
      key: readFileSync(join(tlsDir, 'tls.key')),
      // SNI and the name the certificate is checked against (Node's default check).
      servername: CLUSTER_NAME,
      ALPNProtocols: ['h2'],
    };
  }
} catch (err) {
  fail(err.message);
}

const timer = setTimeout(() => fail(`no answer from ${host}:${port} within ${TIMEOUT_MS} ms`), TIMEOUT_MS);
const session = connect(`${tls ? 'https' : 'http'}://${host}:${port}`, tls ?? {});
session.on('error', (err) => fail(`${host}:${port}: ${err.message}`));

// HealthCheckRequest { string service = 1; } in one gRPC message frame (uncompressed).
const name = Buffer.from(service, 'utf8');
if (name.length > 127) fail('the service name is too long');
const body = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, name.length]), name]);
const frame = Buffer.alloc(5 + body.length);
frame.writeUInt32BE(body.length, 1);
body.copy(frame, 5);

const headers = {
  ':method': 'POST',
  ':path': '/grpc.health.v1.Health/Check',
  'content-type': 'application/grpc',
  te: 'trailers',
  ...(token ? { authorization: `Bearer ${token}` } : {}),
};
const stream = session.request(headers);
const chunks = [];
let grpcStatus;
let grpcMessage = '';
const takeStatus = (h) => {
  if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
  if (h['grpc-message'] !== undefined) grpcMessage = decodeURIComponent(String(h['grpc-message']));
};
stream.on('response', (h) => {
  if (h[':status'] !== 200) fail(`HTTP status ${h[':status']}`);
  takeStatus(h); // a trailers-only answer
});
stream.on('trailers', takeStatus);
stream.on('data', (chunk) => chunks.push(chunk));
stream.on('error', (err) => fail(err.message));
stream.on('end', () => {
  clearTimeout(timer);
  session.close();
  if (grpcStatus !== '0')
    fail(`grpc-status ${grpcStatus ?? 'missing'}${grpcMessage ? `: ${grpcMessage}` : ''}`);
  const data = Buffer.concat(chunks);
  if (data.length < 5 || data[0] !== 0 || data.readUInt32BE(1) !== data.length - 5) fail('malformed answer');
  // HealthCheckResponse { ServingStatus status = 1; }: absent means UNKNOWN (0).
  const msg = data.subarray(5);
  const code = msg.length >= 2 && msg[0] === 0x08 ? msg[1] : 0;
  const status = STATUS_NAMES[code] ?? String(code);
  if (status !== 'SERVING') fail(`${service || 'the server'} is ${status}`);
  process.stdout.write(`${service || 'the server'} is SERVING\n`);
});
stream.end(frame);
