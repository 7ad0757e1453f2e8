// Code 128 (ISO/IEC 15417): code set C packs digit pairs, code set B carries everything else
// (printable ASCII). Returns the modules (true = bar) with the checksum and the stop pattern.
const png = require('./png.js');

// Bar/space widths of the symbol values 0..106 (103-105: start A/B/C, 106: stop).
const PATTERNS = ('212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 '
  + '221312 231212 112232 122132 122231 113222 123122 123221 223211 221132 '
  + '221231 213212 223112 312131 311222 321122 321221 312212 322112 322211 '
  + '212123 212321 232121 111323 131123 131321 112313 132113 132311 211313 '
  + '231113 231311 112133 112331 132131 113123 113321 133121 313121 211331 '
  + '231131 213113 213311 213131 311123 311321 331121 312113 312311 332111 '
  + '314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 '
  + '112412 122114 122411 142112 142211 241211 221114 413111 241112 134111 '
  + '111242 121142 121241 114212 124112 124211 411212 421112 421211 212141 '
  + '214121 412121 111143 111341 131141 114113 114311 411113 411311 113141 '
  + '114131 311141 411131 211412 211214 211232 2331112').split(' ');
const START_B = 104;
const START_C = 105;
const CODE_B = 100;
const CODE_C = 99;

function digitRun(text, at) {
  let end = at;
  while (end < text.length && text[end] >= '0' && text[end] <= '9') end += 1;
  return end - at;
}

// The symbol values: set C for runs of 4+ digits (or a whole even digit string), B otherwise.
function values(text) {
  const out = [];
  let set = null;
  let i = 0;
  while (i < text.length) {
    const run = digitRun(text, i);
    if (run >= 4 || (run >= 2 && run === text.length)) {
      if (set !== 'C') out.push(set ? CODE_C : START_C);
      set = 'C';
      const pairs = Math.floor(run / 2);
      for (let p = 0; p < pairs; p += 1, i += 2) out.push(parseInt(text.substr(i, 2), 10));
      continue;
    }
    const ch = text.charCodeAt(i);
    if (ch < 32 || ch > 126) throw new Error('Code 128 here carries printable ASCII only');
    if (set !== 'B') out.push(set ? CODE_B : START_B);
    set = 'B';
    out.push(ch - 32);
    i += 1;
  }
  if (!out.length) out.push(START_B);
  return out;
}

function encode(text) {
  const symbols = values(String(text));
  const check = symbols.reduce((sum, v, i) => sum + v * (i || 1), 0) % 103;
  symbols.push(check, 106);
  const modules = [];
  symbols.forEach((v) => {
    PATTERNS[v].split('').forEach((w, k) => {
      for (let n = 0; n < Number(w); n += 1) modules.push(k % 2 === 0);
    });
  });
  return modules;
}

// A PNG data URL: `unit` pixels per module, a quiet zone of ten modules each side, `height` pixels tall.
function dataUrl(text, unit, height) {
  unit = unit || 3;
  height = height || 100;
  const modules = encode(text);
  const quiet = 10;
  const width = (modules.length + 2 * quiet) * unit;
  return png.dataUrl(width, height, (x) => {
    const m = Math.floor(x / unit) - quiet;
    return m >= 0 && m < modules.length && modules[m];
  });
}

module.exports = { encode, values, dataUrl, PATTERNS };
