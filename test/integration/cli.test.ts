// The `tessera` CLI as a user runs it: help on every command, exit codes, validate, and the demo's smoke run.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { BIN, REPO, freePorts, request, startTessera, startUpstream, staticBootstrap, stopChild, tempDir } from '../helpers/mesh.js';

function tessera(args: string[], timeoutMs = 30000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: timeoutMs, cwd: REPO }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('tessera CLI', { timeout: 120000 }, () => {
  test('--help on the CLI and on each command exits 0 and describes it', async () => {
    const top = await tessera(['--help']);
    assert.equal(top.code, 0);
    for (const cmd of ['control-plane', 'sidecar', 'gateway', 'run', 'demo', 'validate']) {
      assert.match(top.stdout, new RegExp(`\\b${cmd}\\b`));
      const r = await tessera([cmd, '--help']);
      assert.equal(r.code, 0, `${cmd} --help: ${r.stderr}`);
      assert.match(r.stdout, /^usage: tessera /);
    }
  });

  test('usage errors exit 2 naming the problem', async () => {
    const unknown = await tessera(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const flag = await tessera(['control-plane', '--bogus']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /bogus/);
    const missing = await tessera(['sidecar']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--bootstrap/);
  });

  test('validate: valid file exits 0; invalid file prints every error with file:line:col and exits 2', async () => {
    const good = await tessera(['validate', path.join(REPO, 'test/fixtures/mesh/demo.yaml')]);
    assert.equal(good.code, 0, good.stderr);
    const bad = await tessera(['validate', path.join(REPO, 'test/fixtures/mesh/invalid.yaml')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid\.yaml:\d+:\d+: services\[0\]\.lb: must be one of/);
    assert.ok(bad.stderr.split('\n').filter((l) => /invalid\.yaml:\d+:\d+:/.test(l)).length >= 5);
  });

  test("the README's full mesh config example is valid", async () => {
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const m = /```yaml\n(mesh: \{ name: shop \}[\s\S]*?)```/.exec(readme);
    assert.ok(m, 'README has the example');
    const t = tempDir();
    const f = path.join(t.dir, 'readme.yaml');
    writeFileSync(f, m[1]!);
    const r = await tessera(['validate', f]);
    t.cleanup();
    assert.equal(r.code, 0, r.stderr);
  });

  test('control-plane with an invalid config exits 2 with the errors; a bad bootstrap exits 2 naming the field', async () => {
    const cp = await tessera(['control-plane', '--config', path.join(REPO, 'test/fixtures/mesh/invalid.yaml'), '--xds-port', '0', '--admin-port', '0']);
    assert.equal(cp.code, 2);
    assert.match(cp.stderr, /conect_timeout: unknown key/);
    const t = tempDir();
    const f = path.join(t.dir, 'bad-bootstrap.yaml');
    writeFileSync(f, 'node:\n  id: x\nadmin:\n  address:\n    socket_address: { address: 127.0.0.1, port_valu: 1 }\n');
    const sc = await tessera(['sidecar', '--bootstrap', f]);
    t.cleanup();
    assert.equal(sc.code, 2);
    assert.match(sc.stderr, /bad-bootstrap\.yaml:5:\d+: .*port_valu/);
  });

  test('run: the command gets its port and dependencies, the sidecar routes to it, and both stop together', async () => {
    const t = tempDir();
    const [xds, app, sidecarPort, dep] = await freePorts(4);
    const file = path.join(t.dir, 'mesh.yaml');
    writeFileSync(
      file,
      `services:
  - name: hello
    protocol: http
    instances:
      - { id: hello-1, address: 127.0.0.1, port: ${app}, sidecar_port: ${sidecarPort} }
    dependencies:
      - { service: hello, port: ${dep} }
`,
    );
    const cp = await startTessera(['control-plane', '--config', file, '--xds-port', String(xds), '--admin-port', '0'], { dir: t.dir, name: 'cp' });
    // The app answers with what `tessera run` told it, then exits 3 on its own after one request.
    const script =
      "const http=require('http');const s=http.createServer((q,r)=>{r.end(JSON.stringify({port:process.env.PORT,deps:process.env.DEPENDENCIES,svc:process.env.SERVICE_NAME}));setTimeout(()=>process.exit(3),100)});s.listen(+process.env.PORT,'127.0.0.1')";
    const run = await startTessera(['run', '--service', 'hello', '--config', file, '--xds', `127.0.0.1:${xds}`, '--', process.execPath, '-e', script], { dir: t.dir, name: 'run' });
    try {
      let body = '';
      for (let i = 0; i < 50 && body === ''; i++) {
        try {
          const r = await request(`http://127.0.0.1:${sidecarPort}/`);
          if (r.status === 200) body = r.body;
        } catch {
          // the app is still starting
        }
        if (body === '') await new Promise((res) => setTimeout(res, 100));
      }
      const seen = JSON.parse(body) as { port: string; deps: string; svc: string };
      assert.equal(seen.port, String(app));
      assert.equal(seen.svc, 'hello');
      assert.deepEqual(JSON.parse(seen.deps), { hello: `http://127.0.0.1:${dep}` });
      assert.equal(await run.exited, 3, 'run exits with the command\'s code once the command ends');
    } finally {
      await stopChild(run);
      await stopChild(cp);
      t.cleanup();
    }
  });

  test('sidecar access log: a JSON line per request on stdout by default, none with --access-log off', async () => {
    const t = tempDir();
    const up = await startUpstream('logged');
    try {
      for (const off of [false, true]) {
        const [lp, ap] = await freePorts(2);
        const f = path.join(t.dir, `b-${off}.yaml`);
        writeFileSync(f, staticBootstrap({ nodeId: 'log-test', listenPort: lp!, adminPort: ap!, upstreamPort: up.port }));
        const sc = await startTessera(['sidecar', '--bootstrap', f, ...(off ? ['--access-log', 'off'] : [])], { dir: t.dir, name: `log-${off}` });
        const r = await request(`http://127.0.0.1:${lp}/logged-path`);
        assert.equal(r.status, 200);
        assert.equal(await stopChild(sc), 0);
        const lines = sc.lines.filter((l) => l.includes('"path":"/logged-path"'));
        if (off) assert.equal(lines.length, 0, lines.join('\n'));
        else {
          assert.equal(lines.length, 1, sc.lines.join('\n'));
          const entry = JSON.parse(lines[0]!) as { method: string; status: number; upstream_host: string };
          assert.equal(entry.method, 'GET');
          assert.equal(entry.status, 200);
          assert.equal(entry.upstream_host, `127.0.0.1:${up.port}`);
        }
      }
    } finally {
      await up.close();
      t.cleanup();
    }
  });

  test('demo --smoke starts the whole mesh, passes its requests through the gateway, and stops cleanly', async () => {
    const t = tempDir('tessera-demo-test-');
    const r = await tessera(['demo', '--smoke', '--dir', t.dir], 90000);
    t.cleanup();
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal((r.stdout.match(/^PASS /gm) ?? []).length, 7, r.stdout);
    assert.doesNotMatch(r.stdout, /^FAIL /m);
  });
});
