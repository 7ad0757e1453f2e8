// A QR code encoder (ISO/IEC 18004), error correction level M, versions 1 to 10: numeric mode for
// digits (a 21-digit member code fits version 1), byte mode (UTF-8) otherwise. Pure JS, so WeChat
// needs no canvas: the matrix becomes a PNG in utils/png.js.
const png = require('./png.js');


// Level M per version: EC codewords per block, then [block count, data codewords per block] groups.
const BLOCKS = [null,
  [10, [1, 16]], [16, [1, 28]], [26, [1, 44]], [18, [2, 32]], [24, [2, 43]],
  [16, [4, 27]], [18, [4, 31]], [22, [2, 38], [2, 39]], [22, [3, 36], [2, 37]], [26, [4, 43], [1, 44]],
];
const ALIGN = [null, [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34], [6, 22, 38], [6, 24, 42], [6, 26, 46],
  [6, 28, 50]];
const MAX_VERSION = 10;
const FORMAT_M = 0; // the two EC-level bits of the format information: L=1, M=0, Q=3, H=2

// GF(256) with the polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d).
const EXP = new Array(512);
const LOG = new Array(256);
(function tables() {
  let x = 1;
  for (let i = 0; i < 255; i += 1) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  for (let i = 255; i < 512; i += 1) EXP[i] = EXP[i - 255];
}());

function mul(a, b) {
  return a && b ? EXP[LOG[a] + LOG[b]] : 0;
}

// The generator polynomial (x - a^0)(x - a^1)...(x - a^(n-1)), highest degree first, leading 1 dropped.
function generator(n) {
  let poly = [1];
  for (let i = 0; i < n; i += 1) {
    const next = new Array(poly.length + 1).fill(0);
    for (let j = 0; j < poly.length; j += 1) {
      next[j] ^= poly[j];
      next[j + 1] ^= mul(poly[j], EXP[i]);
    }
    poly = next;
  }
  return poly.slice(1);
}

// The remainder of data * x^n divided by the generator: the Reed-Solomon EC codewords.
function reedSolomon(data, n) {
  const gen = generator(n);
  const rem = new Array(n).fill(0);
  data.forEach((byte) => {
    const factor = byte ^ rem.shift();
    rem.push(0);
    for (let i = 0; i < n; i += 1) rem[i] ^= mul(gen[i], factor);
  });
  return rem;
}

function utf8(text) {
  const out = [];
  const s = unescape(encodeURIComponent(text)); // each char is then one UTF-8 byte
  for (let i = 0; i < s.length; i += 1) out.push(s.charCodeAt(i));
  return out;
}

function dataCapacity(version) {
  return BLOCKS[version].slice(1).reduce((sum, g) => sum + g[0] * g[1], 0);
}

// The data bits: mode, count, payload; then terminator, byte padding and pad codewords.
function dataCodewords(text, version) {
  const bits = [];
  const put = (value, length) => { for (let i = length - 1; i >= 0; i -= 1) bits.push((value >>> i) & 1); };
  if (/^[0-9]*$/.test(text)) {
    put(1, 4);
    put(text.length, version < 10 ? 10 : 12);
    for (let i = 0; i < text.length; i += 3) {
      const group = text.substr(i, 3);
      put(parseInt(group, 10), group.length * 3 + 1); // 3 digits: 10 bits, 2: 7, 1: 4
    }
  } else {
    const bytes = utf8(text);
    put(4, 4);
    put(bytes.length, version < 10 ? 8 : 16);
    bytes.forEach((b) => put(b, 8));
  }
  const capacity = dataCapacity(version) * 8;
  if (bits.length > capacity) return null;
  put(0, Math.min(4, capacity - bits.length));
  while (bits.length % 8) bits.push(0);
  const words = [];
  for (let i = 0; i < bits.length; i += 8) words.push(parseInt(bits.slice(i, i + 8).join(''), 2));
  for (let pad = 0xec; words.length < capacity / 8; pad ^= 0xec ^ 0x11) words.push(pad);
  return words;
}

// Split into blocks, add EC to each, interleave data then EC column by column.
function interleave(words, version) {
  const ecLength = BLOCKS[version][0];
  const blocks = [];
  let at = 0;
  BLOCKS[version].slice(1).forEach((g) => {
    for (let i = 0; i < g[0]; i += 1) {
      const data = words.slice(at, at + g[1]);
      at += g[1];
      blocks.push({ data, ec: reedSolomon(data, ecLength) });
    }
  });
  const out = [];
  const longest = Math.max.apply(null, blocks.map((b) => b.data.length));
  for (let i = 0; i < longest; i += 1) blocks.forEach((b) => { if (i < b.data.length) out.push(b.data[i]); });
  for (let i = 0; i < ecLength; i += 1) blocks.forEach((b) => out.push(b.ec[i]));
  return out;
}

const MASKS = [
  (r, c) => (r + c) % 2 === 0,
  (r) => r % 2 === 0,
  (r, c) => c % 3 === 0,
  (r, c) => (r + c) % 3 === 0,
  (r, c) => (Math.floor(r / 2) + Math.floor(c / 3)) % 2 === 0,
  (r, c) => ((r * c) % 2) + ((r * c) % 3) === 0,
  (r, c) => (((r * c) % 2) + ((r * c) % 3)) % 2 === 0,
  (r, c) => (((r + c) % 2) + ((r * c) % 3)) % 2 === 0,
];

function bch(value, poly, degree) {
  let rem = value << degree;
  const top = Math.floor(Math.log2(poly));
  for (let i = Math.floor(Math.log2(rem)); i >= top; i -= 1) {
    if ((rem >>> i) & 1) rem ^= poly << (i - top);
  }
  return (value << degree) | rem;
}

// The matrix with function patterns drawn; `fixed` marks modules that data must skip.
function base(version) {
  const size = version * 4 + 17;
  const dark = [];
  const fixed = [];
  for (let r = 0; r < size; r += 1) {
    dark.push(new Array(size).fill(false));
    fixed.push(new Array(size).fill(false));
  }
  const set = (r, c, on) => { dark[r][c] = on; fixed[r][c] = true; };
  [[0, 0], [size - 7, 0], [0, size - 7]].forEach(([r0, c0]) => {
    for (let r = -1; r <= 7; r += 1) {
      for (let c = -1; c <= 7; c += 1) {
        const rr = r0 + r;
        const cc = c0 + c;
        if (rr < 0 || cc < 0 || rr >= size || cc >= size) continue;
        const ring = Math.max(Math.abs(r - 3), Math.abs(c - 3)); // 0..3 inside, 4 is the separator
        set(rr, cc, ring !== 2 && ring !== 4);
      }
    }
  });
  for (let i = 8; i < size - 8; i += 1) {
    set(6, i, i % 2 === 0);
    set(i, 6, i % 2 === 0);
  }
  const align = ALIGN[version];
  const last = align.length - 1;
  align.forEach((r0, i) => align.forEach((c0, j) => {
    if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) return; // finders
    for (let r = -2; r <= 2; r += 1) {
      for (let c = -2; c <= 2; c += 1) set(r0 + r, c0 + c, Math.max(Math.abs(r), Math.abs(c)) !== 1);
    }
  }));
  // Reserve the format areas (written after masking) and the dark module.
  for (let i = 0; i < 9; i += 1) {
    if (!fixed[8][i]) set(8, i, false);
    if (!fixed[i][8]) set(i, 8, false);
  }
  for (let i = 0; i < 8; i += 1) {
    set(8, size - 1 - i, false);
    set(size - 1 - i, 8, false);
  }
  set(size - 8, 8, true);
  if (version >= 7) {
    const bits = bch(version, 0x1f25, 12);
    for (let i = 0; i < 18; i += 1) {
      const on = ((bits >>> i) & 1) === 1;
      const a = size - 11 + (i % 3);
      const b = Math.floor(i / 3);
      set(a, b, on);
      set(b, a, on);
    }
  }
  return { size, dark, fixed };
}

function placeData(m, codewords) {
  let i = 0;
  const total = codewords.length * 8;
  for (let right = m.size - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5; // the vertical timing pattern
    const upward = ((right + 1) & 2) === 0;
    for (let v = 0; v < m.size; v += 1) {
      const r = upward ? m.size - 1 - v : v;
      for (let j = 0; j < 2; j += 1) {
        const c = right - j;
        if (m.fixed[r][c]) continue;
        m.dark[r][c] = i < total && ((codewords[i >>> 3] >>> (7 - (i & 7))) & 1) === 1;
        i += 1;
      }
    }
  }
}

function withMask(m, mask) {
  const dark = m.dark.map((row, r) => row.map((on, c) => (m.fixed[r][c] ? on : on !== MASKS[mask](r, c))));
  const bits = bch((FORMAT_M << 3) | mask, 0x537, 10) ^ 0x5412;
  const bit = (i) => ((bits >>> i) & 1) === 1;
  const size = m.size;
  for (let i = 0; i <= 5; i += 1) dark[i][8] = bit(i);
  dark[7][8] = bit(6);
  dark[8][8] = bit(7);
  dark[8][7] = bit(8);
  for (let i = 9; i < 15; i += 1) dark[8][14 - i] = bit(i);
  for (let i = 0; i < 8; i += 1) dark[8][size - 1 - i] = bit(i);
  for (let i = 8; i < 15; i += 1) dark[size - 15 + i][8] = bit(i);
  return dark;
}

// The standard's penalty: runs of five or more, 2x2 blocks, finder-like 1:1:3:1:1 runs, imbalance.
function penalty(dark) {
  const n = dark.length;
  let score = 0;
  const lines = [];
  for (let i = 0; i < n; i += 1) {
    lines.push(dark[i]);
    lines.push(dark.map((row) => row[i]));
  }
  lines.forEach((line) => {
    let run = 1;
    for (let i = 1; i <= n; i += 1) {
      if (i < n && line[i] === line[i - 1]) run += 1;
      else {
        if (run >= 5) score += run - 2;
        run = 1;
      }
    }
    // Outside the symbol is the light quiet zone.
    const s = '0000' + line.map((on) => (on ? '1' : '0')).join('') + '0000';
    ['10111010000', '00001011101'].forEach((pattern) => {
      for (let at = s.indexOf(pattern); at !== -1; at = s.indexOf(pattern, at + 1)) score += 40;
    });
  });
  let count = 0;
  for (let r = 0; r < n; r += 1) {
    for (let c = 0; c < n; c += 1) {
      if (dark[r][c]) count += 1;
      if (r < n - 1 && c < n - 1 && dark[r][c] === dark[r][c + 1] && dark[r][c] === dark[r + 1][c]
          && dark[r][c] === dark[r + 1][c + 1]) score += 3;
    }
  }
  score += Math.floor(Math.abs(count * 20 - n * n * 10) / (n * n)) * 10;
  return score;
}

// The QR code of `text` as rows of booleans (true = dark), without the quiet zone; the mask with the
// lowest penalty unless one is given.
function encode(text, onlyMask) {
  text = String(text);
  for (let version = 1; version <= MAX_VERSION; version += 1) {
    const words = dataCodewords(text, version);
    if (!words) continue;
    const m = base(version);
    placeData(m, interleave(words, version));
    let best = null;
    for (let mask = 0; mask < 8; mask += 1) {
      if (onlyMask !== undefined && mask !== onlyMask) continue;
      const dark = withMask(m, mask);
      const score = penalty(dark);
      if (!best || score < best.score) best = { dark, score };
    }
    return best.dark;
  }
  throw new Error('text too long for a version-10 QR code');
}

// A PNG data URL: `scale` pixels per module and the four-module quiet zone the standard asks for.
function dataUrl(text, scale) {
  scale = scale || 8;
  const m = encode(text);
  const quiet = 4;
  const side = (m.length + 2 * quiet) * scale;
  return png.dataUrl(side, side, (x, y) => {
    const r = Math.floor(y / scale) - quiet;
    const c = Math.floor(x / scale) - quiet;
    return r >= 0 && c >= 0 && r < m.length && c < m.length && m[r][c];
  });
}

module.exports = { encode, dataUrl, reedSolomon };
