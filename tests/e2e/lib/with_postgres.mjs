// Runs a command against a throw-away PostgreSQL cluster and deletes the
// cluster afterwards: node with_postgres.mjs <command> [args...]. The
// command finds a fresh database's URL in TANDEM_TEST_DATABASE_URL (ctest's
// unit_store_postgres runs test_store this way). Exits with the command's
// status; 77 (skipped) when PostgreSQL is not installed.
import { spawn } from 'node:child_process';
import { postgresAvailable, startCluster } from './postgres.mjs';

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: node with_postgres.mjs <command> [args...]');
  process.exit(2);
}
if (!postgresAvailable()) {
  console.error('with_postgres: PostgreSQL is not installed (scripts/bootstrap installs it); skipped');
  process.exit(77);
}

const cluster = await startCluster();
const url = cluster.createDatabase('tandem_test');
const child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, TANDEM_TEST_DATABASE_URL: url } });
const stop = (signal) => child.kill(signal);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
const { code, signal } = await new Promise((resolve) =>
  child.on('exit', (c, s) => resolve({ code: c, signal: s })));
if (code !== 0) console.error(`with_postgres: ${cmd} exited with ${code ?? signal}; server log:\n${cluster.log()}`);
cluster.destroy();
process.exit(code ?? 1);
