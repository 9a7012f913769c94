/**
 * Times as the page shows them: local wall-clock time, 24-hour, with the date only when it
 * is not today, so a list of model versions trained minutes apart stays readable.
 */

const pad = (n: number): string => String(n).padStart(2, "0");

/** "14:03:05", or "2024-05-01 14:03:05" when `when` is not on the same local day as `now`. */
export function formatClock(when: Date, now: Date = new Date()): string {
  const time = `${pad(when.getHours())}:${pad(when.getMinutes())}:${pad(when.getSeconds())}`;
  const sameDay =
    when.getFullYear() === now.getFullYear() &&
    when.getMonth() === now.getMonth() &&
    when.getDate() === now.getDate();
  return sameDay ? time : `${formatDate(when)} ${time}`;
}

/** "2024-05-01" in local time. */
export function formatDate(when: Date): string {
  return `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())}`;
}
