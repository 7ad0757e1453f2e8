// The member code as a shopper shows it: a QR code (a GIF data URL, so it needs no canvas and looks
// the same in WeChat, the simulator and a screenshot) and a Code 128 barcode drawn as bars.
const qrcode = require('../vendor/qrcode-generator/qrcode.js');
const Code128 = require('../vendor/jsbarcode/CODE128/CODE128_AUTO.js').default;

function qrMatrix(code) {
  const qr = qrcode(0, 'M');
  qr.addData(code, /^[0-9]+$/.test(code) ? 'Numeric' : 'Byte');
  qr.make();
  return qr;
}

function qrDataUrl(code, cell = 8) {
  return qrMatrix(code).createDataURL(cell, cell * 4); // a quiet zone of four modules, as the standard asks
}

// Runs of equal modules: [{dark, width}] with widths in modules (Code 128 packs digit pairs in set C).
function barcodeRuns(code) {
  const bits = new Code128(code, {}).encode().data;
  const runs = [];
  for (let i = 0; i < bits.length; i += 1) {
    const dark = bits[i] === '1';
    if (runs.length && runs[runs.length - 1].dark === dark) runs[runs.length - 1].width += 1;
    else runs.push({ dark, width: 1 });
  }
  return runs;
}

// "81199012345678" → "8119 9012 3456 78": easier to read out or type at a till.
function grouped(code) {
  return String(code).replace(/(\d{4})(?=\d)/g, '$1 ');
}

module.exports = { qrMatrix, qrDataUrl, barcodeRuns, grouped };
