import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { accessLogSinkOf, closeAccessLogger, createAccessLogger, silentLogger } from '../../../../src/observability/logger.js';
import { formatAccessLog, jsonString, ms3, type AccessLogEntry } from '../../../../sidecar/http/access-log.js';
import { captureLogger } from '../../../helpers/http-fakes.js';

const entry: AccessLogEntry = {
  method: 'GET',
  path: '/a?b=1',
  authority: 'example.com',
  protocol: 'HTTP/1.1',
  status: 200,
  startMs: 1000.25,
  endMs: 1003.7504,
  upstreamServiceTimeMs: 2.5,
  upstreamHost: '10.0.0.1:80',
  upstreamCluster: 'api',
  attemptCount: 1,
  bytesReceived: 0,
  bytesSent: 100,
  requestId: '6f1c1f4e-3b0a-4c8e-9d43-0d1b2a3c4d5e',
  responseFlags: '',
  errCode: '',
  downstreamRemoteAddress: '127.0.0.1',
  userAgent: 'wrk',
};

describe('access log line', () => {
  it('has the fields and values of the pino line it replaced', () => {
    const now = Date.UTC(2026, 10, 27, 22, 34, 40, 7);
    const line = formatAccessLog(entry, now);
    assert.ok(line.endsWith('}\n'));
    assert.deepEqual(JSON.parse(line), {
      level: 30,
      time: '2026-11-27T22:34:40.007Z',
      method: 'GET',
      path: '/a?b=1',
      authority: 'example.com',
      protocol: 'HTTP/1.1',
      status: 200,
      duration_ms: Math.round((entry.endMs - entry.startMs) * 1000) / 1000,
      upstream_service_time_ms: 2.5,
      upstream_host: '10.0.0.1:80',
      upstream_cluster: 'api',
      upstream_attempts: 1,
      bytes_received: 0,
      bytes_sent: 100,
      request_id: entry.requestId,
      response_flags: '-',
      err_code: null,
      downstream_remote_address: '127.0.0.1',
      user_agent: 'wrk',
    });
    const empty = JSON.parse(formatAccessLog({ ...entry, upstreamServiceTimeMs: -1, upstreamHost: '', upstreamCluster: '', requestId: '', userAgent: '', responseFlags: 'UH,DC', errCode: 'TESSERA_ERR_NO_HEALTHY_UPSTREAM' }, now + 1000));
    assert.equal(empty.time, '2026-11-27T22:34:41.007Z');
    assert.equal(empty.upstream_service_time_ms, null);
    assert.equal(empty.upstream_host, null);
    assert.equal(empty.upstream_cluster, null);
    assert.equal(empty.request_id, null);
    assert.equal(empty.user_agent, null);
    assert.equal(empty.response_flags, 'UH,DC');
    assert.equal(empty.err_code, 'TESSERA_ERR_NO_HEALTHY_UPSTREAM');
  });

  it('escapes strings that need it (quotes, backslashes, control and latin1 characters)', () => {
    const nasty = 'a"b\\c\td\u0001e\u00e9\u00ff';
    const line = formatAccessLog({ ...entry, path: nasty, userAgent: '"}\n{"x":1', authority: '\u0080' }, Date.now());
    assert.equal(line.indexOf('\n'), line.length - 1, 'one line');
    const o = JSON.parse(line);
    assert.equal(o.path, nasty);
    assert.equal(o.user_agent, '"}\n{"x":1');
    assert.equal(o.authority, '\u0080');
    assert.equal(jsonString('plain'), '"plain"');
    assert.equal(jsonString('\ud800'), JSON.stringify('\ud800'));
  });

  it('formats durations exactly like JSON.stringify(Math.round(x * 1000) / 1000)', () => {
    for (const x of [0, 0.0004, 0.0005, 1, 1.1, 1.01, 1.001, 1.0104, 12.34, 99.999, 100.5, 123456.789, 2 ** 31, -0.2]) {
      assert.equal(ms3(x), JSON.stringify(Math.round(x * 1000) / 1000), String(x));
    }
    for (let i = 0; i < 10_000; i++) {
      const x = Math.random() * 10 ** (i % 7);
      assert.equal(ms3(x), JSON.stringify(Math.round(x * 1000) / 1000), String(x));
    }
  });

  it('sinks: a silent logger has none; another pino logger gets the line on its destination', () => {
    assert.equal(accessLogSinkOf(silentLogger()), null);
    const { logger, lines } = captureLogger();
    const sink = accessLogSinkOf(logger)!;
    sink.write(formatAccessLog(entry, Date.now()));
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.path, '/a?b=1');
  });

  it('the access logger batches lines and writes them all by close()', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tessera-al-'));
    const file = path.join(dir, 'access.log');
    const logger = createAccessLogger({ path: file, flushMs: 50 });
    const sink = accessLogSinkOf(logger)!;
    for (let i = 0; i < 1000; i++) sink.write(formatAccessLog({ ...entry, status: 200 + (i % 3) }, Date.now()));
    logger.info({ via: 'pino' }, 'also batched');
    await closeAccessLogger(logger);
    const got = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(got.length, 1001);
    assert.equal(got[999]!.status, 200 + (999 % 3));
    assert.equal(got[1000]!.via, 'pino');
  });

  it('the access logger flushes on its timer (at least every flushMs)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tessera-al-'));
    const file = path.join(dir, 'access.log');
    const logger = createAccessLogger({ path: file, flushMs: 50 });
    accessLogSinkOf(logger)!.write(formatAccessLog(entry, Date.now()));
    let text = '';
    for (let i = 0; i < 40 && text === ''; i++) {
      await new Promise((r) => setTimeout(r, 25));
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        // not created yet
      }
    }
    assert.equal(JSON.parse(text).path, '/a?b=1');
    await closeAccessLogger(logger);
  });
});
