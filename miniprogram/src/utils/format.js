// Display helpers: money is integer cents everywhere; times are shown in China's time.
function yuan(cents) {
  const value = Number(cents || 0);
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(value);
  return `${sign}¥${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
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

function points(n) {
  return Number(n || 0).toLocaleString('en-US');
}

module.exports = { yuan, dateTime, date, points };
