module.exports = async () => {
  const child = globalThis.__MP_STACK__;
  if (child) {
    child.stdin.end();
    await new Promise((resolve) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 5000);
      child.on('exit', () => { clearTimeout(timer); resolve(); });
    });
  }
};
