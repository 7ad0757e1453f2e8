const { stopStack } = require('./stack');

module.exports = async () => {
  await stopStack(globalThis.__MP_STACK__);
};
