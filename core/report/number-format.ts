/**
 * How a report prints numbers: durations as people read them, counts with thousands separators,
 * measured figures with a precision that depends on their size. Pure and locale-free, so the same
 * number always gives the same characters.
 */

/** What a report prints where summary.json holds `null` (JSON's spelling of NaN and ±Infinity). */
export const NOT_FINITE = 'NaN';

/** `1234567.8` → "1,234,568": rounded to an integer, comma-grouped. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return NOT_FINITE;
  const rounded = Math.round(n);
  const digits = String(Math.abs(rounded)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return rounded < 0 ? `-${digits}` : digits;
}

/**
 * Seconds as people read them: "0.14 s", "12.5 s", "5 min 39 s", "2 h 05 min". Rounded at the
 * last unit shown, carrying into the next (59.7 s → "1 min 00 s").
 */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return NOT_FINITE;
  if (seconds < 9.995) return `${seconds.toFixed(2)} s`;
  if (seconds < 59.95) return `${seconds.toFixed(1)} s`;
  const totalSeconds = Math.round(seconds);
  if (totalSeconds < 3600) {
    return `${Math.floor(totalSeconds / 60)} min ${pad2(totalSeconds % 60)} s`;
  }
  const totalMinutes = Math.round(seconds / 60);
  return `${Math.floor(totalMinutes / 60)} h ${pad2(totalMinutes % 60)} min`;
}

/** Images per second: a grouped integer from 100 on, else one decimal ("13,852", "42.5"). */
export function formatRate(perSecond: number | null): string {
  if (perSecond === null || !Number.isFinite(perSecond)) return NOT_FINITE;
  return Math.abs(perSecond) >= 99.95 ? formatCount(perSecond) : perSecond.toFixed(1);
}

/**
 * A measured figure: integers grouped ("2,000"), otherwise 1 decimal from 100 on ("-414.2"),
 * 2 decimals from 1 on ("88.18"), 3 significant digits below ("0.112", "0.0203"), and
 * exponent notation under 0.001 ("1.25e-5").
 */
export function formatFigure(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return NOT_FINITE;
  if (v === 0) return '0';
  if (Number.isInteger(v)) return formatCount(v);
  const a = Math.abs(v);
  if (a >= 99.95) return v.toFixed(1);
  if (a >= 0.9995) return v.toFixed(2);
  if (a >= 0.001) return v.toPrecision(3);
  return v.toExponential(2).replace(/\.?0+e/, 'e');
}

/** A fraction in [0, 1] as a percentage with one decimal: 0.682 → "68.2 %". */
export function formatPercent(fraction: number | null): string {
  if (fraction === null || !Number.isFinite(fraction)) return NOT_FINITE;
  return `${(fraction * 100).toFixed(1)} %`;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}
