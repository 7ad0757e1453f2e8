// The QR code and barcode PNGs the card shows are decoded by pngjs and read back by ZXing, a scanner
// library sharing no code with the encoders: what a store scanner reads is exactly the member code.
const { PNG } = require('pngjs');
const {
  BarcodeFormat, BinaryBitmap, BitMatrix, Code128Reader, DecodeHintType, HybridBinarizer, QRCodeReader, RGBLuminanceSource,
} = require('@zxing/library');
const QRDecoder = require('@zxing/library/cjs/core/qrcode/decoder/Decoder.js').default;
const qr = require('../src/utils/qr.js');
const barcode = require('../src/utils/barcode.js');
const png = require('../src/utils/png.js');

function decodePng(url) {
  expect(url.startsWith('data:image/png;base64,')).toBe(true);
  const image = PNG.sync.read(Buffer.from(url.split(',')[1], 'base64'));
  const grey = new Uint8ClampedArray(image.width * image.height);
  for (let i = 0; i < grey.length; i += 1) grey[i] = image.data[i * 4]; // RGBA, grey: R = G = B
  return { image, bitmap: new BinaryBitmap(new HybridBinarizer(new RGBLuminanceSource(grey, image.width, image.height))) };
}

function readQr(url) {
  return new QRCodeReader().decode(decodePng(url).bitmap).getText();
}

function readBarcode(url) {
  const { image, bitmap } = decodePng(url);
  const hints = new Map([[DecodeHintType.POSSIBLE_FORMATS, [BarcodeFormat.CODE_128]]]);
  const row = Math.floor(image.height / 2);
  return new Code128Reader().decodeRow(row, bitmap.getBlackRow(row, null), hints).getText();
}

// Member and coupon codes: kind, id length, id of 1 to 9 digits, step (2), MAC (8): 13 to 21 digits.
const SAMPLES = ['8151234567890', '81150012345678', '821234567890123', '9912345678912345678',
  '89123456789012345678', '891234567890123456789', '0000000000000'];

describe('member code images', () => {
  test.each(SAMPLES)('the QR code of %s reads back as the same digits', (code) => {
    expect(readQr(qr.dataUrl(code))).toBe(code);
  });

  test.each(SAMPLES)('the Code 128 barcode of %s reads back as the same digits', (code) => {
    expect(readBarcode(barcode.dataUrl(code))).toBe(code);
  });

  test('longer and non-digit text: byte mode QR and code set B', () => {
    const text = 'Member 会员 #42-ABC-' + '1234567890'.repeat(6);
    expect(readQr(qr.dataUrl(text))).toBe(text);
    expect(readBarcode(barcode.dataUrl('AB12345678cd9', 2))).toBe('AB12345678cd9');
  });

  // Versions 7 to 10 carry version information and blocks of two sizes. ZXing's QR decoder reads the
  // module matrix under each of the eight masks (its image detector trips over some version-8 images).
  test.each([[21, 21], [20, 25], [120, 45], [150, 49], [160, 53], [200, 57]])('%i characters (%i modules), every mask', (n, side) => {
    const text = n === 21 ? '891234567890123456789' : 'abcdefghij'.repeat(20).slice(0, n);
    for (let mask = 0; mask < 8; mask += 1) {
      const m = qr.encode(text, mask);
      expect(m.length).toBe(side);
      const matrix = new BitMatrix(side);
      m.forEach((row, r) => row.forEach((dark, c) => { if (dark) matrix.set(c, r); }));
      expect([mask, new QRDecoder().decodeBitMatrix(matrix).getText()]).toEqual([mask, text]);
    }
    expect(readQr(qr.dataUrl('abcdefghij'.repeat(20), 4))).toBe('abcdefghij'.repeat(20));
  });

  test('a 21-digit code is a version-1 QR code (21 modules) with the quiet zone around it', () => {
    expect(qr.encode('891234567890123456789').length).toBe(21);
    expect(qr.encode('1'.repeat(42)).length).toBe(25); // over version 1-M's 34 digits
    const { image } = decodePng(qr.dataUrl('81150012345678', 8));
    expect(image.width).toBe((21 + 8) * 8);
    expect(image.height).toBe(image.width);
  });

  test('digit pairs go in code set C: 14 digits are start C, 7 pairs, checksum and stop', () => {
    expect(barcode.values('81150012345678')).toEqual([105, 81, 15, 0, 12, 34, 56, 78]);
    expect(barcode.values('8115001234567')).toEqual([105, 81, 15, 0, 12, 34, 56, 100, 23]); // odd: last in B
    expect(barcode.encode('81150012345678').length).toBe(10 * 11 + 2);
    barcode.PATTERNS.forEach((p, v) => expect([v, p.split('').reduce((s, w) => s + Number(w), 0)])
      .toEqual([v, v === 106 ? 13 : 11]));
  });

  test('the PNG writer: CRC-32, Adler-32 and base64 match the reference values', () => {
    const bytes = Array.from(Buffer.from('123456789'));
    expect(png.crc32(bytes, 0, bytes.length)).toBe(0xcbf43926);
    expect(png.adler32(Array.from(Buffer.from('Wikipedia')))).toBe(0x11e60398);
    ['', 'f', 'fo', 'foo', 'foob', '会员码'].forEach((s) => {
      expect(png.base64(Array.from(Buffer.from(s)))).toBe(Buffer.from(s).toString('base64'));
    });
    // A wide image needs more than one 64 KB stored block; pngjs checks every CRC and the Adler-32.
    const url = png.dataUrl(2100, 260, (x, y) => (x + y) % 3 === 0);
    const { image } = decodePng(url);
    expect([image.width, image.height]).toEqual([2100, 260]);
    expect([image.data[0], image.data[4], image.data[(2100 * 1 + 2) * 4]]).toEqual([0, 255, 0]);
  });

  test('the page code does not use Buffer', () => {
    const fs = require('fs');
    ['qr.js', 'barcode.js', 'png.js'].forEach((f) => {
      expect(fs.readFileSync(require.resolve(`../src/utils/${f}`), 'utf8')).not.toMatch(/\bBuffer\.|\bbtoa\(|\bBuffer\(/);
    });
  });
});
