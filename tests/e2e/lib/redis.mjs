// A throwaway redis-server for tests and benchmarks: on a free loopback
// port, no persistence, its files in a directory of the caller's.
import { execFileSync, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { sleep } from './raw.mjs';

export async function freePort() {
  const srv = createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

// True once Redis answers PING on its port.
function ping(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const timer = setTimeout(() => { s.destroy(); resolve(false); }, 500);
    s.on('error', () => { clearTimeout(timer); resolve(false); });
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => { clearTimeout(timer); s.destroy(); resolve(d.toString().startsWith('+PONG')); });
  });
}

// Starts redis-server and waits (10 s at most) until it answers.
export async function startRedis(port, dir) {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const end = Date.now() + 10000;
  while (!(await ping(port))) {
    if (Date.now() > end || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer on port ${port}`);
    }
    await sleep(50);
  }
  return {
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

// One command through redis-cli (Debian's redis-server brings redis-tools).
export function redisCli(port, ...args) {
  return execFileSync('redis-cli', ['-p', String(port), '--raw', ...args], { timeout: 5000 }).toString().trim();
}
