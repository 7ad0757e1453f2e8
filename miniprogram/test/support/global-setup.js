// Starts tests/miniprogram/stack.py (the real server, seeded, and the fake WeChat API) once for the
// whole run and hands its addresses to the test files through a JSON file.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnStack } = require('./stack');

module.exports = async () => {
  const { info, child } = await spawnStack();
  const file = path.join(os.tmpdir(), `mp-stack-${process.pid}.json`);
  fs.writeFileSync(file, JSON.stringify(info));
  process.env.MP_STACK_FILE = file;
  globalThis.__MP_STACK__ = child;
};
