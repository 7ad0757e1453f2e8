// The QR code and the barcode the card shows are read back by ZXing, a scanner library that shares no
// code with the encoders: what a store scanner would read is exactly the member code.
const fs = require('fs');
const path = require('path');
const {
  BarcodeFormat, BinaryBitmap, Code128Reader, DecodeHintType, HybridBinarizer, QRCodeReader, RGBLuminanceSource,
} = require('@zxing/library');
const codes = require('../src/utils/codes.js');

function bitmap(width, height, dark) {
  const pixels = new Uint8ClampedArray(width * height);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) pixels[y * width + x] = dark(x, y) ? 0 : 255;
  }
  return new BinaryBitmap(new HybridBinarizer(new RGBLuminanceSource(pixels, width, height)));
}

function readQr(code) {
  const qr = codes.qrMatrix(code);
  const n = qr.getModuleCount();
  const scale = 6;
  const quiet = 4;
  const size = (n + 2 * quiet) * scale;
  const image = bitmap(size, size, (x, y) => {
    const c = Math.floor(x / scale) - quiet;
    const r = Math.floor(y / scale) - quiet;
    return r >= 0 && c >= 0 && r < n && c < n && qr.isDark(r, c);
  });
  return new QRCodeReader().decode(image).getText();
}

function readBarcode(code) {
  const modules = [];
  codes.barcodeRuns(code).forEach((run) => { for (let i = 0; i < run.width; i += 1) modules.push(run.dark); });
  const scale = 3;
  const quiet = 12;
  const width = (modules.length + 2 * quiet) * scale;
  const image = bitmap(width, 40, (x) => {
    const m = Math.floor(x / scale) - quiet;
    return m >= 0 && m < modules.length && modules[m];
  });
  const hints = new Map([[DecodeHintType.POSSIBLE_FORMATS, [BarcodeFormat.CODE_128]]]);
  return new Code128Reader().decodeRow(20, image.getBlackRow(20, null), hints).getText();
}

// Member codes are 13 to 21 digits (kind, id length, id of 1 to 9 digits, step, MAC), coupon codes too.
const SAMPLES = ['8115' + '12345678', '81150012345678', '9912345678912345678', '891234567890123456789', '8210770412345678'];

describe('member code images', () => {
  test.each(SAMPLES)('the QR code of %s reads back as the same digits', (code) => {
    expect(readQr(code)).toBe(code);
  });

  test.each(SAMPLES)('the Code 128 barcode of %s reads back as the same digits', (code) => {
    expect(readBarcode(code)).toBe(code);
  });

  test('the QR image is a GIF data URL with the four-module quiet zone', () => {
    const url = codes.qrDataUrl('81150012345678');
    expect(url.startsWith('data:image/gif;base64,')).toBe(true);
    const gif = Buffer.from(url.split(',')[1], 'base64');
    const side = gif.readUInt16LE(6);
    const n = codes.qrMatrix('81150012345678').getModuleCount();
    expect(side).toBe((n + 8) * 8);
  });

  test('the vendored encoders are the npm packages, unmodified', () => {
    const pairs = [
      ['src/vendor/qrcode-generator/qrcode.js', 'node_modules/qrcode-generator/qrcode.js'],
      ['src/vendor/jsbarcode/Barcode.js', 'node_modules/jsbarcode/bin/barcodes/Barcode.js'],
      ...['CODE128.js', 'CODE128_AUTO.js', 'auto.js', 'constants.js'].map((f) => [
        `src/vendor/jsbarcode/CODE128/${f}`, `node_modules/jsbarcode/bin/barcodes/CODE128/${f}`]),
    ];
    const root = path.resolve(__dirname, '..');
    pairs.forEach(([ours, theirs]) => {
      expect(fs.readFileSync(path.join(root, ours), 'utf8')).toBe(fs.readFileSync(path.join(root, theirs), 'utf8'));
    });
  });

  test('digits are grouped by four for reading out', () => {
    expect(codes.grouped('81150012345678')).toBe('8115 0012 3456 78');
  });
});
