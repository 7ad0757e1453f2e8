// Starting and stopping tests/miniprogram/stack.py: once for the whole run (global setup), and again for
// a test that needs a stack of its own (one on a test clock, whose time it may move without touching
// the shared stack the other test files run against at the same moment).
const { spawn } = require('child_process');
const path = require('path');

const ROOT = path.resolve(__dirname, '../../..');

// Resolves {info, child} once the stack printed its JSON line.
function spawnStack(args = []) {
  const python = process.env.PYTHON || 'python3';
  const child = spawn(python, ['-m', 'tests.miniprogram.stack', ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the test stack did not start within 60 s')), 60000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) { clearTimeout(timer); resolve({ info: JSON.parse(line), child }); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the test stack exited with ${code}`)); });
  });
}

// Closing its standard input ends the stack; killed if it has not ended within 5 s.
function stopStack(child) {
  if (!child || child.exitCode !== null) return Promise.resolve();
  child.stdin.end();
  return new Promise((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 5000);
    child.on('exit', () => { clearTimeout(timer); resolve(); });
  });
}

module.exports = { spawnStack, stopStack };
