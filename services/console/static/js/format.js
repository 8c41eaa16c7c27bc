// Dates in Vietnam time, map links, numbers.

const TIME_ZONE = 'Asia/Ho_Chi_Minh';
const DATE_TIME = new Intl.DateTimeFormat('vi-VN', {
  timeZone: TIME_ZONE,
  day: '2-digit',
  month: '2-digit',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});
const TIME = new Intl.DateTimeFormat('vi-VN', { timeZone: TIME_ZONE, hour: '2-digit', minute: '2-digit', second: '2-digit' });
const NUMBER = new Intl.NumberFormat('vi-VN');

export function dateTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : DATE_TIME.format(d);
}

export function clock(date = new Date()) {
  return TIME.format(date);
}

export function number(n) {
  return NUMBER.format(Number(n) || 0);
}

/** How long ago, in words ("5 phút trước"). */
export function ago(iso, now = Date.now()) {
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 60) return 'vừa xong';
  if (s < 3600) return `${Math.floor(s / 60)} phút trước`;
  if (s < 86400) return `${Math.floor(s / 3600)} giờ trước`;
  return `${Math.floor(s / 86400)} ngày trước`;
}

export function mapLink(latitude, longitude) {
  const lat = Number(latitude).toFixed(6);
  const lon = Number(longitude).toFixed(6);
  return `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=17/${lat}/${lon}`;
}

/** A value of <input type="datetime-local"> read as Vietnam time (UTC+7, no daylight saving). */
export function localToIso(value) {
  return value ? `${value}:00+07:00` : null;
}

/** An ISO instant as the value of <input type="datetime-local"> in Vietnam time. */
export function isoToLocal(iso) {
  if (!iso) return '';
  const d = new Date(new Date(iso).getTime() + 7 * 3600 * 1000);
  return d.toISOString().slice(0, 16);
}

/** Overall progress of a campaign, 0–100; 100 only once the news service says it is finished. */
export function campaignPercent(state, progress, channels) {
  if (state === 'finished') return 100;
  if (!progress) return 0;
  const a = progress.article_broadcast ?? {};
  const d = progress.direct_messages ?? {};
  let total = 0;
  let done = 0;
  if (channels?.article !== false) {
    total += a.targeted ?? 0;
    done += Math.min(a.targeted ?? 0, (a.sent ?? 0) + (a.failed ?? 0) + (a.skipped ?? 0));
  }
  if (channels?.direct !== false) {
    total += d.reachable ?? 0;
    done += Math.min(d.reachable ?? 0, (d.sent ?? 0) + (d.failed ?? 0) + (d.skipped ?? 0));
  }
  if (!total) return 0;
  return Math.min(99, Math.floor((100 * done) / total));
}
