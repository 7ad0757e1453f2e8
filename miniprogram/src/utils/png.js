// A minimal PNG writer: 1-bit greyscale, the zlib stream made of stored (uncompressed) deflate
// blocks, so it needs no compressor; base64 by hand, since WeChat has no Buffer or btoa.

const CRC_TABLE = (function table() {
  const t = [];
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t.push(c >>> 0);
  }
  return t;
}());

function crc32(bytes, from, to) {
  let c = 0xffffffff;
  for (let i = from; i < to; i += 1) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function adler32(bytes) {
  let a = 1;
  let b = 0;
  for (let i = 0; i < bytes.length; i += 1) {
    a = (a + bytes[i]) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function u32(out, v) {
  out.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

function chunk(out, type, data) {
  u32(out, data.length);
  const start = out.length;
  for (let i = 0; i < 4; i += 1) out.push(type.charCodeAt(i));
  for (let i = 0; i < data.length; i += 1) out.push(data[i]);
  u32(out, crc32(out, start, out.length));
}

function zlibStored(raw) {
  const out = [0x78, 0x01];
  for (let at = 0; at < raw.length || at === 0; at += 65535) {
    const len = Math.min(65535, raw.length - at);
    out.push(at + len >= raw.length ? 1 : 0, len & 0xff, len >>> 8, ~len & 0xff, (~len >>> 8) & 0xff);
    for (let i = 0; i < len; i += 1) out.push(raw[at + i]);
    if (len === 0) break;
  }
  u32(out, adler32(raw));
  return out;
}

// The PNG bytes of a width x height image; dark(x, y) says which pixels are black.
function encode(width, height, dark) {
  const stride = Math.ceil(width / 8);
  const raw = new Array((stride + 1) * height).fill(0);
  for (let y = 0; y < height; y += 1) {
    const row = y * (stride + 1); // filter byte 0 (none), then the bits, most significant first
    for (let x = 0; x < width; x += 1) {
      if (!dark(x, y)) raw[row + 1 + (x >>> 3)] |= 0x80 >>> (x & 7); // 1 = white
    }
  }
  const out = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  const header = [];
  u32(header, width);
  u32(header, height);
  header.push(1, 0, 0, 0, 0); // bit depth 1, greyscale, deflate, adaptive filtering, no interlace
  chunk(out, 'IHDR', header);
  chunk(out, 'IDAT', zlibStored(raw));
  chunk(out, 'IEND', []);
  return out;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function base64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
    s += ALPHABET[(n >>> 18) & 63] + ALPHABET[(n >>> 12) & 63]
      + (i + 1 < bytes.length ? ALPHABET[(n >>> 6) & 63] : '=')
      + (i + 2 < bytes.length ? ALPHABET[n & 63] : '=');
  }
  return s;
}

function dataUrl(width, height, dark) {
  return 'data:image/png;base64,' + base64(encode(width, height, dark));
}

module.exports = { encode, base64, dataUrl, crc32, adler32 };
