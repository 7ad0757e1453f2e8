// Display helpers: money is integer cents everywhere; times are shown in China's time.
function yuan(cents) {
  const value = Number(cents || 0);
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(value);
  return `${sign}¥${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

// 10000 → "100", 9950 → "99.5": an amount in yuan without its trailing zeros (chips, 充100送20).
function yuanShort(cents) {
  const value = Math.abs(Number(cents || 0));
  const whole = Math.floor(value / 100);
  const fen = value % 100;
  if (!fen) return String(whole);
  return `${whole}.${String(fen).padStart(2, '0').replace(/0$/, '')}`;
}

// What a shopper typed in yuan ("100", "99.5", "0.01") → integer fen; null unless it is a plain number
// with at most two decimals. Read digit by digit: 0.29 * 100 is not 29 in floating point.
function parseYuan(text) {
  const match = /^(\d{1,9})(?:\.(\d{0,2}))?$/.exec(String(text == null ? '' : text).trim());
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] || '').padEnd(2, '0'));
}

function pad(n) {
  return String(n).padStart(2, '0');
}

// ISO 8601 → "2026-12-02 20:15" in UTC+8, whatever the phone's zone.
function dateTime(iso) {
  if (!iso) return '';
  const t = new Date(new Date(iso).getTime() + 8 * 3600 * 1000);
  return `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())} ${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}`;
}

function date(iso) {
  return dateTime(iso).slice(0, 10);
}

// The last day an end at merchant midnight covers: "2027-01-02" for 2027-01-03 00:00 (有效期至 that day).
function lastDay(iso) {
  if (!iso) return '';
  return date(new Date(new Date(iso).getTime() - 1).toISOString());
}

function points(n) {
  return Number(n || 0).toLocaleString('en-US');
}

module.exports = { yuan, yuanShort, parseYuan, dateTime, date, lastDay, points };
