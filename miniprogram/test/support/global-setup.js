// Starts tests/miniprogram/stack.py (the real server, seeded, and the fake WeChat API) once for the
// whole run and hands its addresses to the test files through a JSON file.
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '../../..');

module.exports = async () => {
  const python = process.env.PYTHON || 'python3';
  const child = spawn(python, ['-m', 'tests.miniprogram.stack'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const info = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('the test stack did not start within 60 s')), 60000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) { clearTimeout(timer); resolve(JSON.parse(line)); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the test stack exited with ${code}`)); });
  });
  const file = path.join(os.tmpdir(), `mp-stack-${process.pid}.json`);
  fs.writeFileSync(file, JSON.stringify(info));
  process.env.MP_STACK_FILE = file;
  globalThis.__MP_STACK__ = child;
};
